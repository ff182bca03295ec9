//! The `alerts` config section.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Kafka consumer group of the alerting service, e.g. `gosight-alerts`.
    pub group_id: String,
    /// Address of `/health` and `/ready`, e.g. `0.0.0.0:8084`.
    pub probe_listen: String,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            group_id: "gosight-alerts".into(),
            probe_listen: "127.0.0.1:8084".into(),
        }
    }
}
