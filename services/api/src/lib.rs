//! The API service: accounts, projects, analytics, replay, heatmaps and live sessions for the
//! dashboard, as JSON over HTTP under `/api/v1`.
//!
//! - [`config`]: the `api` config section. [`error`]: this crate's error type and its responses.
//! - [`state`]: what every handler shares. [`auth`]: sign-in, tokens, the [`auth::AuthUser`]
//!   extractor. [`login_guard`]: failed sign-ins counted per account. [`access`]: project roles
//!   and what each may do.
//! - [`accounts`]: users, password hashing, project creation (shared with the CLI).
//! - [`projects`]: projects, write keys, members. [`alert_rules`]: alert rule CRUD.
//! - [`sessions`]: sessions list, session detail, replay. [`analytics`]: overview, heatmaps,
//!   insights, errors. [`live`]: the live-sessions WebSocket. [`openapi`]: the OpenAPI document.
//! - [`dashboard`]: the built dashboard at `/`.
//!
//! [`start`] boots the server (tests bind it to `127.0.0.1:0`).

pub mod access;
pub mod accounts;
pub mod alert_rules;
pub mod analytics;
pub mod auth;
pub mod config;
pub mod dashboard;
pub mod error;
pub mod live;
pub mod login_guard;
pub mod openapi;
pub mod projects;
pub mod query;
pub mod sessions;
pub mod state;

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::{App, HttpResponse, HttpServer, web};
use gosight_common::backend::{AnalyticsStore, LiveFanout, MetadataStore};
use gosight_common::health::Health;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use config::ApiConfig;
pub use error::ApiError;
pub use state::AppState;

/// What the API reads and writes.
pub struct Dependencies {
    pub meta: Arc<dyn MetadataStore>,
    pub analytics: Arc<dyn AnalyticsStore>,
    pub live: Option<Arc<dyn LiveFanout>>,
}

impl std::fmt::Debug for Dependencies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dependencies").finish_non_exhaustive()
    }
}

/// A running API: where it listens, and the task that ends when it has stopped.
#[derive(Debug)]
pub struct ApiServer {
    pub addr: SocketAddr,
    pub stopped: JoinHandle<()>,
}

/// JSON bodies that do not parse answer 400 with serde's reason (which names the field).
fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(1 << 20)
        .error_handler(|error, _| ApiError::invalid("body", &error.to_string()).into())
}

fn path_config() -> web::PathConfig {
    web::PathConfig::default()
        .error_handler(|error, _| ApiError::invalid("path", &error.to_string()).into())
}

fn query_config() -> web::QueryConfig {
    web::QueryConfig::default()
        .error_handler(|error, _| ApiError::invalid("query", &error.to_string()).into())
}

/// Every route under `/api/v1`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    use web::{delete, get, patch, post, put};
    cfg.route("/api/openapi.json", get().to(openapi::serve));
    cfg.service(
        web::scope("/api/v1")
            .route("/auth/login", post().to(auth::login))
            .route("/auth/refresh", post().to(auth::refresh))
            .route("/auth/logout", post().to(auth::logout))
            .route("/auth/me", get().to(auth::me))
            .route("/auth/setup", get().to(auth::setup_status))
            .route("/auth/setup", post().to(auth::setup))
            .route("/projects", get().to(projects::list))
            .route("/projects", post().to(projects::create))
            .route("/projects/{id}", get().to(projects::get))
            .route("/projects/{id}", patch().to(projects::update))
            .route("/projects/{id}", delete().to(projects::delete))
            .route("/projects/{id}/keys", get().to(projects::list_keys))
            .route("/projects/{id}/keys", post().to(projects::create_key))
            .route(
                "/projects/{id}/keys/{key}",
                delete().to(projects::revoke_key),
            )
            .route("/projects/{id}/members", get().to(projects::list_members))
            .route("/projects/{id}/members", put().to(projects::put_member))
            .route(
                "/projects/{id}/members/{user}",
                delete().to(projects::remove_member),
            )
            .route("/projects/{id}/alerts", get().to(alert_rules::list))
            .route("/projects/{id}/alerts", post().to(alert_rules::create))
            .route(
                "/projects/{id}/alerts/history",
                get().to(alert_rules::history),
            )
            .route("/projects/{id}/alerts/{rule}", get().to(alert_rules::get))
            .route(
                "/projects/{id}/alerts/{rule}",
                put().to(alert_rules::update),
            )
            .route(
                "/projects/{id}/alerts/{rule}",
                delete().to(alert_rules::delete),
            )
            .route("/projects/{id}/sessions", get().to(sessions::list))
            .route(
                "/projects/{id}/sessions/{session}",
                get().to(sessions::detail),
            )
            .route(
                "/projects/{id}/sessions/{session}",
                delete().to(sessions::delete),
            )
            .route("/projects/{id}/erasure", post().to(sessions::erase))
            .route(
                "/projects/{id}/sessions/{session}/replay",
                get().to(sessions::replay),
            )
            .route("/projects/{id}/overview", get().to(analytics::overview))
            .route("/projects/{id}/heatmap", get().to(analytics::heatmap))
            .route("/projects/{id}/funnel", get().to(analytics::funnel))
            .route("/projects/{id}/insights", get().to(analytics::insights))
            .route("/projects/{id}/errors", get().to(analytics::errors))
            .route("/projects/{id}/live", get().to(live::socket))
            .default_service(web::to(not_found)),
    );
    cfg.service(web::scope("/api").default_service(web::to(not_found)));
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound("route".into()))
}

/// The API under `/api` and the dashboard at `/`, for any actix app: the API's own server, or
/// standalone mode's single one (register other routes before it: the dashboard answers every
/// other path with its page).
pub fn configure_app(
    cfg: &mut web::ServiceConfig,
    state: AppState,
    dashboard: Option<&std::path::Path>,
) {
    cfg.app_data(web::Data::new(state))
        .app_data(json_config())
        .app_data(path_config())
        .app_data(query_config())
        .configure(routes)
        .configure(|cfg| dashboard::configure(cfg, dashboard));
}

/// Starts the server; it stops, finishing requests in flight, when `shutdown` is cancelled.
pub async fn start(
    config: ApiConfig,
    deps: Dependencies,
    health: Health,
    shutdown: CancellationToken,
) -> Result<ApiServer, ApiError> {
    let state = AppState::new(config.clone(), deps.meta, deps.analytics, deps.live);
    let dashboard = dashboard::locate(&config.dashboard_dir);
    let mut server = HttpServer::new(move || {
        let health = health.clone();
        let (state, dashboard) = (state.clone(), dashboard.clone());
        App::new()
            .configure(|cfg| health.configure(cfg))
            .configure(|cfg| configure_app(cfg, state, dashboard.as_deref()))
            .default_service(web::to(|| async { HttpResponse::NotFound().finish() }))
    })
    .disable_signals()
    .shutdown_timeout(10);
    if config.workers > 0 {
        server = server.workers(config.workers);
    }
    let server = server
        .bind(&config.listen)
        .map_err(|e| ApiError::Internal(format!("api.listen {}: {e}", config.listen)))?;
    let addr = server.addrs()[0];
    let running = server.run();
    let handle = running.handle();
    tracing::info!(%addr, "api listening");
    let stopped = tokio::spawn(async move {
        let task = tokio::spawn(running);
        shutdown.cancelled().await;
        handle.stop(true).await;
        if let Ok(Err(error)) = task.await {
            tracing::error!(%error, "api server failed");
        }
        tracing::info!("api stopped");
    });
    Ok(ApiServer { addr, stopped })
}
