//! `gosight migrate`: Kafka topics, then ClickHouse, then PostgreSQL.

use std::path::Path;
use std::process::ExitCode;

use gosight_common::migrate::{self, ClickHouseTarget, Migration, PostgresTarget};

use crate::cli::MigrateTarget;
use crate::config::Config;

fn migrations(dir: Option<&Path>, engine: &str) -> gosight_common::Result<Vec<Migration>> {
    match dir {
        Some(dir) => migrate::from_dir(&dir.join(engine)),
        None => migrate::embedded(engine),
    }
}

pub async fn run(
    config: &Config,
    only: Option<MigrateTarget>,
    dir: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let wants = |target| only.is_none_or(|o| o == target);
    if wants(MigrateTarget::Kafka) {
        let topics = config.kafka.topics.all();
        config
            .kafka
            .ensure_topics(&topics, config.kafka.partitions)
            .await?;
        tracing::info!(
            ?topics,
            partitions = config.kafka.partitions,
            "kafka topics ready"
        );
    }
    if wants(MigrateTarget::Clickhouse) {
        let target = ClickHouseTarget::new(config.clickhouse.clone());
        let report =
            migrate::run(&target, &migrations(dir, "clickhouse")?, &config.retention).await?;
        eprintln!(
            "clickhouse: {} applied, {} already applied, {} skipped",
            report.applied.len(),
            report.already_applied,
            report.skipped.len()
        );
    }
    if wants(MigrateTarget::Postgres) {
        let target = PostgresTarget::new(config.postgres.pool()?);
        let report =
            migrate::run(&target, &migrations(dir, "postgres")?, &config.retention).await?;
        eprintln!(
            "postgres: {} applied, {} already applied, {} skipped",
            report.applied.len(),
            report.already_applied,
            report.skipped.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
