//! Liveness and readiness.
//!
//! `GET /health` answers 200 while the process runs. `GET /ready` answers 200 only while every
//! registered readiness check passes and shutdown has not begun: a load balancer stops sending
//! traffic before the server stops taking it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::{HttpResponse, web};
use checks::Checks;
use serde::Serialize;

/// Shared readiness state of one service.
#[derive(Debug, Clone, Default)]
pub struct Health {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    shutting_down: AtomicBool,
    checks: Checks,
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    ready: bool,
    shutting_down: bool,
    checks: Vec<(&'a str, bool)>,
}

impl Health {
    /// Registers a named readiness condition, initially not met.
    pub fn register(&self, name: &'static str) {
        self.inner.checks.set(name, false);
    }

    /// Marks a readiness condition met or not (e.g. `broker` after a metadata round trip).
    pub fn set(&self, name: &'static str, ok: bool) {
        self.inner.checks.set(name, ok);
    }

    /// From now on `/ready` answers 503.
    pub fn begin_shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::SeqCst);
    }

    pub fn is_ready(&self) -> bool {
        !self.inner.shutting_down.load(Ordering::SeqCst) && self.inner.checks.all_ok()
    }

    /// Adds `/health` and `/ready` to an actix-web app.
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        let health = self.clone();
        cfg.app_data(web::Data::new(health))
            .route("/health", web::get().to(live))
            .route("/ready", web::get().to(ready));
    }
}

async fn live() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

async fn ready(health: web::Data<Health>) -> HttpResponse {
    let snapshot = health.inner.checks.snapshot();
    let report = Report {
        ready: health.is_ready(),
        shutting_down: health.inner.shutting_down.load(Ordering::SeqCst),
        checks: snapshot.iter().map(|(k, v)| (*k, *v)).collect(),
    };
    if report.ready {
        HttpResponse::Ok().json(report)
    } else {
        HttpResponse::ServiceUnavailable().json(report)
    }
}

mod checks {
    //! A handful of named flags; a mutex is plenty for something read per probe.
    use std::sync::Mutex;

    #[derive(Debug, Default)]
    pub(super) struct Checks(Mutex<Vec<(&'static str, bool)>>);

    impl Checks {
        pub(super) fn set(&self, name: &'static str, ok: bool) {
            let mut checks = self.0.lock().unwrap_or_else(|p| p.into_inner());
            match checks.iter_mut().find(|(n, _)| *n == name) {
                Some(entry) => entry.1 = ok,
                None => checks.push((name, ok)),
            }
        }

        pub(super) fn all_ok(&self) -> bool {
            let checks = self.0.lock().unwrap_or_else(|p| p.into_inner());
            checks.iter().all(|(_, ok)| *ok)
        }

        pub(super) fn snapshot(&self) -> Vec<(&'static str, bool)> {
            self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
        }
    }
}

/// Serves `/health`, `/ready` and `/metrics` on `addr` until `shutdown` is cancelled; for
/// components whose work is not HTTP (the processor, alerting).
pub async fn serve_probes(
    addr: &str,
    health: Health,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<()> {
    crate::metrics::handle();
    let app_health = health.clone();
    let server = actix_web::HttpServer::new(move || {
        let health = app_health.clone();
        actix_web::App::new()
            .route(
                "/metrics",
                actix_web::web::get().to(crate::metrics::endpoint),
            )
            .configure(move |cfg| health.configure(cfg))
    })
    .workers(1)
    .disable_signals()
    .bind(addr)?
    .run();
    let handle = server.handle();
    tokio::spawn(async move {
        shutdown.cancelled().await;
        handle.stop(true).await;
    });
    server.await
}
