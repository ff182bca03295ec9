//! Helpers for tests against the real engines that `scripts/services.sh` starts.
//!
//! Addresses come from `KAFKA_BROKERS`, `CLICKHOUSE_URL`, `DATABASE_URL` and `REDIS_URL` with the
//! same localhost defaults as the services, so the tests run against any real deployment too.
//! Every test makes its own topic and databases (named `test_<random>`), so tests run in parallel.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::clickhouse::ClickHouseConfig;
use crate::error::Result;
use crate::kafka::KafkaConfig;
use crate::postgres::PostgresConfig;
use crate::redis::RedisConfig;

/// A name no other test uses, e.g. `test_3f9a0c1d2e4b5a69`.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{:016x}", rand::random::<u64>())
}

/// Applies every embedded migration of `engine` to `target`, with the default retention.
async fn migrate_all(target: &dyn crate::migrate::MigrationTarget, engine: &str) -> Result<()> {
    let migrations = crate::migrate::embedded(engine)?;
    crate::migrate::run(
        target,
        &migrations,
        &crate::retention::RetentionConfig::default(),
    )
    .await?;
    Ok(())
}

/// The engines' addresses.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Engines {
    pub kafka: KafkaConfig,
    pub clickhouse: ClickHouseConfig,
    pub postgres: PostgresConfig,
    pub redis: RedisConfig,
}

impl Engines {
    /// Reads the conventional variables of the test process.
    pub fn from_env() -> Self {
        let env: HashMap<String, String> = std::env::vars()
            .filter(|(k, _)| crate::config::CONVENTIONAL_ENV.iter().any(|(v, _)| v == k))
            .collect();
        crate::config::load(None, &env).unwrap_or_else(|e| panic!("test engine addresses: {e}"))
    }

    /// A fresh ClickHouse database; the returned config points at it.
    pub async fn clickhouse_database(&self) -> Result<ClickHouseConfig> {
        let mut config = self.clickhouse.clone();
        config.database = unique_name("test");
        config
            .server_client()
            .query(&format!("CREATE DATABASE {}", config.database))
            .execute()
            .await?;
        Ok(config)
    }

    pub async fn drop_clickhouse_database(&self, config: &ClickHouseConfig) -> Result<()> {
        config
            .server_client()
            .query(&format!("DROP DATABASE IF EXISTS {}", config.database))
            .execute()
            .await?;
        Ok(())
    }

    /// A fresh PostgreSQL database; the returned config points at it.
    pub async fn postgres_database(&self) -> Result<PostgresConfig> {
        let name = unique_name("test");
        let admin = self.postgres.with_database("postgres")?.pool()?;
        admin
            .get()
            .await?
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await?;
        self.postgres.with_database(&name)
    }

    pub async fn drop_postgres_database(&self, config: &PostgresConfig) -> Result<()> {
        let name = config
            .pg_config()?
            .get_dbname()
            .unwrap_or_default()
            .to_string();
        let admin = self.postgres.with_database("postgres")?.pool()?;
        admin
            .get()
            .await?
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await?;
        Ok(())
    }

    /// A fresh PostgreSQL database with GoSight's migrations applied.
    pub async fn migrated_postgres(&self) -> Result<PostgresConfig> {
        let config = self.postgres_database().await?;
        let target = crate::migrate::PostgresTarget::new(config.pool()?);
        migrate_all(&target, "postgres").await?;
        Ok(config)
    }

    /// A fresh ClickHouse database with GoSight's migrations applied (default retention).
    pub async fn migrated_clickhouse(&self) -> Result<ClickHouseConfig> {
        let mut config = self.clickhouse.clone();
        config.database = unique_name("test");
        let target = crate::migrate::ClickHouseTarget::new(config.clone());
        migrate_all(&target, "clickhouse").await?;
        Ok(config)
    }

    /// The Kafka config with a fresh, prefixed set of every GoSight topic, created with
    /// `partitions` partitions.
    pub async fn kafka_with_topics(&self, partitions: i32) -> Result<KafkaConfig> {
        let mut config = self.kafka.clone();
        config.topics = crate::kafka::Topics::prefixed(&format!("{}.", unique_name("t")));
        config
            .ensure_topics(&config.topics.all(), partitions)
            .await?;
        Ok(config)
    }

    /// A fresh topic with `partitions` partitions.
    pub async fn kafka_topic(&self, partitions: i32) -> Result<String> {
        let name = unique_name("test");
        self.kafka.ensure_topics(&[&name], partitions).await?;
        Ok(name)
    }
}
