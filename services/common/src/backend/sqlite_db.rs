//! One SQLite database file shared by the embedded backends: a writer connection and a small
//! pool of readers (WAL, so readers never wait for the writer), with numbered migrations
//! applied once on open (`PRAGMA user_version` counts the applied ones).
//!
//! rusqlite is synchronous: every statement runs on the blocking thread pool, never on the
//! async runtime. Durability: WAL with `synchronous = NORMAL` keeps every committed
//! transaction through a crash of the process (`kill -9`); `FULL` also through a power loss.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use crate::error::{Error, Result};

/// Most idle reader connections kept open.
const MAX_IDLE_READERS: usize = 8;

/// How committed transactions reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Survives a crash of the process.
    #[default]
    Process,
    /// Survives a crash of the machine (an fsync per transaction).
    Machine,
}

#[derive(Clone)]
pub struct SqliteDb {
    path: PathBuf,
    durability: Durability,
    writer: Arc<Mutex<Connection>>,
    readers: Arc<Mutex<Vec<Connection>>>,
}

impl std::fmt::Debug for SqliteDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteDb")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn configure(conn: &Connection, durability: Durability) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    let sync = match durability {
        Durability::Process => "NORMAL",
        Durability::Machine => "FULL",
    };
    conn.pragma_update(None, "synchronous", sync)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "cache_size", -16_000)?;
    Ok(())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl SqliteDb {
    /// Opens (creating it if needed) the database at `path` and applies the `migrations` not
    /// yet applied, in order, each in its own transaction.
    pub fn open(path: &Path, durability: Durability, migrations: &[&str]) -> Result<Self> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)?;
        }
        let mut writer = Connection::open(path)?;
        configure(&writer, durability)?;
        let applied: i64 = writer.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let applied = usize::try_from(applied).unwrap_or(0);
        if applied > migrations.len() {
            return Err(Error::Invalid(format!(
                "{} was written by a newer GoSight (schema version {applied}, this one knows {})",
                path.display(),
                migrations.len()
            )));
        }
        for (index, sql) in migrations.iter().enumerate().skip(applied) {
            let tx = writer.transaction()?;
            tx.execute_batch(sql).map_err(|e| Error::Migration {
                file: format!("{} #{}", path.display(), index + 1),
                message: e.to_string(),
            })?;
            tx.pragma_update(None, "user_version", (index + 1) as i64)?;
            tx.commit()?;
        }
        Ok(Self {
            path: path.to_path_buf(),
            durability,
            writer: Arc::new(Mutex::new(writer)),
            readers: Arc::new(Mutex::new(Vec::new())),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the writer connection (writes are serialised).
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let writer = self.writer.clone();
        tokio::task::spawn_blocking(move || f(&mut lock(&writer)))
            .await
            .map_err(|e| Error::Invalid(format!("sqlite task failed: {e}")))?
    }

    /// Runs `f` on a reader connection: it sees the last committed state.
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let idle = lock(&db.readers).pop();
            let conn = match idle {
                Some(conn) => conn,
                None => {
                    let conn = Connection::open(&db.path)?;
                    configure(&conn, db.durability)?;
                    conn
                }
            };
            let result = f(&conn);
            let mut readers = lock(&db.readers);
            if readers.len() < MAX_IDLE_READERS {
                readers.push(conn);
            }
            result
        })
        .await
        .map_err(|e| Error::Invalid(format!("sqlite task failed: {e}")))?
    }
}
