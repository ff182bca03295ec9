//! The processor: consumes the bus, keeps one supervised actor per live session, finds UX
//! insights and writes everything to ClickHouse, committing offsets only after the rows are in.
//!
//! - [`config`]: the `processor` config section. [`error`]: this crate's error type.
//! - [`shard`]: one consumer-group member: rounds of consume → apply → write → commit.
//! - [`actors`]: `SessionActor` (one per live session) and `TableWriter` (one per table).
//! - [`session`]: the session aggregate. [`convert`]: envelopes to rows and signals.
//! - [`detect`]: the UX insight detectors, pure functions over per-session windows.
//! - [`live`]: live updates for the dashboard.

pub mod actors;
pub mod config;
pub mod convert;
pub mod detect;
pub mod error;
pub mod live;
pub mod session;
pub mod shard;

pub use config::ProcessorConfig;
pub use error::ProcessorError;
pub use shard::Shard;
