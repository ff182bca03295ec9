//! The `processor` config section.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProcessorConfig {
    /// This shard's stable id, used as the Kafka static member id (`group.instance.id`), e.g. the
    /// StatefulSet pod name `gosight-processor-0`. Empty: dynamic membership.
    pub shard_id: String,
    /// Kafka consumer group shared by all shards, e.g. `gosight-processor`.
    pub group_id: String,
    /// Address of `/health` and `/ready`, e.g. `0.0.0.0:8083`.
    pub probe_listen: String,
}

impl Default for ProcessorConfig {
    fn default() -> Self {
        Self {
            shard_id: String::new(),
            group_id: "gosight-processor".into(),
            probe_listen: "127.0.0.1:8083".into(),
        }
    }
}
