//! Live fan-out: compact updates about live sessions, published per project and pushed to every
//! dashboard watching it. Delivery is best effort: a subscriber that is not listening misses
//! updates, and the dashboard re-reads a snapshot when it (re)connects.

use async_trait::async_trait;
use bytes::Bytes;
use fred::prelude::{Client, EventInterface, PubsubInterface};
use tokio::sync::broadcast;

use crate::error::{Error, Result};
use crate::redis::RedisConfig;

/// Messages of one channel, in publish order.
#[derive(Debug)]
pub struct Subscription {
    channel: String,
    receiver: broadcast::Receiver<fred::types::Message>,
}

impl Subscription {
    /// The next message; `None` once the connection is gone for good.
    pub async fn next(&mut self) -> Option<Bytes> {
        loop {
            match self.receiver.recv().await {
                Ok(message) if *message.channel == *self.channel => {
                    return message.value.as_bytes().map(Bytes::copy_from_slice);
                }
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
    /// Publishes to `channel`; returns how many subscribers received it.
    async fn publish(&self, channel: &str, payload: Bytes) -> Result<u64>;
    /// Starts receiving `channel`; messages published after this returns are delivered.
    async fn subscribe(&self, channel: &str) -> Result<Subscription>;
}

/// [`LiveFanout`] on Redis pub/sub. Subscriptions share one dedicated connection, since a Redis
/// connection in subscriber mode cannot run other commands.
#[derive(Clone, Debug)]
pub struct RedisFanout {
    publisher: Client,
    subscriber: Client,
}

impl RedisFanout {
    pub async fn connect(config: &RedisConfig) -> Result<Self> {
        Ok(Self {
            publisher: config.connect().await?,
            subscriber: config.connect().await?,
        })
    }
}

#[async_trait]
impl LiveFanout for RedisFanout {
    async fn publish(&self, channel: &str, payload: Bytes) -> Result<u64> {
        let receivers: i64 = self.publisher.publish(channel, payload).await?;
        u64::try_from(receivers).map_err(|_| Error::Invalid("negative subscriber count".into()))
    }

    async fn subscribe(&self, channel: &str) -> Result<Subscription> {
        let receiver = self.subscriber.message_rx();
        self.subscriber.subscribe(channel).await?;
        Ok(Subscription {
            channel: channel.to_string(),
            receiver,
        })
    }
}
