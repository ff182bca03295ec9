//! ClickHouse: the `clickhouse` config section and the client constructor.

use serde::{Deserialize, Serialize};

use crate::config::{Secret, serialize_redacted_url, validate_url};
use crate::error::ConfigError;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClickHouseConfig {
    /// HTTP interface, e.g. `http://clickhouse:8123`. Also set by `CLICKHOUSE_URL`.
    #[serde(serialize_with = "serialize_redacted_url")]
    pub url: String,
    /// Database holding GoSight's tables, e.g. `gosight`. Created by `gosight migrate`.
    pub database: String,
    /// User name, e.g. `default`.
    pub user: String,
    /// Password of `user`; empty for none.
    pub password: Secret,
}

impl Default for ClickHouseConfig {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:8123".into(),
            database: "gosight".into(),
            user: "default".into(),
            password: Secret::default(),
        }
    }
}

impl ClickHouseConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_url("clickhouse.url", &self.url, &["http", "https"])?;
        validate_identifier("clickhouse.database", &self.database)
    }

    /// A client whose queries run in [`Self::database`].
    pub fn client(&self) -> clickhouse::Client {
        self.server_client().with_database(&self.database)
    }

    /// A client without a default database, for creating and dropping databases.
    pub fn server_client(&self) -> clickhouse::Client {
        let mut client = clickhouse::Client::default()
            .with_url(&self.url)
            .with_user(&self.user);
        if !self.password.is_empty() {
            client = client.with_password(self.password.expose());
        }
        client
    }
}

/// Database and table names go into DDL unquoted; allow only what needs no quoting.
pub fn validate_identifier(key: &str, name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        return Ok(());
    }
    Err(ConfigError::Invalid {
        key: key.to_string(),
        reason: format!("`{name}` must be 1-64 letters, digits or `_`, not starting with a digit"),
    })
}
