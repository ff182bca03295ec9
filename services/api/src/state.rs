//! What every handler shares: the stores, the token keys and the config.

use std::sync::Arc;
use std::time::Duration;

use gosight_common::backend::{AnalyticsStore, LiveFanout, MetadataStore};

use crate::auth::TokenKeys;
use crate::config::ApiConfig;
use crate::login_guard::LoginGuard;

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
    /// Failed sign-ins per account.
    pub logins: Arc<LoginGuard>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// The state of one API: token keys from `config.jwt_secret`, no failed sign-ins yet.
    pub fn new(
        config: ApiConfig,
        meta: Arc<dyn MetadataStore>,
        analytics: Arc<dyn AnalyticsStore>,
        live: Option<Arc<dyn LiveFanout>>,
    ) -> Self {
        Self {
            tokens: Arc::new(TokenKeys::new(config.jwt_secret.expose())),
            logins: Arc::new(LoginGuard::new(
                config.login_max_failures,
                Duration::from_secs(config.login_lockout_seconds),
            )),
            config: Arc::new(config),
            meta,
            analytics,
            live,
        }
    }

    /// A page size within `1..=max_page_size`; `default` when none was asked for.
    pub fn page_size(&self, asked: Option<u32>, default: u32) -> u32 {
        asked
            .unwrap_or(default)
            .clamp(1, self.config.max_page_size.max(1))
    }
}
