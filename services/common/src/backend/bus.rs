//! The event bus: topics of keyed records, partitioned by key, consumed by groups that commit
//! offsets only after the records are stored.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::future::join_all;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::kafka::KafkaConfig;

/// One record to publish. Records with the same key land in the same partition, in order.
#[derive(Debug, Clone)]
pub struct BusRecord {
    pub topic: String,
    pub key: String,
    pub payload: Bytes,
    /// e.g. `traceparent` for trace context.
    pub headers: Vec<(String, Vec<u8>)>,
}

/// Where the bus stored a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    pub partition: i32,
    pub offset: i64,
}

/// A consumed record.
#[derive(Debug, Clone)]
pub struct BusMessage {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Bytes>,
    pub payload: Bytes,
    pub headers: Vec<(String, Vec<u8>)>,
}

impl BusMessage {
    /// An owned copy of a message read from Kafka.
    pub fn from_kafka(message: &impl rdkafka::Message) -> Self {
        let headers = message
            .headers()
            .map(|h| {
                h.iter()
                    .map(|header| {
                        (
                            header.key.to_string(),
                            header.value.map(<[u8]>::to_vec).unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        BusMessage {
            topic: message.topic().to_string(),
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().map(Bytes::copy_from_slice),
            payload: message
                .payload()
                .map(Bytes::copy_from_slice)
                .unwrap_or_default(),
            headers,
        }
    }
}

#[async_trait]
pub trait EventBus: Send + Sync {
    /// Resolves once the bus has durably stored the record.
    async fn publish(&self, record: BusRecord) -> Result<Delivery>;
    /// Publishes every record; resolves once the bus has durably stored all of them, or with
    /// an error if any was not (some of the others may be stored).
    async fn publish_all(&self, records: Vec<BusRecord>) -> Result<()> {
        for result in join_all(records.into_iter().map(|r| self.publish(r))).await {
            result?;
        }
        Ok(())
    }
    /// Whether the bus can take records now (for readiness and fast 503s).
    async fn check(&self) -> Result<()>;
}

/// A member of a consumer group on one bus. Offsets move only through [`BusConsumer::commit`]:
/// a new member of the same group resumes right after the last committed records, and gets
/// every record it had received but not committed again.
#[async_trait]
pub trait BusConsumer: Send + Sync {
    /// The next record of the subscribed topics; waits until one is there.
    async fn recv(&self) -> Result<BusMessage>;
    /// Commits, for each message, the offset after it: the group resumes past these messages.
    async fn commit(&self, processed: &[&BusMessage]) -> Result<()>;
    /// The group's committed offset (next offset to read) for partitions `0..partitions` of
    /// `topic`; `None` for a partition the group never committed.
    async fn committed(&self, topic: &str, partitions: i32) -> Result<Vec<(i32, Option<i64>)>>;
}

/// Deliveries outstanding for one publish call. librdkafka reports each message; the last report
/// completes the call, so a request of many records wakes its task once, not once per record.
struct Pending {
    remaining: AtomicUsize,
    outcome: Mutex<Outcome>,
}

/// What a publish call is answered with.
type Answer = std::result::Result<Delivery, KafkaError>;

struct Outcome {
    first_error: Option<KafkaError>,
    last: Option<Delivery>,
    done: Option<oneshot::Sender<Answer>>,
}

impl Pending {
    fn new(count: usize) -> (Arc<Self>, oneshot::Receiver<Answer>) {
        let (done, receiver) = oneshot::channel();
        let pending = Arc::new(Self {
            remaining: AtomicUsize::new(count),
            outcome: Mutex::new(Outcome {
                first_error: None,
                last: None,
                done: Some(done),
            }),
        });
        (pending, receiver)
    }

    /// Settles `count` records with `result`; the last one settled answers the caller.
    fn settle(&self, count: usize, result: Answer) {
        if count == 0 {
            return;
        }
        let mut outcome = self.outcome.lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(delivery) => outcome.last = Some(delivery),
            Err(error) => {
                outcome.first_error.get_or_insert(error);
            }
        }
        if self.remaining.fetch_sub(count, Ordering::AcqRel) != count {
            return;
        }
        let answer = match (outcome.first_error.take(), outcome.last) {
            (Some(error), _) => Err(error),
            (None, Some(delivery)) => Ok(delivery),
            (None, None) => Err(KafkaError::Canceled),
        };
        if let Some(done) = outcome.done.take() {
            let _ = done.send(answer);
        }
    }
}

/// The producer's context: routes each delivery report to its publish call.
struct DeliveryTracker;

impl ClientContext for DeliveryTracker {}

impl ProducerContext for DeliveryTracker {
    type DeliveryOpaque = Arc<Pending>;

    fn delivery(&self, result: &DeliveryResult<'_>, pending: Arc<Pending>) {
        use rdkafka::Message as _;
        let result = match result {
            Ok(message) => Ok(Delivery {
                partition: message.partition(),
                offset: message.offset(),
            }),
            Err((error, _)) => Err(error.clone()),
        };
        pending.settle(1, result);
    }
}

/// [`EventBus`] on Kafka: an idempotent, `acks=all` producer.
#[derive(Clone)]
pub struct KafkaBus {
    producer: Arc<ThreadedProducer<DeliveryTracker>>,
}

impl std::fmt::Debug for KafkaBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaBus").finish_non_exhaustive()
    }
}

impl KafkaBus {
    pub fn new(config: &KafkaConfig) -> Result<Self> {
        Ok(Self {
            producer: Arc::new(config.producer_with(DeliveryTracker)?),
        })
    }

    /// Hands the records to the producer's bounded local queue, then waits for the broker's
    /// acknowledgement of all of them. A full queue fails at once (the caller answers 503),
    /// never waits or grows.
    async fn send(&self, records: &[BusRecord]) -> Result<Delivery> {
        // No record, no delivery report: the call would never be answered.
        if records.is_empty() {
            return Err(Error::Invalid("no records to publish".into()));
        }
        let (pending, receiver) = Pending::new(records.len());
        for (sent, record) in records.iter().enumerate() {
            let mut headers = OwnedHeaders::new();
            for (key, value) in &record.headers {
                headers = headers.insert(Header {
                    key,
                    value: Some(value),
                });
            }
            let message = BaseRecord::with_opaque_to(&record.topic, pending.clone())
                .key(&record.key)
                .payload(record.payload.as_ref())
                .headers(headers);
            if let Err((error, _)) = self.producer.send(message) {
                // The records from here on were never queued: they settle now, with the error.
                pending.settle(records.len() - sent, Err(error));
                break;
            }
        }
        match receiver.await {
            Ok(result) => result.map_err(Error::Kafka),
            Err(_) => Err(Error::Kafka(KafkaError::Canceled)),
        }
    }
}

#[async_trait]
impl EventBus for KafkaBus {
    async fn publish(&self, record: BusRecord) -> Result<Delivery> {
        self.send(std::slice::from_ref(&record)).await
    }

    async fn publish_all(&self, records: Vec<BusRecord>) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        self.send(&records).await.map(|_| ())
    }

    async fn check(&self) -> Result<()> {
        let producer = self.producer.clone();
        // fetch_metadata blocks; keep it off the async workers.
        tokio::task::spawn_blocking(move || {
            producer
                .client()
                .fetch_metadata(None, Duration::from_secs(2))
                .map(|_| ())
        })
        .await
        .map_err(|e| Error::Invalid(format!("broker check task: {e}")))??;
        Ok(())
    }
}

/// A consumer-group member on Kafka. Offsets are committed only through [`Self::commit`].
pub struct KafkaBusConsumer {
    /// Shared so that [`BusConsumer::committed`] can run its blocking call off the async workers.
    consumer: Arc<StreamConsumer>,
}

impl std::fmt::Debug for KafkaBusConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaBusConsumer").finish_non_exhaustive()
    }
}

impl KafkaBusConsumer {
    pub fn new(
        config: &KafkaConfig,
        group_id: &str,
        instance_id: Option<&str>,
        topics: &[&str],
    ) -> Result<Self> {
        let consumer = config.consumer(group_id, instance_id)?;
        consumer.subscribe(topics)?;
        Ok(Self {
            consumer: Arc::new(consumer),
        })
    }

    pub async fn recv(&self) -> Result<BusMessage> {
        Ok(BusMessage::from_kafka(&self.consumer.recv().await?))
    }

    /// Commits, for each message, the offset after it: the group resumes past these messages.
    pub async fn commit(&self, processed: &[&BusMessage]) -> Result<()> {
        let mut list = TopicPartitionList::new();
        for message in processed {
            list.add_partition_offset(
                &message.topic,
                message.partition,
                Offset::Offset(message.offset + 1),
            )?;
        }
        self.consumer.commit(&list, CommitMode::Sync)?;
        Ok(())
    }

    /// The group's committed offset for each partition of `topic` (next offset to read).
    pub fn committed(&self, topic: &str, partitions: i32) -> Result<Vec<(i32, Option<i64>)>> {
        committed_offsets(&self.consumer, topic, partitions)
    }
}

#[async_trait]
impl BusConsumer for KafkaBusConsumer {
    async fn recv(&self) -> Result<BusMessage> {
        KafkaBusConsumer::recv(self).await
    }

    async fn commit(&self, processed: &[&BusMessage]) -> Result<()> {
        KafkaBusConsumer::commit(self, processed).await
    }

    async fn committed(&self, topic: &str, partitions: i32) -> Result<Vec<(i32, Option<i64>)>> {
        let consumer = Arc::clone(&self.consumer);
        let topic = topic.to_string();
        // committed_offsets waits for the group coordinator; keep it off the async workers.
        tokio::task::spawn_blocking(move || committed_offsets(&consumer, &topic, partitions))
            .await
            .map_err(|e| Error::Invalid(format!("committed offsets task: {e}")))?
    }
}

fn committed_offsets(
    consumer: &StreamConsumer,
    topic: &str,
    partitions: i32,
) -> Result<Vec<(i32, Option<i64>)>> {
    let mut list = TopicPartitionList::new();
    for partition in 0..partitions {
        list.add_partition(topic, partition);
    }
    let committed = consumer.committed_offsets(list, Duration::from_secs(10))?;
    Ok(committed
        .elements()
        .iter()
        .map(|e| {
            let offset = match e.offset() {
                Offset::Offset(o) => Some(o),
                _ => None,
            };
            (e.partition(), offset)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(offset: i64) -> Answer {
        Ok(Delivery {
            partition: 0,
            offset,
        })
    }

    #[test]
    fn the_last_report_answers_with_the_first_error() {
        let (pending, mut receiver) = Pending::new(3);
        pending.settle(1, delivery(7));
        pending.settle(1, Err(KafkaError::Canceled));
        assert!(receiver.try_recv().is_err(), "one record is still out");
        pending.settle(1, delivery(9));
        assert!(matches!(receiver.try_recv(), Ok(Err(KafkaError::Canceled))));
    }

    #[test]
    fn all_delivered_answers_with_a_delivery() {
        let (pending, mut receiver) = Pending::new(2);
        pending.settle(1, delivery(1));
        pending.settle(1, delivery(2));
        assert!(matches!(
            receiver.try_recv(),
            Ok(Ok(Delivery { offset: 2, .. }))
        ));
    }

    #[test]
    fn records_never_queued_settle_at_once() {
        let (pending, mut receiver) = Pending::new(5);
        pending.settle(1, delivery(1));
        pending.settle(1, delivery(2));
        pending.settle(3, Err(KafkaError::Canceled));
        assert!(matches!(receiver.try_recv(), Ok(Err(KafkaError::Canceled))));
    }
}
