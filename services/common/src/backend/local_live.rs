//! [`LocalFanout`]: the live fan-out of standalone mode, in process.
//!
//! One `tokio::sync::broadcast` per channel, created by the first subscription and dropped with
//! the last one, so unused channels cost nothing. Publishing to a channel nobody watches is a
//! map lookup; the count it returns is the number of live subscriptions, like Redis `PUBLISH`.
//! Each subscriber buffers up to `capacity` messages; one that falls further behind skips the
//! oldest (and logs it), which never slows the publisher.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::broadcast;

use super::live::{LiveFanout, SUBSCRIBER_BUFFER, Subscription};
use crate::error::Result;

type Channels = HashMap<Arc<str>, broadcast::Sender<(Arc<str>, Bytes)>>;

/// [`LiveFanout`] in process. Cheap to clone; clones share the channels.
#[derive(Clone, Debug)]
pub struct LocalFanout {
    channels: Arc<Mutex<Channels>>,
    capacity: usize,
}

impl Default for LocalFanout {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalFanout {
    /// Subscribers buffer up to 1024 messages each.
    pub fn new() -> Self {
        Self::with_capacity(SUBSCRIBER_BUFFER)
    }

    /// Subscribers buffer up to `capacity` messages each (at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            channels: Arc::new(Mutex::new(HashMap::new())),
            capacity: capacity.max(1),
        }
    }

    /// Channels with at least one subscription.
    pub fn channel_count(&self) -> usize {
        lock(&self.channels).len()
    }
}

fn lock(channels: &Mutex<Channels>) -> MutexGuard<'_, Channels> {
    // Every update of the map is a single insert or remove: it is consistent after a panic.
    channels.lock().unwrap_or_else(PoisonError::into_inner)
}

#[async_trait]
impl LiveFanout for LocalFanout {
    async fn publish(&self, channel: &str, payload: Bytes) -> Result<u64> {
        let channels = lock(&self.channels);
        let Some((name, sender)) = channels.get_key_value(channel) else {
            return Ok(0);
        };
        // Err means no receiver is left (one is being dropped): nobody got it.
        let receivers = sender.send((Arc::clone(name), payload)).unwrap_or(0);
        Ok(u64::try_from(receivers).unwrap_or(u64::MAX))
    }

    async fn subscribe(&self, channel: &str) -> Result<Subscription> {
        let mut channels = lock(&self.channels);
        let name: Arc<str> = match channels.get_key_value(channel) {
            Some((name, _)) => Arc::clone(name),
            None => Arc::from(channel),
        };
        let receiver = channels
            .entry(Arc::clone(&name))
            .or_insert_with(|| broadcast::channel(self.capacity).0)
            .subscribe();
        drop(channels);
        let shared = Arc::clone(&self.channels);
        let key = Arc::clone(&name);
        Ok(Subscription::new(
            name,
            receiver,
            Box::new(move || {
                let mut channels = lock(&shared);
                // Under the lock no subscription can be added, and the count still includes
                // the receiver being dropped: 1 means it was the last.
                if channels
                    .get(&key)
                    .is_some_and(|sender| sender.receiver_count() <= 1)
                {
                    channels.remove(&key);
                }
            }),
        ))
    }
}
