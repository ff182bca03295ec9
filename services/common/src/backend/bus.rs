//! The event bus: topics of keyed records, partitioned by key, consumed by groups that commit
//! offsets only after the records are stored.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::Producer;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

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

/// [`EventBus`] on Kafka: an idempotent, `acks=all` producer.
#[derive(Clone)]
pub struct KafkaBus {
    producer: FutureProducer,
    /// How long a publish may wait for room in the producer's bounded local queue.
    enqueue_timeout: Duration,
}

impl std::fmt::Debug for KafkaBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaBus").finish_non_exhaustive()
    }
}

impl KafkaBus {
    pub fn new(config: &KafkaConfig) -> Result<Self> {
        Ok(Self {
            producer: config.producer()?,
            enqueue_timeout: Duration::ZERO,
        })
    }

    pub fn producer(&self) -> &FutureProducer {
        &self.producer
    }
}

#[async_trait]
impl EventBus for KafkaBus {
    async fn publish(&self, record: BusRecord) -> Result<Delivery> {
        let mut headers = OwnedHeaders::new();
        for (key, value) in &record.headers {
            headers = headers.insert(Header {
                key,
                value: Some(value),
            });
        }
        let future = FutureRecord::to(&record.topic)
            .key(&record.key)
            .payload(record.payload.as_ref())
            .headers(headers);
        let delivery = self
            .producer
            .send(future, self.enqueue_timeout)
            .await
            .map_err(|(e, _)| Error::Kafka(e))?;
        Ok(Delivery {
            partition: delivery.partition,
            offset: delivery.offset,
        })
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
