//! Live fan-out: compact updates about live sessions, published per project and pushed to every
//! dashboard watching it. Delivery is best effort: a subscriber that is not listening misses
//! updates, and the dashboard re-reads a snapshot when it (re)connects.
//!
//! Both implementations hand out the same [`Subscription`]: a receiver of a
//! `tokio::sync::broadcast` of `(channel, payload)`. [`LocalFanout`](super::LocalFanout) keeps one
//! broadcast per channel; [`RedisFanout`] has one task forwarding every message of its subscriber
//! connection into one broadcast, and each subscription keeps its own channel's messages.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use fred::prelude::{Client, EventInterface, PubsubInterface};
use tokio::sync::{Mutex, broadcast, mpsc};

use crate::error::{Error, Result};
use crate::redis::RedisConfig;

/// How many messages a slow subscriber may fall behind before it skips some.
pub(crate) const SUBSCRIBER_BUFFER: usize = 1024;

/// Messages of one channel, in publish order.
pub struct Subscription {
    channel: Arc<str>,
    receiver: broadcast::Receiver<(Arc<str>, Bytes)>,
    /// Tells the fan-out that this subscriber is gone, so the channel can be released.
    on_drop: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(on_drop) = self.on_drop.take() {
            on_drop();
        }
    }
}

impl Subscription {
    pub(crate) fn new(
        channel: Arc<str>,
        receiver: broadcast::Receiver<(Arc<str>, Bytes)>,
        on_drop: Box<dyn FnOnce() + Send + Sync>,
    ) -> Self {
        Self {
            channel,
            receiver,
            on_drop: Some(on_drop),
        }
    }

    /// The next message; `None` once the connection is gone for good.
    pub async fn next(&mut self) -> Option<Bytes> {
        loop {
            match self.receiver.recv().await {
                Ok((channel, payload)) if channel == self.channel => return Some(payload),
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "live subscriber lagged; updates were skipped");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

#[async_trait]
pub trait LiveFanout: Send + Sync {
    /// Publishes to `channel`; returns how many subscribers received it: for Redis the number
    /// of subscribed connections (one per [`RedisFanout`] with a subscription on the channel),
    /// in process the number of live [`Subscription`]s.
    async fn publish(&self, channel: &str, payload: Bytes) -> Result<u64>;
    /// Starts receiving `channel`; messages published after this returns are delivered.
    async fn subscribe(&self, channel: &str) -> Result<Subscription>;
}

/// [`LiveFanout`] on Redis pub/sub. Subscriptions share one dedicated connection, since a Redis
/// connection in subscriber mode cannot run other commands; the connection subscribes to a
/// channel with its first [`Subscription`] and unsubscribes when the last one is dropped.
#[derive(Clone, Debug)]
pub struct RedisFanout {
    publisher: Client,
    subscriber: Client,
    /// Every message of the subscriber connection, fed by the forwarding task.
    messages: broadcast::Sender<(Arc<str>, Bytes)>,
    /// Live subscriptions per channel. Held across SUBSCRIBE / UNSUBSCRIBE so the two never
    /// interleave for one channel.
    channels: Arc<Mutex<HashMap<String, usize>>>,
    /// Channels whose subscription was dropped, for the unsubscribing task.
    released: mpsc::UnboundedSender<String>,
}

impl RedisFanout {
    pub async fn connect(config: &RedisConfig) -> Result<Self> {
        let publisher = config.connect().await?;
        let subscriber = config.connect().await?;
        let (messages, _) = broadcast::channel(SUBSCRIBER_BUFFER);
        tokio::spawn(forward(subscriber.message_rx(), messages.clone()));
        let channels = Arc::new(Mutex::new(HashMap::new()));
        let (released, releases) = mpsc::unbounded_channel();
        tokio::spawn(unsubscribe_released(
            subscriber.clone(),
            Arc::clone(&channels),
            releases,
        ));
        Ok(Self {
            publisher,
            subscriber,
            messages,
            channels,
            released,
        })
    }
}

/// Copies the connection's messages into the broadcast the subscriptions read.
async fn forward(
    mut incoming: broadcast::Receiver<fred::types::Message>,
    messages: broadcast::Sender<(Arc<str>, Bytes)>,
) {
    loop {
        match incoming.recv().await {
            Ok(message) => {
                let Some(payload) = message.value.as_bytes() else {
                    continue;
                };
                // No subscription listening is not an error: the message is simply dropped.
                let _ = messages.send((
                    Arc::from(&*message.channel),
                    Bytes::copy_from_slice(payload),
                ));
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "redis live forwarder lagged; updates were skipped");
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Unsubscribes the connection from a channel once its last subscription is dropped.
async fn unsubscribe_released(
    subscriber: Client,
    channels: Arc<Mutex<HashMap<String, usize>>>,
    mut releases: mpsc::UnboundedReceiver<String>,
) {
    while let Some(channel) = releases.recv().await {
        let mut channels = channels.lock().await;
        let Some(count) = channels.get_mut(&channel) else {
            continue;
        };
        *count = count.saturating_sub(1);
        if *count > 0 {
            continue;
        }
        channels.remove(&channel);
        if let Err(error) = subscriber.unsubscribe(&channel).await {
            tracing::warn!(%error, "redis live unsubscribe failed");
        }
    }
}

#[async_trait]
impl LiveFanout for RedisFanout {
    async fn publish(&self, channel: &str, payload: Bytes) -> Result<u64> {
        let receivers: i64 = self.publisher.publish(channel, payload).await?;
        u64::try_from(receivers).map_err(|_| Error::Invalid("negative subscriber count".into()))
    }

    async fn subscribe(&self, channel: &str) -> Result<Subscription> {
        // Taken before SUBSCRIBE, so nothing published after it returns is missed.
        let receiver = self.messages.subscribe();
        let mut channels = self.channels.lock().await;
        let count = channels.get(channel).copied().unwrap_or(0);
        if count == 0 {
            self.subscriber.subscribe(channel).await?;
        }
        channels.insert(channel.to_string(), count + 1);
        drop(channels);
        let released = self.released.clone();
        let name = channel.to_string();
        Ok(Subscription::new(
            Arc::from(channel),
            receiver,
            Box::new(move || {
                // The task is gone only when the fan-out is: nothing left to release then.
                let _ = released.send(name);
            }),
        ))
    }
}
