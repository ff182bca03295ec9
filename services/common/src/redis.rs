//! Redis: the `redis` config section and the client constructors.

use fred::prelude::{Builder, Client, ClientLike, Config};
use serde::{Deserialize, Serialize};

use crate::config::{serialize_redacted_url, validate_url};
use crate::error::{ConfigError, Result};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// Connection URL, e.g. `redis://redis:6379/0`. Also set by `REDIS_URL`.
    #[serde(serialize_with = "serialize_redacted_url")]
    pub url: String,
    /// How long one command may take, in milliseconds, e.g. `1000`. Callers fall back (local
    /// rate limits, skipped live updates) rather than wait on an unreachable Redis.
    pub command_timeout_ms: u64,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".into(),
            command_timeout_ms: 1000,
        }
    }
}

impl RedisConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_url(
            "redis.url",
            &self.url,
            &["redis", "rediss", "redis-sentinel"],
        )
    }

    /// A client, connected. Reconnects by itself after the server went away.
    pub async fn connect(&self) -> Result<Client> {
        let config = Config::from_url(&self.url)?;
        let client = Builder::from_config(config)
            .with_connection_config(|c| {
                c.connection_timeout = std::time::Duration::from_secs(5);
            })
            .with_performance_config(|c| {
                c.default_command_timeout =
                    std::time::Duration::from_millis(self.command_timeout_ms);
            })
            .set_policy(fred::types::config::ReconnectPolicy::new_exponential(
                0, 100, 5_000, 2,
            ))
            .build()?;
        client.init().await?;
        Ok(client)
    }
}
