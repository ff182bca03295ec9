//! Running the long-lived components until SIGTERM or Ctrl-C.

use std::process::ExitCode;

use std::sync::Arc;

use gosight_common::backend::{ClickHouseStore, KafkaBus, PostgresMetadata, RedisFanout};
use gosight_common::health::{Health, serve_probes};
use gosight_common::shutdown;
use gosight_ingest::Dependencies;
use tokio_util::sync::CancellationToken;

use crate::config::Config;

async fn probes_only(component: &'static str, addr: &str) -> anyhow::Result<ExitCode> {
    let health = Health::default();
    let token = CancellationToken::new();
    shutdown::on_signal(token.clone(), health.clone());
    tracing::info!(component, %addr, "serving probes");
    serve_probes(addr, health, token).await?;
    tracing::info!(component, "stopped");
    Ok(ExitCode::SUCCESS)
}

pub async fn ingest(config: Config) -> anyhow::Result<ExitCode> {
    let health = Health::default();
    let token = CancellationToken::new();
    shutdown::on_signal(token.clone(), health.clone());
    let redis = match config.redis.connect().await {
        Ok(client) => Some(client),
        Err(error) => {
            tracing::warn!(%error, "redis unreachable; rate limits apply per replica");
            None
        }
    };
    let deps = Dependencies {
        metadata: Arc::new(PostgresMetadata::new(config.postgres.pool()?)),
        bus: Arc::new(KafkaBus::new(&config.kafka)?),
        topics: config.kafka.topics.clone(),
        redis,
        replay_enabled: config.retention.replay_days().is_some(),
    };
    let server = gosight_ingest::start(config.ingest.clone(), deps, health, token).await?;
    server.stopped.await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn processor(config: Config) -> anyhow::Result<ExitCode> {
    let health = Health::default();
    health.register("shard");
    let token = CancellationToken::new();
    shutdown::on_signal(token.clone(), health.clone());
    let processor = config.processor.clone();
    tracing::info!(shard_id = %processor.shard_id, "processor starting");
    gosight_common::metrics::handle();
    let shard = gosight_processor::spawn(
        processor,
        config.kafka.clone(),
        config.clickhouse.clone(),
        config.redis.clone(),
        // Per-project insight settings; the pool connects lazily, on the shard's thread.
        Arc::new(PostgresMetadata::new(config.postgres.pool()?)),
        health.clone(),
        token.clone(),
    );
    let probes = tokio::spawn({
        let (addr, health, token) = (
            config.processor.probe_listen.clone(),
            health.clone(),
            token.clone(),
        );
        async move { serve_probes(&addr, health, token).await }
    });
    let result = tokio::task::spawn_blocking(move || shard.join()).await?;
    token.cancel();
    let _ = probes.await;
    match result {
        Ok(Ok(())) => Ok(ExitCode::SUCCESS),
        Ok(Err(error)) => Err(error.into()),
        Err(_) => anyhow::bail!("the shard thread panicked"),
    }
}

pub async fn api(config: Config) -> anyhow::Result<ExitCode> {
    let health = Health::default();
    let token = CancellationToken::new();
    shutdown::on_signal(token.clone(), health.clone());
    let live: Option<Arc<dyn gosight_common::backend::LiveFanout>> =
        match RedisFanout::connect(&config.redis).await {
            Ok(fanout) => Some(Arc::new(fanout)),
            Err(error) => {
                tracing::warn!(%error, "redis unreachable; the live view is unavailable");
                None
            }
        };
    let deps = gosight_api::Dependencies {
        meta: Arc::new(PostgresMetadata::new(config.postgres.pool()?)),
        analytics: Arc::new(ClickHouseStore::new(&config.clickhouse)),
        live,
    };
    let server = gosight_api::start(config.api.clone(), deps, health, token).await?;
    server.stopped.await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn alerts(config: Config) -> anyhow::Result<ExitCode> {
    probes_only("alerts", &config.alerts.probe_listen).await
}
