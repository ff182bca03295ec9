//! The alerting service: evaluates alert rules and delivers to Telegram and webhooks.
//!
//! - [`config`]: the `alerts` config section.

pub mod config;

pub use config::AlertsConfig;
