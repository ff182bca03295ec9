//! The `api` config section.

use gosight_common::config::Secret;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Address of the REST API, the live WebSocket and the dashboard, e.g. `0.0.0.0:8082`.
    pub listen: String,
    /// Key signing access tokens (HS256), at least 32 bytes in production. Empty: a random key
    /// per start, which signs everyone out on restart.
    pub jwt_secret: Secret,
    /// Lifetime of an access token in seconds, e.g. `900`. Short, since it cannot be revoked.
    pub access_token_ttl_seconds: u64,
    /// Lifetime of a refresh token in days, e.g. `30`. Each use rotates it.
    pub refresh_token_ttl_days: u64,
    /// Seconds a rotated refresh token may rotate once more, e.g. `10`: two tabs, or a reload,
    /// that refresh with the same token at once stay signed in. Any other use of a rotated token
    /// is taken for a stolen copy and signs its whole family out. A copy used within this time
    /// goes undetected, so keep it short; `0` turns it off.
    pub refresh_reuse_leeway_seconds: u64,
    /// Largest page any list endpoint returns, e.g. `200`; larger `limit`s are capped.
    pub max_page_size: u32,
    /// Sign-in attempts per account that do not succeed, within `login_lockout_seconds` of the
    /// first, after which its sign-ins are refused (429) until the window ends, e.g. `10`.
    /// `0`: never.
    pub login_max_failures: u32,
    /// The window of `login_max_failures`, in seconds, e.g. `900`.
    pub login_lockout_seconds: u64,
    /// HTTP worker threads; `0`: one per core.
    pub workers: usize,
    /// The built dashboard (`dashboard/dist`, from `npm run build` in `dashboard/`), served at
    /// `/` with every non-API path answered by its `index.html`. Empty: no dashboard.
    pub dashboard_dir: String,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8082".into(),
            jwt_secret: Secret::default(),
            access_token_ttl_seconds: 900,
            refresh_token_ttl_days: 30,
            refresh_reuse_leeway_seconds: 10,
            max_page_size: 200,
            login_max_failures: 10,
            login_lockout_seconds: 900,
            workers: 0,
            dashboard_dir: "dashboard/dist".into(),
        }
    }
}
