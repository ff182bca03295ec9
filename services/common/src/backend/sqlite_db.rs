//! One SQLite database file as the embedded backends use it: a writer connection and a fixed
//! pool of read-only readers (WAL, so readers never wait for the writer), with the numbered
//! migrations of one `sql/sqlite/<name>` directory applied on open through the shared migration
//! runner (history in `gosight_schema_migrations`, checksums checked).
//!
//! rusqlite is synchronous: every statement runs on the blocking thread pool, never on the
//! async runtime; a task waiting for the writer or for a free reader waits asynchronously.
//! Durability: WAL with `synchronous = NORMAL` keeps every committed transaction through a crash
//! of the process (`kill -9`); `FULL` also through a power loss.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{Mutex, Semaphore};

use crate::error::{Error, Result};
use crate::migrate::{self, SqliteTarget};

/// Read-only connections per database.
pub const READERS: usize = 4;
/// How long a statement waits for another process's write lock before failing as busy.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How committed transactions reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Survives a crash of the process.
    #[default]
    Process,
    /// Survives a crash of the machine (an fsync per transaction).
    Machine,
}

/// Cheap to clone: clones share the connections.
#[derive(Clone)]
pub struct SqliteDb {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    durability: Durability,
    writer: Arc<Mutex<Connection>>,
    /// Idle readers; a reader is taken out while a statement runs on it.
    readers: std::sync::Mutex<Vec<Connection>>,
    /// One permit per reader, so a read waits (asynchronously) for a free connection.
    reader_slots: Arc<Semaphore>,
}

impl std::fmt::Debug for SqliteDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteDb")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

fn configure(conn: &Connection, durability: Durability) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let sync = match durability {
        Durability::Process => "NORMAL",
        Durability::Machine => "FULL",
    };
    conn.pragma_update(None, "synchronous", sync)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "cache_size", -16_000)?;
    Ok(())
}

/// A reader: opened read-write (a WAL reader writes the shared-memory index) but refusing to
/// change the database.
fn open_reader(path: &Path, durability: Durability) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&conn, durability)?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

fn task_failed(error: tokio::task::JoinError) -> Error {
    Error::Task(error.to_string())
}

/// Files written by releases that counted applied migrations in `PRAGMA user_version` (the
/// first N files of the directory) get those N recorded in `gosight_schema_migrations`, so the
/// runner continues after them instead of applying them again.
fn adopt_user_version(conn: &mut Connection, migrations: &[migrate::Migration]) -> Result<()> {
    let counted: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let has_history: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE name = 'gosight_schema_migrations'",
        [],
        |r| r.get(0),
    )?;
    if counted <= 0 || has_history {
        return Ok(());
    }
    let counted = usize::try_from(counted).unwrap_or(usize::MAX);
    if counted > migrations.len() {
        return Err(Error::Invalid(format!(
            "sqlite: the file has {counted} migrations applied, this build knows {}",
            migrations.len()
        )));
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch(migrate::SQLITE_HISTORY_TABLE)?;
    for migration in &migrations[..counted] {
        tx.execute(
            "INSERT INTO gosight_schema_migrations (version, file, checksum) VALUES (?1, ?2, ?3)",
            rusqlite::params![migration.version, migration.file, migration.checksum],
        )?;
    }
    tx.pragma_update(None, "user_version", 0)?;
    tx.commit()?;
    Ok(())
}

impl SqliteDb {
    /// Opens (creating it and its directory if needed) the database at `path` and applies the
    /// migrations of `sql/<migrations>` (e.g. `sqlite/metadata`) it does not have yet.
    pub async fn open(path: &Path, durability: Durability, migrations: &str) -> Result<Self> {
        let path = path.to_path_buf();
        let opened = path.clone();
        let files = migrate::embedded(migrations)?;
        let legacy = files.clone();
        let (writer, readers) = tokio::task::spawn_blocking(move || {
            if let Some(dir) = opened.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let mut writer = Connection::open(&opened)?;
            configure(&writer, durability)?;
            let mode: String =
                writer.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(Error::Invalid(format!(
                    "sqlite {}: journal mode {mode}, WAL needed",
                    opened.display()
                )));
            }
            adopt_user_version(&mut writer, &legacy)?;
            let readers = (0..READERS)
                .map(|_| open_reader(&opened, durability))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok::<_, Error>((writer, readers))
        })
        .await
        .map_err(task_failed)??;
        let writer = Arc::new(Mutex::new(writer));
        migrate::run(
            &SqliteTarget::new(writer.clone()),
            &files,
            &crate::retention::RetentionConfig::default(),
        )
        .await?;
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                durability,
                writer,
                readers: std::sync::Mutex::new(readers),
                reader_slots: Arc::new(Semaphore::new(READERS)),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on the writer connection (writes are serialised).
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let mut connection = self.inner.writer.clone().lock_owned().await;
        tokio::task::spawn_blocking(move || f(&mut connection))
            .await
            .map_err(task_failed)?
    }

    /// Runs `f` on a reader connection: it sees the last committed state.
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let permit = self
            .inner
            .reader_slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| Error::Task(e.to_string()))?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let idle = inner
                .readers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            // A reader is missing only if a statement on it panicked; open a replacement.
            let connection = match idle {
                Some(connection) => connection,
                None => open_reader(&inner.path, inner.durability)?,
            };
            let result = f(&connection);
            inner
                .readers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(connection);
            result
        })
        .await
        .map_err(task_failed)?
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn a_file_counting_migrations_in_user_version_is_adopted_not_migrated_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("analytics.db");
        let files = migrate::embedded("sqlite/analytics").unwrap();
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(&files[0].sql).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
        }
        let db = SqliteDb::open(&path, Durability::Process, "sqlite/analytics")
            .await
            .unwrap();
        let (history, counted): (Vec<String>, i64) = db
            .write(|c| {
                let mut s = c.prepare("SELECT file FROM gosight_schema_migrations ORDER BY 1")?;
                let files = s
                    .query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                Ok((
                    files,
                    c.pragma_query_value(None, "user_version", |r| r.get(0))?,
                ))
            })
            .await
            .unwrap();
        let expected: Vec<String> = files.iter().map(|m| m.file.clone()).collect();
        assert_eq!(history, expected);
        assert_eq!(counted, 0);
    }

    #[tokio::test]
    async fn a_file_from_a_newer_build_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("analytics.db");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let error = SqliteDb::open(&path, Durability::Process, "sqlite/analytics")
            .await
            .unwrap_err();
        assert!(error.to_string().contains("99 migrations"), "{error}");
    }
}
