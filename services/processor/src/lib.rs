//! The processor: consumes the bus, keeps one actor per live session, writes to the analytics
//! store.
//!
//! - [`config`]: the `processor` config section.
//! - [`detect`]: the UX insight detectors, pure functions over per-session windows.

pub mod config;
pub mod detect;

pub use config::ProcessorConfig;
