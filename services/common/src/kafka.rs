//! Kafka: the `kafka` config section and constructors for producers, consumers and topics.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::FromClientConfigAndContext;
use rdkafka::consumer::StreamConsumer;
use rdkafka::producer::FutureProducer;
use rdkafka::types::RDKafkaErrorCode;
use serde::{Deserialize, Serialize, Serializer};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Comma-separated bootstrap brokers, e.g. `kafka-0:9092,kafka-1:9092`.
    /// Also set by the `KAFKA_BROKERS` environment variable.
    pub brokers: String,
    /// Client id reported to the brokers, e.g. `gosight-ingest`.
    pub client_id: String,
    /// Topic names.
    pub topics: Topics,
    /// Partitions for topics GoSight creates itself (`gosight migrate`), e.g. `12`. The
    /// processor's shard count can grow up to this number.
    pub partitions: i32,
    /// Replication factor for topics GoSight creates, e.g. `3` in production.
    pub replication_factor: i32,
    /// How long the producer waits to fill a batch, in milliseconds, e.g. `1`. Under load batches
    /// fill before it expires; at low rates it is added to every reply, so keep it small.
    pub linger_ms: u32,
    /// Compression of produced batches: `none`, `gzip`, `snappy`, `lz4` or `zstd`.
    pub compression: Compression,
    /// How long a produced message may wait for the broker's acknowledgement before it fails,
    /// in milliseconds, e.g. `10000`.
    pub message_timeout_ms: u32,
    /// Bound of the producer's local queue in messages; a full queue answers 503, never grows.
    pub queue_max_messages: u32,
    /// Bound of the producer's local queue in KiB.
    pub queue_max_kbytes: u32,
    /// Largest message GoSight produces (librdkafka `message.max.bytes`), and what the topics it
    /// creates accept (`max.message.bytes`), in bytes, e.g. `2097152`. It must leave room for
    /// the envelope above `ingest.max_replay_body_bytes` and `ingest.max_message_bytes`. Topics
    /// created by other means need `max.message.bytes` raised to match: Kafka's default is 1 MiB,
    /// which a replay chunk at the ingest's default limit exceeds.
    pub message_max_bytes: u32,
    /// How long topics GoSight creates keep messages (`retention.ms`), in milliseconds, e.g.
    /// `604800000` for 7 days. Unset: the broker's default (Apache Kafka's is 7 days). Messages
    /// must stay long enough for a processor that was down to read them after it restarts.
    /// Topics that exist already keep their settings.
    pub retention_ms: Option<u64>,
    /// How often topics GoSight creates roll a new log segment (`segment.ms`), in milliseconds.
    /// A broker deletes whole segments, on its own schedule (Kafka's
    /// `log.retention.check.interval.ms`, 5 minutes by default), so messages live at least
    /// `retention_ms` and up to about this much longer. Unset: the broker's default (7 days).
    pub segment_ms: Option<u64>,
    /// Extra librdkafka properties, e.g. `security.protocol: SASL_SSL`. Values of keys that
    /// contain `password`, `secret` or `key` are redacted by `gosight config print`.
    #[serde(serialize_with = "serialize_redacted_properties")]
    pub librdkafka: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            brokers: "127.0.0.1:9092".into(),
            client_id: "gosight".into(),
            topics: Topics::default(),
            partitions: 12,
            replication_factor: 1,
            linger_ms: 1,
            compression: Compression::Lz4,
            message_timeout_ms: 10_000,
            queue_max_messages: 100_000,
            queue_max_kbytes: 256 * 1024,
            message_max_bytes: 2 * 1024 * 1024,
            retention_ms: None,
            segment_ms: None,
            librdkafka: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Topics {
    /// Every accepted event, keyed `<project_id>:<session_id>`.
    pub events_raw: String,
    /// Replay chunks, keyed by session id.
    pub replay_chunks: String,
    /// JS and network errors (also in `events_raw`), for alerting.
    pub events_errors: String,
    /// UX insights found by the processor, for alerting.
    pub insights: String,
}

impl Default for Topics {
    fn default() -> Self {
        Self {
            events_raw: "gosight.events.raw".into(),
            replay_chunks: "gosight.replay.chunks".into(),
            events_errors: "gosight.events.errors".into(),
            insights: "gosight.insights".into(),
        }
    }
}

impl Topics {
    /// Topic names with `prefix` put in front, for a test's own set of topics.
    pub fn prefixed(prefix: &str) -> Self {
        let base = Self::default();
        Self {
            events_raw: format!("{prefix}{}", base.events_raw),
            replay_chunks: format!("{prefix}{}", base.replay_chunks),
            events_errors: format!("{prefix}{}", base.events_errors),
            insights: format!("{prefix}{}", base.insights),
        }
    }

    pub fn all(&self) -> [&str; 4] {
        [
            &self.events_raw,
            &self.replay_chunks,
            &self.events_errors,
            &self.insights,
        ]
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Compression {
    fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

fn serialize_redacted_properties<S: Serializer>(
    map: &BTreeMap<String, String>,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    let redacted: BTreeMap<&str, &str> = map
        .iter()
        .map(|(k, v)| {
            let lower = k.to_ascii_lowercase();
            let secret = ["password", "secret", "key"]
                .iter()
                .any(|word| lower.contains(word));
            (k.as_str(), if secret { "<redacted>" } else { v.as_str() })
        })
        .collect();
    redacted.serialize(serializer)
}

impl KafkaConfig {
    fn base(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("client.id", &self.client_id);
        for (key, value) in &self.librdkafka {
            config.set(key, value);
        }
        config
    }

    /// An idempotent producer with `acks=all`: a delivery report means the brokers have the
    /// message, in order per partition, without duplicates from the producer's own retries.
    pub fn producer(&self) -> Result<FutureProducer> {
        self.producer_with(DefaultClientContext)
    }

    /// [`Self::producer`]'s settings on a producer with its own context (delivery handling).
    pub fn producer_with<C, P>(&self, context: C) -> Result<P>
    where
        P: FromClientConfigAndContext<C>,
        C: ClientContext,
    {
        let mut config = self.base();
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("compression.type", self.compression.as_str())
            .set("linger.ms", self.linger_ms.to_string())
            .set("message.timeout.ms", self.message_timeout_ms.to_string())
            .set("message.max.bytes", self.message_max_bytes.to_string())
            .set(
                "queue.buffering.max.messages",
                self.queue_max_messages.to_string(),
            )
            .set(
                "queue.buffering.max.kbytes",
                self.queue_max_kbytes.to_string(),
            );
        Ok(config.create_with_context(context)?)
    }

    /// A consumer in `group_id` that never commits by itself: the caller commits offsets once
    /// everything derived from them is stored. `instance_id` turns on static membership, so a
    /// restarted member gets its partitions back without a rebalance.
    pub fn consumer(&self, group_id: &str, instance_id: Option<&str>) -> Result<StreamConsumer> {
        let mut config = self.base();
        config
            .set("group.id", group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("partition.assignment.strategy", "roundrobin")
            .set("session.timeout.ms", "10000");
        if let Some(id) = instance_id {
            config.set("group.instance.id", id);
        }
        Ok(config.create()?)
    }

    pub fn admin(&self) -> Result<AdminClient<DefaultClientContext>> {
        Ok(self.base().create()?)
    }

    /// Creates the topics that do not exist yet, with `partitions` partitions each, accepting
    /// messages up to `message_max_bytes` and keeping them as `retention_ms` and `segment_ms`
    /// say. Topics that exist are left as they are.
    pub async fn ensure_topics(&self, names: &[&str], partitions: i32) -> Result<()> {
        let admin = self.admin()?;
        let settings = self.topic_settings();
        let topics: Vec<NewTopic<'_>> = names
            .iter()
            .map(|name| {
                settings.iter().fold(
                    NewTopic::new(
                        name,
                        partitions,
                        TopicReplication::Fixed(self.replication_factor),
                    ),
                    |topic, (key, value)| topic.set(key, value),
                )
            })
            .collect();
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        for result in admin.create_topics(&topics, &options).await? {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => {
                    return Err(Error::Invalid(format!("create topic {topic}: {code}")));
                }
            }
        }
        Ok(())
    }

    /// Topic-level settings of the topics GoSight creates.
    fn topic_settings(&self) -> Vec<(&'static str, String)> {
        let mut settings = vec![("max.message.bytes", self.message_max_bytes.to_string())];
        if let Some(ms) = self.retention_ms {
            settings.push(("retention.ms", ms.to_string()));
        }
        if let Some(ms) = self.segment_ms {
            settings.push(("segment.ms", ms.to_string()));
        }
        settings
    }

    /// Deletes topics; missing ones are ignored.
    pub async fn delete_topics(&self, names: &[&str]) -> Result<()> {
        let admin = self.admin()?;
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        for result in admin.delete_topics(names, &options).await? {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::UnknownTopicOrPartition)) => {}
                Err((topic, code)) => {
                    return Err(Error::Invalid(format!("delete topic {topic}: {code}")));
                }
            }
        }
        Ok(())
    }
}
