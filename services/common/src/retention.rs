//! Deployment mode and retention: which tables exist and how long rows live.

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentMode {
    /// Events for a year, replays for 90 days.
    Full,
    /// Events only: no replay tables, replay chunks are refused.
    AnalyticsOnly,
    /// Replays kept short (14 days by default, 7 to 30 allowed), events for a year.
    ReplayOptimized,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// `full`, `analytics_only` or `replay_optimized`.
    pub mode: DeploymentMode,
    /// Days events, sessions and insights are kept; default 365.
    pub events_days: Option<u32>,
    /// Days replay chunks are kept; default 90 (`full`) or 14 (`replay_optimized`).
    pub replay_days: Option<u32>,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            mode: DeploymentMode::Full,
            events_days: None,
            replay_days: None,
        }
    }
}

impl RetentionConfig {
    pub fn events_days(&self) -> u32 {
        self.events_days.unwrap_or(365)
    }

    /// `None` when the mode keeps no replays.
    pub fn replay_days(&self) -> Option<u32> {
        match self.mode {
            DeploymentMode::AnalyticsOnly => None,
            DeploymentMode::Full => Some(self.replay_days.unwrap_or(90)),
            DeploymentMode::ReplayOptimized => Some(self.replay_days.unwrap_or(14)),
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.events_days() == 0 {
            return Err(invalid("retention.events_days", "must be at least 1"));
        }
        match (self.mode, self.replay_days) {
            (DeploymentMode::AnalyticsOnly, Some(_)) => Err(invalid(
                "retention.replay_days",
                "analytics_only keeps no replays; remove the key or change retention.mode",
            )),
            (DeploymentMode::ReplayOptimized, Some(d)) if !(7..=30).contains(&d) => Err(invalid(
                "retention.replay_days",
                "replay_optimized keeps replays 7 to 30 days",
            )),
            (_, Some(0)) => Err(invalid("retention.replay_days", "must be at least 1")),
            _ => Ok(()),
        }
    }
}

fn invalid(key: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}
