//! The `processor` config section.

use serde::{Deserialize, Serialize};

use crate::detect::Thresholds;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProcessorConfig {
    /// This shard's stable id, used as the Kafka static member id (`group.instance.id`), e.g. the
    /// StatefulSet pod name `gosight-processor-0`. A restarted shard with the same id gets its
    /// partitions back without a rebalance. Empty: dynamic membership.
    pub shard_id: String,
    /// Kafka consumer group shared by all shards, e.g. `gosight-processor`.
    pub group_id: String,
    /// Address of `/health` and `/ready`, e.g. `0.0.0.0:8083`.
    pub probe_listen: String,
    /// A round ends (rows written, offsets committed) once its messages carry this many events
    /// (a replay chunk counts as one), e.g. `10000`.
    pub max_batch_rows: usize,
    /// ... or this many bytes of messages, e.g. `8388608`.
    pub max_batch_bytes: usize,
    /// ... or this long after it started, in milliseconds, e.g. `1000`.
    pub flush_interval_ms: u64,
    /// A session without events for this long ends: final row written, memory freed.
    pub session_timeout_secs: u64,
    /// Insight thresholds (defaults in `detect`'s documentation).
    pub thresholds: Thresholds,
}

impl Default for ProcessorConfig {
    fn default() -> Self {
        Self {
            shard_id: String::new(),
            group_id: "gosight-processor".into(),
            probe_listen: "127.0.0.1:8083".into(),
            max_batch_rows: 10_000,
            max_batch_bytes: 8 * 1024 * 1024,
            flush_interval_ms: 1_000,
            session_timeout_secs: 1_800,
            thresholds: Thresholds::default(),
        }
    }
}
