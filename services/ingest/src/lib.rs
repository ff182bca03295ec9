//! The ingest service: takes what SDKs send over HTTP and gRPC and puts it on the bus, answering
//! only once the broker has it.
//!
//! - [`config`]: the `ingest` config section.
//! - [`pipeline`]: the path of every batch (auth, validation, rate limit, enrichment, publish).
//! - [`keys`]: the project-key cache. [`ratelimit`]: per-project limits shared via Redis.
//! - [`validate`]: per-event checks and string limits. [`enrich`]: client IP, GeoIP, user agent.
//! - [`http`], [`grpc`]: the two transports. [`metrics`]: the Prometheus recorder.
//! - [`error`]: this crate's error type, with HTTP statuses and gRPC codes.
//!
//! [`start`] boots both servers (tests bind them to `127.0.0.1:0`).

pub mod config;
pub mod enrich;
pub mod error;
pub mod grpc;
pub mod http;
pub mod keys;
pub mod pipeline;
pub mod ratelimit;
pub mod validate;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Service;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{App, HttpServer, web};
use gosight_common::health::Health;
use gosight_proto::ingest_service_server::IngestServiceServer;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use config::IngestConfig;
pub use error::IngestError;
pub use pipeline::{ClientInfo, Dependencies, Ingestor};

/// A running ingest: where it listens, and the task that ends when it has stopped.
#[derive(Debug)]
pub struct IngestServer {
    pub http_addr: SocketAddr,
    pub grpc_addr: SocketAddr,
    pub ingestor: Arc<Ingestor>,
    pub stopped: JoinHandle<()>,
}

/// The SDK endpoints (`/v1/events`, `/v1/replay`, with CORS) and `/metrics`, for any actix
/// app: the ingest's own server, or standalone mode's single one.
pub fn configure_http(cfg: &mut web::ServiceConfig, ingestor: Arc<Ingestor>) {
    cfg.app_data(web::Data::new(ingestor))
        .route("/metrics", web::get().to(gosight_common::metrics::endpoint))
        .service(
            web::scope("/v1")
                .wrap_fn(|req, srv| {
                    let origin = req.headers().get(header::ORIGIN).cloned();
                    let fut = srv.call(req);
                    async move {
                        let mut response = fut.await?;
                        if let Some(origin) = origin {
                            let headers = response.headers_mut();
                            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
                            headers.insert(header::VARY, HeaderValue::from_static("Origin"));
                            headers.insert(
                                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                                HeaderValue::from_static("retry-after"),
                            );
                        }
                        Ok(response)
                    }
                })
                .route("/events", web::post().to(http::events))
                .route(
                    "/events",
                    web::method(actix_web::http::Method::OPTIONS).to(http::preflight),
                )
                .route("/replay", web::post().to(http::replay))
                .route(
                    "/replay",
                    web::method(actix_web::http::Method::OPTIONS).to(http::preflight),
                ),
        );
}

/// Starts the HTTP and gRPC servers and the readiness checks. Both servers stop, finishing
/// requests in flight, when `shutdown` is cancelled.
pub async fn start(
    config: IngestConfig,
    deps: Dependencies,
    health: Health,
    shutdown: CancellationToken,
) -> Result<IngestServer, IngestError> {
    gosight_common::metrics::handle();
    let ingestor = Arc::new(Ingestor::new(config.clone(), deps)?);
    health.register("broker");
    health.register("keys");
    spawn_readiness(ingestor.clone(), health.clone(), shutdown.clone());

    let http_ingestor = ingestor.clone();
    let http_health = health.clone();
    let mut server = HttpServer::new(move || {
        let health = http_health.clone();
        let ingestor = http_ingestor.clone();
        App::new()
            .configure(|cfg| health.configure(cfg))
            .configure(|cfg| configure_http(cfg, ingestor))
    })
    .disable_signals()
    .shutdown_timeout(10);
    if config.workers > 0 {
        server = server.workers(config.workers);
    }
    let server = server.bind(&config.http_listen).map_err(|e| {
        IngestError::Config(format!("ingest.http_listen {}: {e}", config.http_listen))
    })?;
    let http_addr = server.addrs()[0];
    let http = server.run();
    let http_handle = http.handle();

    let listener = tokio::net::TcpListener::bind(&config.grpc_listen)
        .await
        .map_err(|e| {
            IngestError::Config(format!("ingest.grpc_listen {}: {e}", config.grpc_listen))
        })?;
    let grpc_addr = listener
        .local_addr()
        .map_err(|e| IngestError::Internal(e.to_string()))?;
    let max_message = config.max_body_bytes.max(config.max_replay_body_bytes);
    let service = IngestServiceServer::new(grpc::GrpcIngest::new(ingestor.clone()))
        .max_decoding_message_size(max_message);
    let grpc_shutdown = shutdown.clone();
    let grpc = tonic::transport::Server::builder()
        .accept_http1(true)
        .layer(tonic_web::GrpcWebLayer::new())
        .add_service(service)
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            grpc_shutdown.cancelled_owned(),
        );

    tracing::info!(%http_addr, %grpc_addr, "ingest listening");
    let stopped = tokio::spawn(async move {
        let http_task = tokio::spawn(http);
        let grpc_task = tokio::spawn(grpc);
        shutdown.cancelled().await;
        http_handle.stop(true).await;
        if let Ok(Err(error)) = http_task.await {
            tracing::error!(%error, "http server failed");
        }
        if let Ok(Err(error)) = grpc_task.await {
            tracing::error!(%error, "grpc server failed");
        }
        tracing::info!("ingest stopped");
    });
    Ok(IngestServer {
        http_addr,
        grpc_addr,
        ingestor,
        stopped,
    })
}

/// Keeps `broker` and `keys` readiness current: the broker every second, the key store until it
/// answered once.
pub fn spawn_readiness(ingestor: Arc<Ingestor>, health: Health, shutdown: CancellationToken) {
    tokio::spawn(async move {
        let mut keys_warm = false;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            health.set("broker", ingestor.check_broker().await);
            if !keys_warm {
                keys_warm = ingestor.keys().warm().await.is_ok();
                health.set("keys", keys_warm);
            }
        }
    });
}
