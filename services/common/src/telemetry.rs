//! Logging: structured JSON logs (or human-readable ones on a terminal) through `tracing`.

use serde::{Deserialize, Serialize};
use tracing_subscriber::EnvFilter;

use crate::error::ConfigError;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter, e.g. `info` or `info,gosight_ingest=debug`.
    pub level: String,
    /// `json` (one object per line, for log pipelines) or `pretty` (for a terminal).
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Json,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

impl LogConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.filter().map(|_| ())
    }

    fn filter(&self) -> Result<EnvFilter, ConfigError> {
        EnvFilter::try_new(&self.level).map_err(|e| ConfigError::Invalid {
            key: "log.level".into(),
            reason: e.to_string(),
        })
    }

    /// Installs the global subscriber. Logs go to stderr, so stdout stays for command output.
    /// Calling it twice keeps the first subscriber.
    pub fn init(&self) -> Result<(), ConfigError> {
        let builder = tracing_subscriber::fmt()
            .with_env_filter(self.filter()?)
            .with_writer(std::io::stderr);
        // An Err here only means a subscriber is installed already (e.g. by a test).
        let _ = match self.format {
            LogFormat::Json => builder
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .try_init(),
            LogFormat::Pretty => builder.try_init(),
        };
        Ok(())
    }
}
