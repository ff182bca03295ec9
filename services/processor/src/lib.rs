//! The processor: consumes the bus, keeps one actor per live session, writes to the analytics
//! store.
//!
//! - [`config`]: the `processor` config section.

pub mod config;

pub use config::ProcessorConfig;
