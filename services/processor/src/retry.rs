//! Retrying ClickHouse calls while it is unavailable: the shard waits (and so does consumption;
//! the data waits in Kafka) instead of failing.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::error::ProcessorError;

/// Runs `attempt` until it succeeds, waiting 100 ms, doubling to 10 s, after each failure, which
/// `failed` sees with the wait that follows. Once `stop` is cancelled: [`ProcessorError::Stopped`].
pub async fn with_backoff<T, E, Fut>(
    stop: &CancellationToken,
    mut attempt: impl FnMut() -> Fut,
    mut failed: impl FnMut(&E, Duration),
) -> Result<T, ProcessorError>
where
    Fut: Future<Output = Result<T, E>>,
{
    let mut backoff = Duration::from_millis(100);
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(error) => {
                failed(&error, backoff);
                tokio::select! {
                    _ = stop.cancelled() => return Err(ProcessorError::Stopped),
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}
