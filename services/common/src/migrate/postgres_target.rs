//! Migrations on PostgreSQL: history in `gosight_schema_migrations`; each file and its history
//! row commit together, under an advisory lock so two migrators never interleave.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{Migration, MigrationTarget};
use crate::error::Result;

/// Arbitrary constant naming GoSight's migration lock.
const LOCK_ID: i64 = 0x6705_1647;

#[derive(Debug)]
pub struct PostgresTarget {
    pool: deadpool_postgres::Pool,
}

impl PostgresTarget {
    pub fn new(pool: deadpool_postgres::Pool) -> Self {
        Self { pool }
    }
}

/// The server's message, with detail and position when it gave them.
fn describe(error: &tokio_postgres::Error) -> String {
    let Some(db) = error.as_db_error() else {
        return error.to_string();
    };
    let mut message = format!("{}: {}", db.severity(), db.message());
    if let Some(detail) = db.detail() {
        message.push_str(&format!(" ({detail})"));
    }
    if let Some(tokio_postgres::error::ErrorPosition::Original(pos)) = db.position() {
        message.push_str(&format!(" at character {pos}"));
    }
    message
}

#[async_trait]
impl MigrationTarget for PostgresTarget {
    fn engine(&self) -> &'static str {
        "postgres"
    }

    async fn prepare(&self) -> Result<()> {
        let client = self.pool.get().await?;
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS gosight_schema_migrations (
                    version integer PRIMARY KEY,
                    file text NOT NULL,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )",
            )
            .await?;
        Ok(())
    }

    async fn applied(&self) -> Result<BTreeMap<u32, String>> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT version, checksum FROM gosight_schema_migrations",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<_, i32>(0) as u32, r.get::<_, String>(1)))
            .collect())
    }

    async fn apply(&self, migration: &Migration, sql: &str) -> Result<(), String> {
        let mut client = self.pool.get().await.map_err(|e| e.to_string())?;
        let tx = client.transaction().await.map_err(|e| describe(&e))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_ID])
            .await
            .map_err(|e| describe(&e))?;
        let already: i64 = tx
            .query_one(
                "SELECT count(*) FROM gosight_schema_migrations WHERE version = $1",
                &[&(migration.version as i32)],
            )
            .await
            .map_err(|e| describe(&e))?
            .get(0);
        if already > 0 {
            // Another migrator applied it while this one waited for the lock.
            return Ok(());
        }
        tx.batch_execute(sql).await.map_err(|e| describe(&e))?;
        tx.execute(
            "INSERT INTO gosight_schema_migrations (version, file, checksum) VALUES ($1, $2, $3)",
            &[
                &(migration.version as i32),
                &migration.file,
                &migration.checksum,
            ],
        )
        .await
        .map_err(|e| describe(&e))?;
        tx.commit().await.map_err(|e| describe(&e))
    }
}
