//! Migrations on ClickHouse: history in `<database>.schema_migrations`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::Deserialize;

use super::{Migration, MigrationTarget, split_statements};
use crate::clickhouse::ClickHouseConfig;
use crate::error::Result;

#[derive(Debug)]
pub struct ClickHouseTarget {
    config: ClickHouseConfig,
}

impl ClickHouseTarget {
    pub fn new(config: ClickHouseConfig) -> Self {
        Self { config }
    }
}

#[derive(Debug, Deserialize, clickhouse::Row)]
struct Applied {
    version: u32,
    checksum: String,
}

#[async_trait]
impl MigrationTarget for ClickHouseTarget {
    fn engine(&self) -> &'static str {
        "clickhouse"
    }

    async fn prepare(&self) -> Result<()> {
        self.config.validate()?;
        self.config
            .server_client()
            .query(&format!(
                "CREATE DATABASE IF NOT EXISTS {}",
                self.config.database
            ))
            .execute()
            .await?;
        self.config
            .client()
            .query(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                    version UInt32,
                    file String,
                    checksum String,
                    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
                ) ENGINE = ReplacingMergeTree(applied_at) ORDER BY version",
            )
            .execute()
            .await?;
        Ok(())
    }

    async fn applied(&self) -> Result<BTreeMap<u32, String>> {
        let rows = self
            .config
            .client()
            .query("SELECT version, checksum FROM schema_migrations FINAL ORDER BY version")
            .fetch_all::<Applied>()
            .await?;
        Ok(rows.into_iter().map(|r| (r.version, r.checksum)).collect())
    }

    async fn apply(&self, migration: &Migration, sql: &str) -> Result<(), String> {
        let client = self.config.client();
        for statement in split_statements(sql) {
            // `?` is the clickhouse crate's bind marker; SQL files must not bind anything.
            client
                .query(&statement.replace('?', "??"))
                .execute()
                .await
                .map_err(|e| e.to_string())?;
        }
        client
            .query("INSERT INTO schema_migrations (version, file, checksum) VALUES (?, ?, ?)")
            .bind(migration.version)
            .bind(&migration.file)
            .bind(&migration.checksum)
            .execute()
            .await
            .map_err(|e| format!("recording the migration: {e}"))
    }
}
