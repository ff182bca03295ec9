//! `gosight migrate`: numbered SQL files applied in order, once each.
//!
//! One runner serves ClickHouse, PostgreSQL and the embedded SQLite files, so every engine
//! gets the same rules:
//!
//! - Files are named `NNNN_description.sql` and applied in version order. Each applied version is
//!   recorded with the file's checksum in the target's history table; re-running is a no-op.
//! - A file that fails stops the run with its name and the server's message, and nothing is
//!   recorded for it. On PostgreSQL the file and its history row share one transaction. ClickHouse
//!   has no DDL transactions, so its files use `IF NOT EXISTS` and can be re-applied after a fix.
//! - A recorded file whose contents changed is an error: applied migrations are never edited,
//!   a new file is added instead.
//! - `{{events_ttl_days}}`, `{{replay_ttl_days}}` are filled from the retention config. A file whose
//!   first lines contain `-- gosight: requires replay` is skipped (and not recorded) in
//!   `analytics_only` mode, so switching to a mode with replays later applies it.

use std::collections::BTreeMap;
use std::path::Path;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::retention::RetentionConfig;

mod clickhouse_target;
mod postgres_target;
mod split;
mod sqlite_target;

pub use clickhouse_target::ClickHouseTarget;
pub use postgres_target::PostgresTarget;
pub use split::split_statements;
pub use sqlite_target::{HISTORY_TABLE as SQLITE_HISTORY_TABLE, SqliteTarget};

/// The migrations shipped inside the binary.
pub static EMBEDDED: include_dir::Dir<'static> =
    include_dir::include_dir!("$CARGO_MANIFEST_DIR/../../sql");

const REQUIRES_REPLAY: &str = "-- gosight: requires replay";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub version: u32,
    /// File name, e.g. `0001_events.sql`.
    pub file: String,
    pub sql: String,
    pub checksum: String,
    pub requires_replay: bool,
}

impl Migration {
    fn parse(file: &str, sql: &str) -> Result<Self> {
        let digits: String = file.chars().take_while(char::is_ascii_digit).collect();
        let version = digits
            .parse::<u32>()
            .ok()
            .filter(|_| file[digits.len()..].starts_with('_'))
            .ok_or_else(|| Error::Migration {
                file: file.to_string(),
                message: "file name must look like NNNN_description.sql".into(),
            })?;
        let requires_replay = sql
            .lines()
            .take_while(|l| l.starts_with("--"))
            .any(|l| l.trim() == REQUIRES_REPLAY);
        Ok(Self {
            version,
            file: file.to_string(),
            sql: sql.to_string(),
            checksum: hex(&Sha256::digest(sql.as_bytes())),
            requires_replay,
        })
    }

    /// The SQL with placeholders filled in.
    pub fn render(&self, retention: &RetentionConfig) -> Result<String> {
        let replay = retention.replay_days().unwrap_or(0).to_string();
        let events = retention.events_days().to_string();
        let rendered = self
            .sql
            .replace("{{events_ttl_days}}", &events)
            .replace("{{replay_ttl_days}}", &replay);
        if let Some(start) = rendered.find("{{") {
            let end = rendered[start..]
                .find("}}")
                .map_or(rendered.len(), |e| start + e + 2);
            return Err(Error::Migration {
                file: self.file.clone(),
                message: format!("unknown placeholder {}", &rendered[start..end]),
            });
        }
        Ok(rendered)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Sorts and checks a set of files: versions unique, `.sql` only.
fn collect(files: Vec<(String, String)>) -> Result<Vec<Migration>> {
    let mut by_version: BTreeMap<u32, Migration> = BTreeMap::new();
    for (file, sql) in files {
        if !file.ends_with(".sql") {
            continue;
        }
        let migration = Migration::parse(&file, &sql)?;
        if let Some(other) = by_version.get(&migration.version) {
            return Err(Error::Migration {
                file,
                message: format!(
                    "version {} is also used by {}",
                    migration.version, other.file
                ),
            });
        }
        by_version.insert(migration.version, migration);
    }
    Ok(by_version.into_values().collect())
}

/// The embedded migrations for `engine`: its directory under `sql/`, e.g. `clickhouse`,
/// `postgres` or `sqlite/metadata`.
pub fn embedded(engine: &str) -> Result<Vec<Migration>> {
    let dir = EMBEDDED
        .get_dir(engine)
        .ok_or_else(|| Error::Invalid(format!("no embedded migrations for {engine}")))?;
    let files = dir
        .files()
        .filter_map(|f| {
            let name = f.path().file_name()?.to_str()?.to_string();
            Some((name, f.contents_utf8()?.to_string()))
        })
        .collect();
    collect(files)
}

/// The migrations in a directory on disk, e.g. `sql/postgres`.
pub fn from_dir(dir: &Path) -> Result<Vec<Migration>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        files.push((name.to_string(), std::fs::read_to_string(&path)?));
    }
    collect(files)
}

/// Where migrations are applied.
#[async_trait]
pub trait MigrationTarget: Send + Sync {
    /// The engine's name, for messages.
    fn engine(&self) -> &'static str;
    /// Creates the database (if the engine has one to create) and the history table.
    async fn prepare(&self) -> Result<()>;
    /// Applied versions and their checksums.
    async fn applied(&self) -> Result<BTreeMap<u32, String>>;
    /// Applies one rendered file and records it; on error records nothing and returns the
    /// server's message.
    async fn apply(&self, migration: &Migration, sql: &str) -> Result<(), String>;
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub applied: Vec<String>,
    pub skipped: Vec<String>,
    pub already_applied: usize,
}

/// Applies what is not applied yet, in order. Stops at the first failing file.
pub async fn run(
    target: &dyn MigrationTarget,
    migrations: &[Migration],
    retention: &RetentionConfig,
) -> Result<Report> {
    target.prepare().await?;
    let applied = target.applied().await?;
    let mut report = Report::default();
    for migration in migrations {
        if let Some(checksum) = applied.get(&migration.version) {
            if *checksum != migration.checksum {
                return Err(Error::Migration {
                    file: migration.file.clone(),
                    message: format!(
                        "was changed after it was applied to {}; add a new migration instead",
                        target.engine()
                    ),
                });
            }
            report.already_applied += 1;
            continue;
        }
        if migration.requires_replay && retention.replay_days().is_none() {
            tracing::info!(file = %migration.file, "skipped: the deployment mode keeps no replays");
            report.skipped.push(migration.file.clone());
            continue;
        }
        let sql = migration.render(retention)?;
        target
            .apply(migration, &sql)
            .await
            .map_err(|message| Error::Migration {
                file: migration.file.clone(),
                message,
            })?;
        tracing::info!(engine = target.engine(), file = %migration.file, "migration applied");
        report.applied.push(migration.file.clone());
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retention::DeploymentMode;

    #[test]
    fn embedded_migrations_parse_in_order() {
        for engine in ["clickhouse", "postgres"] {
            let migrations = embedded(engine).unwrap();
            assert!(!migrations.is_empty(), "{engine}");
            assert!(migrations.windows(2).all(|w| w[0].version < w[1].version));
            for m in &migrations {
                m.render(&RetentionConfig::default()).unwrap();
            }
        }
    }

    #[test]
    fn bad_names_and_duplicate_versions_are_errors() {
        let err = collect(vec![("init.sql".into(), String::new())]).unwrap_err();
        assert!(err.to_string().contains("init.sql"), "{err}");
        let err = collect(vec![
            ("0001_a.sql".into(), String::new()),
            ("0001_b.sql".into(), String::new()),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("0001_a.sql"), "{err}");
    }

    #[test]
    fn placeholders_follow_the_mode() {
        let m = Migration::parse(
            "0002_replay.sql",
            "-- gosight: requires replay\nTTL x + INTERVAL {{replay_ttl_days}} DAY",
        )
        .unwrap();
        assert!(m.requires_replay);
        let optimized = RetentionConfig {
            mode: DeploymentMode::ReplayOptimized,
            ..Default::default()
        };
        assert!(m.render(&optimized).unwrap().contains("INTERVAL 14 DAY"));
        assert!(
            m.render(&RetentionConfig::default())
                .unwrap()
                .contains("INTERVAL 90 DAY")
        );
        let unknown = Migration::parse("0003_x.sql", "SELECT {{nope}}").unwrap();
        assert!(
            unknown
                .render(&optimized)
                .unwrap_err()
                .to_string()
                .contains("{{nope}}")
        );
    }
}
