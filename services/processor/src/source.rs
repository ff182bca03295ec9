//! Where a shard reads from: a consumer-group member on the bus, with what the shard needs to
//! know about ownership — which partitions it lost since it last asked, and whether a message
//! was already in its partition when the shard got it (an earlier owner may have processed it).
//!
//! [`KafkaSource`] is the distributed one (rebalances, static membership, high watermarks read
//! once per assignment); standalone mode has its own on the embedded bus.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use gosight_common::backend::{BusConsumer, BusMessage};
use gosight_common::kafka::KafkaConfig;
use rdkafka::consumer::{CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use crate::config::ProcessorConfig;
use crate::error::ProcessorError;

#[async_trait]
pub trait ShardSource: Send {
    /// The next message of an assigned partition.
    async fn recv(&mut self) -> Result<BusMessage, ProcessorError>;
    /// Partitions revoked since the last call: what was read from them and not committed is
    /// dropped (their new owner reads it again).
    fn take_revoked(&self) -> Vec<(String, i32)>;
    /// Whether the message at `offset` may have been processed by an earlier owner of the
    /// partition (one that crashed or handed it over before committing). When unsure, yes.
    fn maybe_seen(&self, topic: &str, partition: i32, offset: i64) -> bool;
    /// Commits, for each (topic, partition), the offset after `offset`. A refused commit is not
    /// an error the shard can act on: the messages are read again and fold.
    async fn commit(&self, offsets: &HashMap<(String, i32), i64>) -> Result<(), ProcessorError>;
}

/// A shard on any [`BusConsumer`] that is the only member of its group (standalone mode's
/// embedded bus): it owns every partition for its whole life, so nothing is ever revoked. What
/// it reads after a restart was read before the crash, possibly processed but not committed, so
/// every message counts as possibly seen (the stored-event check is a primary-key lookup there).
#[derive(Debug)]
pub struct SoleMemberSource<C> {
    consumer: C,
}

impl<C: BusConsumer> SoleMemberSource<C> {
    pub fn new(consumer: C) -> Self {
        Self { consumer }
    }
}

#[async_trait]
impl<C: BusConsumer + 'static> ShardSource for SoleMemberSource<C> {
    async fn recv(&mut self) -> Result<BusMessage, ProcessorError> {
        Ok(self.consumer.recv().await?)
    }

    fn take_revoked(&self) -> Vec<(String, i32)> {
        Vec::new()
    }

    fn maybe_seen(&self, _topic: &str, _partition: i32, _offset: i64) -> bool {
        true
    }

    async fn commit(&self, offsets: &HashMap<(String, i32), i64>) -> Result<(), ProcessorError> {
        let marks: Vec<BusMessage> = offsets
            .iter()
            .map(|((topic, partition), offset)| BusMessage {
                topic: topic.clone(),
                partition: *partition,
                offset: *offset,
                key: None,
                payload: Bytes::new(),
                headers: Vec::new(),
            })
            .collect();
        let marks: Vec<&BusMessage> = marks.iter().collect();
        Ok(self.consumer.commit(&marks).await?)
    }
}

/// Remembers partitions revoked during a round, and for each assigned partition its high
/// watermark when it was assigned (read on its first message).
#[derive(Debug, Default)]
pub struct ShardContext {
    revoked: Mutex<Vec<(String, i32)>>,
    assigned: Mutex<HashMap<(String, i32), Option<i64>>>,
}

impl ClientContext for ShardContext {}

impl ConsumerContext for ShardContext {
    fn pre_rebalance(&self, _: &rdkafka::consumer::BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            let mut revoked = self.revoked.lock().unwrap_or_else(|p| p.into_inner());
            let mut assigned = self.assigned.lock().unwrap_or_else(|p| p.into_inner());
            for element in list.elements() {
                let key = (element.topic().to_string(), element.partition());
                assigned.remove(&key);
                revoked.push(key);
            }
            tracing::info!(partitions = list.count(), "partitions revoked");
        }
    }

    fn post_rebalance(&self, _: &rdkafka::consumer::BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(list) = rebalance {
            let mut assigned = self.assigned.lock().unwrap_or_else(|p| p.into_inner());
            for element in list.elements() {
                assigned
                    .entry((element.topic().to_string(), element.partition()))
                    .or_insert(None);
            }
        }
    }
}

/// A member of the processor's consumer group on Kafka, subscribed to the raw events and replay
/// chunks topics. With a shard id it is a static member (`group.instance.id`): restarted within
/// the session timeout, it gets its partitions back without a rebalance.
pub struct KafkaSource {
    consumer: StreamConsumer<ShardContext>,
}

impl std::fmt::Debug for KafkaSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSource").finish_non_exhaustive()
    }
}

impl KafkaSource {
    pub fn new(config: &ProcessorConfig, kafka: &KafkaConfig) -> Result<Self, ProcessorError> {
        let mut client = rdkafka::ClientConfig::new();
        client
            .set("bootstrap.servers", &kafka.brokers)
            .set("client.id", &kafka.client_id)
            .set("group.id", &config.group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("partition.assignment.strategy", "roundrobin")
            .set("session.timeout.ms", "10000")
            .set("max.poll.interval.ms", "300000");
        for (key, value) in &kafka.librdkafka {
            client.set(key, value);
        }
        if !config.shard_id.is_empty() {
            client.set("group.instance.id", &config.shard_id);
        }
        let consumer: StreamConsumer<ShardContext> =
            client.create_with_context(ShardContext::default())?;
        consumer.subscribe(&[&kafka.topics.events_raw, &kafka.topics.replay_chunks])?;
        Ok(Self { consumer })
    }
}

#[async_trait]
impl ShardSource for KafkaSource {
    async fn recv(&mut self) -> Result<BusMessage, ProcessorError> {
        Ok(BusMessage::from_kafka(&self.consumer.recv().await?))
    }

    fn take_revoked(&self) -> Vec<(String, i32)> {
        std::mem::take(
            &mut *self
                .consumer
                .context()
                .revoked
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        )
    }

    /// Below the partition's high watermark as read on its first message after assignment; if
    /// it cannot be read, yes.
    fn maybe_seen(&self, topic: &str, partition: i32, offset: i64) -> bool {
        let key = (topic.to_string(), partition);
        let context = self.consumer.context();
        let known = context
            .assigned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .copied()
            .flatten();
        let high = match known {
            Some(high) => high,
            None => match self
                .consumer
                .fetch_watermarks(topic, partition, Duration::from_secs(5))
            {
                Ok((_, high)) => {
                    context
                        .assigned
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(key, Some(high));
                    high
                }
                Err(error) => {
                    tracing::warn!(topic, partition, %error, "cannot read the high watermark");
                    return true;
                }
            },
        };
        offset < high
    }

    async fn commit(&self, offsets: &HashMap<(String, i32), i64>) -> Result<(), ProcessorError> {
        let mut list = TopicPartitionList::new();
        for ((topic, partition), offset) in offsets {
            list.add_partition_offset(topic, *partition, Offset::Offset(offset + 1))?;
        }
        // A commit refused because the group is rebalancing is not fatal: the rows are stored,
        // and the partition's new owner re-reads from the last commit; its copies fold by event
        // id and its sessions skip what their stored rows already count.
        if let Err(error) = self.consumer.commit(&list, CommitMode::Sync) {
            metrics::counter!("gosight_processor_commit_errors_total").increment(1);
            tracing::warn!(%error, "offset commit refused; the messages will be read again");
        }
        Ok(())
    }
}
