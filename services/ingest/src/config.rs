//! The `ingest` config section.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Address of the HTTP endpoints (`/v1/events`, `/v1/replay`, probes), e.g. `0.0.0.0:8081`.
    pub http_listen: String,
    /// Address of the gRPC `IngestService`, e.g. `0.0.0.0:50051`.
    pub grpc_listen: String,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            http_listen: "127.0.0.1:8081".into(),
            grpc_listen: "127.0.0.1:50051".into(),
        }
    }
}
