//! PostgreSQL: the `postgres` config section and the connection pool constructor.

use std::str::FromStr;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use serde::{Deserialize, Serialize};
use tokio_postgres::NoTls;

use crate::config::{serialize_redacted_url, validate_url};
use crate::error::{ConfigError, Error, Result};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostgresConfig {
    /// Connection URL, e.g. `postgres://gosight:secret@postgres:5432/gosight`. Also set by
    /// `DATABASE_URL`. The password is redacted by `gosight config print`.
    #[serde(serialize_with = "serialize_redacted_url")]
    pub url: String,
    /// Most connections the pool opens, e.g. `16`.
    pub pool_size: usize,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        Self {
            url: "postgres://gosight:gosight@127.0.0.1:5432/gosight".into(),
            pool_size: 16,
        }
    }
}

impl PostgresConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_url("postgres.url", &self.url, &["postgres", "postgresql"])?;
        if self.pool_size == 0 {
            return Err(ConfigError::Invalid {
                key: "postgres.pool_size".into(),
                reason: "must be at least 1".into(),
            });
        }
        Ok(())
    }

    pub fn pg_config(&self) -> Result<tokio_postgres::Config> {
        tokio_postgres::Config::from_str(&self.url)
            .map_err(|e| Error::Invalid(format!("postgres.url: {e}")))
    }

    /// A pool of connections; connections are opened lazily on first use.
    pub fn pool(&self) -> Result<Pool> {
        let manager = Manager::from_config(
            self.pg_config()?,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        Pool::builder(manager)
            .max_size(self.pool_size)
            .build()
            .map_err(|e| Error::PostgresPool(e.to_string()))
    }

    /// The same server with another database, e.g. for a test's own database.
    pub fn with_database(&self, database: &str) -> Result<Self> {
        let mut url =
            url::Url::parse(&self.url).map_err(|e| Error::Invalid(format!("postgres.url: {e}")))?;
        url.set_path(&format!("/{database}"));
        Ok(Self {
            url: url.to_string(),
            pool_size: self.pool_size,
        })
    }
}
