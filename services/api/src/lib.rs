//! The API service: accounts, projects, analytics, replay, heatmaps and live sessions for the
//! dashboard.
//!
//! - [`config`]: the `api` config section.
//! - [`accounts`]: users and password hashing.
//! - [`error`]: this crate's error type.

pub mod accounts;
pub mod config;
pub mod error;

pub use config::ApiConfig;
pub use error::ApiError;
