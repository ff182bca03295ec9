//! Migrations on an embedded SQLite file: history in `gosight_schema_migrations`; each file and
//! its history row commit together in one `BEGIN IMMEDIATE` transaction, which also keeps two
//! processes opening the same file from applying a file twice.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::Mutex;

use super::{Migration, MigrationTarget};
use crate::error::{Error, Result};

/// The history table, created on first use.
pub const HISTORY_TABLE: &str = "CREATE TABLE IF NOT EXISTS gosight_schema_migrations (
    version INTEGER PRIMARY KEY,
    file TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT";

/// A SQLite database reached through one connection that the target shares with its owner.
#[derive(Debug, Clone)]
pub struct SqliteTarget {
    connection: Arc<Mutex<Connection>>,
}

impl SqliteTarget {
    pub fn new(connection: Arc<Mutex<Connection>>) -> Self {
        Self { connection }
    }

    /// Runs `f` on the connection on a blocking thread.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let mut connection = self.connection.clone().lock_owned().await;
        tokio::task::spawn_blocking(move || f(&mut connection))
            .await
            .map_err(|e| Error::Task(e.to_string()))?
    }
}

#[async_trait]
impl MigrationTarget for SqliteTarget {
    fn engine(&self) -> &'static str {
        "sqlite"
    }

    async fn prepare(&self) -> Result<()> {
        self.with(|c| {
            c.execute_batch(HISTORY_TABLE)?;
            Ok(())
        })
        .await
    }

    async fn applied(&self) -> Result<BTreeMap<u32, String>> {
        self.with(|c| {
            let mut statement =
                c.prepare("SELECT version, checksum FROM gosight_schema_migrations")?;
            let rows =
                statement.query_map([], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    async fn apply(&self, migration: &Migration, sql: &str) -> Result<(), String> {
        let (version, file, checksum, sql) = (
            migration.version,
            migration.file.clone(),
            migration.checksum.clone(),
            sql.to_string(),
        );
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let already: i64 = tx.query_row(
                "SELECT count(*) FROM gosight_schema_migrations WHERE version = ?1",
                [version],
                |r| r.get(0),
            )?;
            if already > 0 {
                // Another process applied it while this one waited for the write lock.
                return Ok(());
            }
            tx.execute_batch(&sql)?;
            tx.execute(
                "INSERT INTO gosight_schema_migrations (version, file, checksum) VALUES (?1, ?2, ?3)",
                rusqlite::params![version, file, checksum],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
        .map_err(|e| match e {
            Error::Sqlite(e) => e.to_string(),
            other => other.to_string(),
        })
    }
}
