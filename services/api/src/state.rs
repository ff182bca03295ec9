//! What every handler shares: the stores, the token keys and the config.

use std::sync::Arc;

use gosight_common::backend::{AnalyticsStore, LiveFanout, MetadataStore};

use crate::auth::TokenKeys;
use crate::config::ApiConfig;

/// Shared by every worker; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<ApiConfig>,
    /// Users, projects, keys, members and alert rules (PostgreSQL, or SQLite standalone).
    pub meta: Arc<dyn MetadataStore>,
    /// Events, sessions, insights, replays (ClickHouse, or SQLite standalone).
    pub analytics: Arc<dyn AnalyticsStore>,
    /// Live fan-out of the processor's session updates; `None` when Redis is not configured.
    pub live: Option<Arc<dyn LiveFanout>>,
    pub tokens: Arc<TokenKeys>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// A page size within `1..=max_page_size`; `default` when none was asked for.
    pub fn page_size(&self, asked: Option<u32>, default: u32) -> u32 {
        asked
            .unwrap_or(default)
            .clamp(1, self.config.max_page_size.max(1))
    }
}
