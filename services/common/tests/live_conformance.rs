//! The [`LiveFanout`] contract, written once and run against both implementations:
//! `local::*` on a [`LocalFanout`], `redis::*` on the Redis that `scripts/services.sh start`
//! runs (each case on its own channels).
//!
//! Each subscriber in a case gets its own fan-out handle, as dashboards on different API
//! instances would: Redis counts one receiver per subscribed connection, the in-process fan-out
//! one per subscription, and with one subscription per handle the two agree.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gosight_common::backend::{LiveFanout, LocalFanout, RedisFanout, Subscription};
use gosight_common::testing::{Engines, unique_name};

const WAIT: Duration = Duration::from_secs(10);

trait Harness {
    /// A handle on the fan-out all handles of this harness share: a clone of one
    /// `LocalFanout`, or a new Redis connection pair.
    async fn fanout(&self) -> Arc<dyn LiveFanout>;
}

struct Local(LocalFanout);

impl Harness for Local {
    async fn fanout(&self) -> Arc<dyn LiveFanout> {
        Arc::new(self.0.clone())
    }
}

struct Redis(Engines);

impl Harness for Redis {
    async fn fanout(&self) -> Arc<dyn LiveFanout> {
        Arc::new(RedisFanout::connect(&self.0.redis).await.unwrap())
    }
}

/// Runs each case against both implementations: `local::<case>` and `redis::<case>`.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod local {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(&super::Local(gosight_common::backend::LocalFanout::new())).await;
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(&super::Redis(gosight_common::testing::Engines::from_env())).await;
                }
            )*
        }
    };
}

conformance!(
    a_subscriber_gets_what_is_published_after_it_in_order,
    publish_counts_the_subscribers,
    channels_are_isolated,
    two_subscribers_both_get_every_message,
    a_dropped_subscription_stops_counting,
);

async fn next(subscription: &mut Subscription) -> Bytes {
    tokio::time::timeout(WAIT, subscription.next())
        .await
        .expect("timed out waiting for a live message")
        .expect("subscription closed")
}

/// Publishes probes until `expected` subscribers get one (unsubscribing may be asynchronous).
async fn eventually_counts(fanout: &dyn LiveFanout, channel: &str, expected: u64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let count = fanout
            .publish(channel, Bytes::from_static(b"probe"))
            .await
            .unwrap();
        if count == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{count} subscribers, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_subscriber_gets_what_is_published_after_it_in_order(h: &impl Harness) {
    let publisher = h.fanout().await;
    let channel = unique_name("live");
    publisher
        .publish(&channel, Bytes::from_static(b"before"))
        .await
        .unwrap();
    let mut subscription = h.fanout().await.subscribe(&channel).await.unwrap();
    for i in 0..20 {
        publisher
            .publish(&channel, Bytes::from(format!("update-{i}")))
            .await
            .unwrap();
    }
    for i in 0..20 {
        assert_eq!(
            next(&mut subscription).await,
            Bytes::from(format!("update-{i}"))
        );
    }
}

async fn publish_counts_the_subscribers(h: &impl Harness) {
    let publisher = h.fanout().await;
    let channel = unique_name("live");
    let payload = Bytes::from_static(b"x");
    assert_eq!(
        publisher.publish(&channel, payload.clone()).await.unwrap(),
        0
    );
    let (a, b) = (h.fanout().await, h.fanout().await);
    let _first = a.subscribe(&channel).await.unwrap();
    assert_eq!(
        publisher.publish(&channel, payload.clone()).await.unwrap(),
        1
    );
    let _second = b.subscribe(&channel).await.unwrap();
    assert_eq!(publisher.publish(&channel, payload).await.unwrap(), 2);
}

async fn channels_are_isolated(h: &impl Harness) {
    let publisher = h.fanout().await;
    let (watched, other) = (unique_name("live"), unique_name("live"));
    let subscriber = h.fanout().await;
    let mut subscription = subscriber.subscribe(&watched).await.unwrap();
    let mut other_subscription = subscriber.subscribe(&other).await.unwrap();
    let elsewhere = unique_name("live");
    assert_eq!(
        publisher
            .publish(&elsewhere, Bytes::from_static(b"nobody"))
            .await
            .unwrap(),
        0
    );
    publisher
        .publish(&other, Bytes::from_static(b"for other"))
        .await
        .unwrap();
    publisher
        .publish(&watched, Bytes::from_static(b"for watched"))
        .await
        .unwrap();
    assert_eq!(next(&mut subscription).await.as_ref(), b"for watched");
    assert_eq!(next(&mut other_subscription).await.as_ref(), b"for other");
}

async fn two_subscribers_both_get_every_message(h: &impl Harness) {
    let publisher = h.fanout().await;
    let channel = unique_name("live");
    let (a, b) = (h.fanout().await, h.fanout().await);
    let mut first = a.subscribe(&channel).await.unwrap();
    let mut second = b.subscribe(&channel).await.unwrap();
    for i in 0..5 {
        let count = publisher
            .publish(&channel, Bytes::from(format!("m{i}")))
            .await
            .unwrap();
        assert_eq!(count, 2);
    }
    for i in 0..5 {
        let expected = Bytes::from(format!("m{i}"));
        assert_eq!(next(&mut first).await, expected);
        assert_eq!(next(&mut second).await, expected);
    }
}

async fn a_dropped_subscription_stops_counting(h: &impl Harness) {
    let publisher = h.fanout().await;
    let channel = unique_name("live");
    let (a, b) = (h.fanout().await, h.fanout().await);
    let first = a.subscribe(&channel).await.unwrap();
    let mut second = b.subscribe(&channel).await.unwrap();
    eventually_counts(publisher.as_ref(), &channel, 2).await;
    drop(first);
    eventually_counts(publisher.as_ref(), &channel, 1).await;
    // The remaining one still receives.
    publisher
        .publish(&channel, Bytes::from_static(b"still here"))
        .await
        .unwrap();
    loop {
        if next(&mut second).await.as_ref() == b"still here" {
            break;
        }
    }
    drop(second);
    eventually_counts(publisher.as_ref(), &channel, 0).await;
}

// ---- one implementation only ----

#[tokio::test]
async fn local_channels_exist_only_while_subscribed() {
    let fanout = LocalFanout::new();
    let first = fanout.subscribe("project-1").await.unwrap();
    let second = fanout.subscribe("project-1").await.unwrap();
    let other = fanout.subscribe("project-2").await.unwrap();
    assert_eq!(fanout.channel_count(), 2);
    assert_eq!(fanout.publish("project-1", Bytes::new()).await.unwrap(), 2);
    drop(first);
    assert_eq!(fanout.channel_count(), 2);
    drop(second);
    assert_eq!(fanout.channel_count(), 1);
    drop(other);
    assert_eq!(fanout.channel_count(), 0);
    assert_eq!(fanout.publish("project-1", Bytes::new()).await.unwrap(), 0);
}

#[tokio::test]
async fn local_lagging_subscriber_skips_the_oldest_and_goes_on() {
    let fanout = LocalFanout::with_capacity(2);
    let mut subscription = fanout.subscribe("c").await.unwrap();
    for i in 0..5 {
        fanout
            .publish("c", Bytes::from(format!("{i}")))
            .await
            .unwrap();
    }
    assert_eq!(next(&mut subscription).await.as_ref(), b"3");
    assert_eq!(next(&mut subscription).await.as_ref(), b"4");
}

/// Subscriptions of one `RedisFanout` share its connection: the channel stays subscribed until
/// the last of them is dropped.
#[tokio::test]
async fn redis_connection_unsubscribes_with_its_last_subscription() {
    let engines = Engines::from_env();
    let publisher = RedisFanout::connect(&engines.redis).await.unwrap();
    let subscriber = RedisFanout::connect(&engines.redis).await.unwrap();
    let channel = unique_name("live");
    let first = subscriber.subscribe(&channel).await.unwrap();
    let mut second = subscriber.subscribe(&channel).await.unwrap();
    eventually_counts(&publisher, &channel, 1).await;
    drop(first);
    // Give the release a moment, then check the connection is still subscribed.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        publisher
            .publish(&channel, Bytes::from_static(b"kept"))
            .await
            .unwrap(),
        1
    );
    loop {
        if next(&mut second).await.as_ref() == b"kept" {
            break;
        }
    }
    drop(second);
    eventually_counts(&publisher, &channel, 0).await;
    // And subscribing again works after the unsubscribe.
    let mut again = subscriber.subscribe(&channel).await.unwrap();
    eventually_counts(&publisher, &channel, 1).await;
    publisher
        .publish(&channel, Bytes::from_static(b"back"))
        .await
        .unwrap();
    loop {
        if next(&mut again).await.as_ref() == b"back" {
            break;
        }
    }
}
