//! The `api` config section.

use gosight_common::config::Secret;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Address of the REST API, the live WebSocket and the dashboard, e.g. `0.0.0.0:8082`.
    pub listen: String,
    /// Key signing access tokens (HS256), at least 32 bytes in production. Empty: a random key
    /// per start, which signs everyone out on restart.
    pub jwt_secret: Secret,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8082".into(),
            jwt_secret: Secret::default(),
        }
    }
}
