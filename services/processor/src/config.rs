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
    /// (a replay chunk counts as one), e.g. `10000`. While a round is being stored, the rounds
    /// after it are held and stored together (see `backlog_batch_rows`).
    pub max_batch_rows: usize,
    /// ... or this many bytes of messages, e.g. `8388608`.
    pub max_batch_bytes: usize,
    /// ... or this long after it started, in milliseconds, e.g. `1000`.
    pub flush_interval_ms: u64,
    /// While a round is being stored, the rounds read and applied after it are held, up to this
    /// many events, and stored together as soon as it is in: under load the analytics store gets
    /// fewer, larger inserts (each insert has a fixed cost, and every part it leaves is merged
    /// later), e.g. `50000`. Not below `max_batch_rows`.
    pub backlog_batch_rows: usize,
    /// ... and up to this many bytes of messages, e.g. `33554432`. Not below `max_batch_bytes`.
    pub backlog_batch_bytes: usize,
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
            backlog_batch_rows: 50_000,
            backlog_batch_bytes: 32 * 1024 * 1024,
            session_timeout_secs: 1_800,
            thresholds: Thresholds::default(),
        }
    }
}

impl ProcessorConfig {
    /// The most events held while a round is stored: `backlog_batch_rows`, at least
    /// `max_batch_rows`.
    pub fn backlog_rows_limit(&self) -> usize {
        self.backlog_batch_rows.max(self.max_batch_rows).max(1)
    }

    /// The most bytes of messages held while a round is stored: `backlog_batch_bytes`, at least
    /// `max_batch_bytes`.
    pub fn backlog_bytes_limit(&self) -> usize {
        self.backlog_batch_bytes.max(self.max_batch_bytes).max(1)
    }
}
