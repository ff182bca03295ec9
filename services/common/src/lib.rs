//! What every GoSight service shares.
//!
//! - [`config`]: loading typed config from YAML and the environment; [`config::Secret`].
//! - [`kafka`], [`clickhouse`], [`postgres`], [`redis`]: config sections and client constructors.
//! - [`telemetry`]: JSON logs. [`health`]: liveness and readiness. [`shutdown`]: signals.
//! - [`retention`]: deployment mode and TTLs. [`migrate`]: the migration runner.
//! - [`backend`]: the bus, analytics store, metadata store and live fan-out traits.
//! - [`testing`]: helpers for tests against the real engines.
//! - [`error`]: this crate's error type.

pub mod backend;
pub mod clickhouse;
pub mod config;
pub mod error;
pub mod health;
pub mod kafka;
pub mod metrics;
pub mod migrate;
pub mod postgres;
pub mod redis;
pub mod retention;
pub mod shutdown;
pub mod telemetry;
pub mod testing;

pub use error::{ConfigError, Error, Result};
