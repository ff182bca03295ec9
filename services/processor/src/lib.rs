//! The processor: consumes the bus, keeps one supervised actor per live session, finds UX
//! insights and writes everything to ClickHouse, committing offsets only after the rows are in.
//!
//! - [`config`]: the `processor` config section. [`error`]: this crate's error type.
//! - [`shard`]: one consumer-group member: rounds of consume → apply, each then written and
//!   committed while the next is consumed;
//!   [`source`]: what it consumes (Kafka here, the embedded bus in standalone mode).
//! - [`actors`]: `SessionActor` (one per live session) and `TableWriter` (one per table).
//! - [`session`]: the session aggregate. [`convert`]: envelopes to rows and signals;
//!   [`payload_json`]: the `payload` column.
//! - [`detect`]: the UX insight detectors, pure functions over per-session windows;
//!   [`thresholds`]: their per-project settings.
//! - [`live`]: live updates for the dashboard.

pub mod actors;
pub mod config;
pub mod convert;
pub mod detect;
pub mod error;
pub mod live;
pub mod payload_json;
pub mod retry;
pub mod session;
pub mod shard;
pub mod source;
pub mod thresholds;

pub use config::ProcessorConfig;
pub use error::ProcessorError;
pub use shard::Shard;

use std::sync::Arc;

use gosight_common::backend::{
    ClickHouseStore, EventBus, KafkaBus, LiveFanout, MetadataStore, RedisFanout,
};
use gosight_common::clickhouse::ClickHouseConfig;
use gosight_common::health::Health;
use gosight_common::kafka::KafkaConfig;
use gosight_common::redis::RedisConfig;
use tokio_util::sync::CancellationToken;

/// Runs one shard on its own actix system thread until `stop` is cancelled. Redis being
/// unreachable only disables live updates; the metadata store being unreachable only means
/// default insight thresholds.
pub fn spawn(
    config: ProcessorConfig,
    kafka: KafkaConfig,
    clickhouse: ClickHouseConfig,
    redis: RedisConfig,
    metadata: Arc<dyn MetadataStore>,
    health: Health,
    stop: CancellationToken,
) -> std::thread::JoinHandle<Result<(), ProcessorError>> {
    std::thread::spawn(move || {
        actix::System::new().block_on(async move {
            let live: Option<Arc<dyn LiveFanout>> = match RedisFanout::connect(&redis).await {
                Ok(fanout) => Some(Arc::new(fanout)),
                Err(error) => {
                    tracing::warn!(%error, "redis unreachable; live updates are off");
                    None
                }
            };
            let insights: Arc<dyn EventBus> = Arc::new(KafkaBus::new(&kafka)?);
            let source = Box::new(source::KafkaSource::new(&config, &kafka)?);
            let store = Arc::new(ClickHouseStore::new(&clickhouse));
            let shard = Shard::new(
                config,
                kafka.topics.clone(),
                source,
                store,
                Some(insights),
                live,
                Some(metadata),
                stop,
            )?;
            health.set("shard", true);
            let result = shard.run().await;
            health.set("shard", false);
            result
        })
    })
}

/// Runs the shard `build` makes (on the new thread, inside its actix system, where its actors
/// start) until `stop` is cancelled: standalone mode's way in, with its own source and stores.
pub fn spawn_shard<F>(
    build: F,
    health: Health,
) -> std::thread::JoinHandle<Result<(), ProcessorError>>
where
    F: FnOnce() -> Result<Shard, ProcessorError> + Send + 'static,
{
    std::thread::spawn(move || {
        actix::System::new().block_on(async move {
            let shard = build()?;
            health.set("shard", true);
            let result = shard.run().await;
            health.set("shard", false);
            result
        })
    })
}
