//! Graceful shutdown: one token, cancelled on SIGTERM or Ctrl-C, that every task watches.

use tokio_util::sync::CancellationToken;

use crate::health::Health;

/// Cancels `token` when the process receives SIGTERM or SIGINT, after turning readiness off so
/// load balancers drain the instance first.
pub fn on_signal(token: CancellationToken, health: Health) {
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown signal received");
        health.begin_shutdown();
        token.cancel();
    });
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the process");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
