//! A shard driven by a scripted source against the real ClickHouse. Losing partitions: the
//! rebalance is let go only once everything the shard applied from them is stored and committed,
//! and what it read from them in the round under way is dropped uncommitted. Behind its
//! partitions: rounds applied while one is stored are held and stored together.
//! (`tests/pipeline.rs` and the shard-count test run the same paths on the real broker.)

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use gosight_common::backend::{AnalyticsStore, BusMessage, ClickHouseStore};
use gosight_common::kafka::Topics;
use gosight_common::testing::Engines;
use gosight_processor::source::{Committer, Consumed, Revocation, ShardSource};
use gosight_processor::{ProcessorConfig, ProcessorError, Shard};
use gosight_proto::event::Payload;
use gosight_proto::*;
use prost::Message as _;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

type Offsets = HashMap<(String, i32), i64>;

/// Hands the shard what the test sends it.
struct Scripted {
    rx: mpsc::UnboundedReceiver<Consumed>,
    committer: Arc<SlowCommitter>,
}

#[async_trait]
impl ShardSource for Scripted {
    async fn recv(&mut self) -> Result<Consumed, ProcessorError> {
        match self.rx.recv().await {
            Some(consumed) => Ok(consumed),
            None => std::future::pending().await,
        }
    }

    fn maybe_seen(&self, _: &str, _: i32, _: i64) -> bool {
        false
    }

    fn committer(&self) -> Arc<dyn Committer> {
        self.committer.clone()
    }
}

/// Records commits, each taking `delay`; says when one starts.
struct SlowCommitter {
    delay: Duration,
    started: mpsc::UnboundedSender<Offsets>,
    done: Mutex<Vec<Offsets>>,
}

#[async_trait]
impl Committer for SlowCommitter {
    async fn commit(&self, offsets: &Offsets) -> Result<(), ProcessorError> {
        let _ = self.started.send(offsets.clone());
        tokio::time::sleep(self.delay).await;
        self.done.lock().unwrap().push(offsets.clone());
        Ok(())
    }
}

impl SlowCommitter {
    /// Waits (up to 30 s) until `offset` of `partition` is committed.
    async fn until(&self, topic: &str, partition: i32, offset: i64) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.committed(topic, partition) != Some(offset) {
            assert!(
                Instant::now() < deadline,
                "offset {offset} of partition {partition} was never committed"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The highest offset committed for `partition` of `topic`.
    fn committed(&self, topic: &str, partition: i32) -> Option<i64> {
        let done = self.done.lock().unwrap();
        done.iter()
            .filter_map(|o| o.get(&(topic.to_string(), partition)).copied())
            .max()
    }
}

fn click(project: Uuid, session: Uuid) -> (Uuid, Bytes) {
    let event_id = Uuid::new_v4();
    let at = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    let envelope = EventEnvelope {
        project_id: project.to_string(),
        session: Some(SessionMeta {
            session_id: session.to_string(),
            ..Default::default()
        }),
        received_at: Some(Timestamp { unix_ms: at }),
        event: Some(Event {
            event_id: event_id.to_string(),
            r#type: EventType::Click as i32,
            timestamp: Some(Timestamp { unix_ms: at }),
            page: Some(Page {
                url: "https://shop.example/cart".into(),
                path: "/cart".into(),
                ..Default::default()
            }),
            sequence: 0,
            payload: Some(Payload::Click(ClickPayload {
                x: 10,
                y: 10,
                ..Default::default()
            })),
        }),
        ..Default::default()
    };
    (event_id, Bytes::from(envelope.encode_to_vec()))
}

fn message(topic: &str, partition: i32, offset: i64, payload: Bytes) -> Consumed {
    Consumed::Message(BusMessage {
        topic: topic.into(),
        partition,
        offset,
        key: None,
        payload,
        headers: Vec::new(),
    })
}

/// Sends a click of `session` at each of `offsets` of `partition`; returns their event ids.
fn send_clicks(
    tx: &mpsc::UnboundedSender<Consumed>,
    topic: &str,
    partition: i32,
    offsets: std::ops::Range<i64>,
    (project, session): (Uuid, Uuid),
) -> Vec<Uuid> {
    offsets
        .map(|offset| {
            let (id, payload) = click(project, session);
            tx.send(message(topic, partition, offset, payload)).unwrap();
            id
        })
        .collect()
}

/// Waits (off the runtime) until the revocation is let go; returns when that was.
async fn released(wake: std::sync::mpsc::Receiver<()>) -> Instant {
    tokio::task::spawn_blocking(move || {
        let _ = wake.recv_timeout(Duration::from_secs(30));
        Instant::now()
    })
    .await
    .unwrap()
}

/// Revokes `partition` and waits until the shard lets the rebalance go.
async fn revoke(tx: &mpsc::UnboundedSender<Consumed>, topic: &str, partition: i32) {
    let (revocation, wake) = Revocation::new(
        vec![(topic.to_string(), partition)],
        Instant::now() + Duration::from_secs(60),
    );
    tx.send(Consumed::Revoked(revocation)).unwrap();
    released(wake).await;
}

/// Nothing of `session` is stored: no session row, no events.
async fn assert_nothing_stored(store: &ClickHouseStore, project: Uuid, session: Uuid) {
    assert_eq!(event_count(store, project, session).await, 0);
    assert!(
        store
            .session_events(project, session)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn event_count(store: &ClickHouseStore, project: Uuid, session: Uuid) -> u32 {
    store
        .session_rows(&[(project, session)])
        .await
        .unwrap()
        .first()
        .map_or(0, |row| row.event_count)
}

struct Harness {
    engines: Engines,
    clickhouse: gosight_common::clickhouse::ClickHouseConfig,
    store: Arc<ClickHouseStore>,
    topic: String,
    tx: mpsc::UnboundedSender<Consumed>,
    started: mpsc::UnboundedReceiver<Offsets>,
    committer: Arc<SlowCommitter>,
    stop: CancellationToken,
    running: tokio::task::JoinHandle<Result<(), ProcessorError>>,
}

/// A shard on a scripted source and the real ClickHouse; each commit takes `commit_delay`.
async fn harness(commit_delay: Duration, session_timeout_secs: u64) -> Harness {
    let config = ProcessorConfig {
        flush_interval_ms: 300,
        session_timeout_secs,
        ..Default::default()
    };
    harness_with(commit_delay, config).await
}

async fn harness_with(commit_delay: Duration, config: ProcessorConfig) -> Harness {
    let engines = Engines::from_env();
    let clickhouse = engines.migrated_clickhouse().await.unwrap();
    let store = Arc::new(ClickHouseStore::new(&clickhouse));
    let topics = Topics::default();
    let topic = topics.events_raw.clone();
    let (tx, rx) = mpsc::unbounded_channel();
    let (started_tx, started) = mpsc::unbounded_channel();
    let committer = Arc::new(SlowCommitter {
        delay: commit_delay,
        started: started_tx,
        done: Mutex::default(),
    });
    let stop = CancellationToken::new();
    let source = Scripted {
        rx,
        committer: committer.clone(),
    };
    let shard = Shard::new(
        config,
        topics,
        Box::new(source),
        store.clone(),
        None,
        None,
        None,
        stop.clone(),
    )
    .unwrap();
    Harness {
        engines,
        clickhouse,
        store,
        topic,
        tx,
        started,
        committer,
        stop,
        running: actix::spawn(shard.run()),
    }
}

impl Harness {
    async fn cleanup(self) -> Result<(), ProcessorError> {
        self.stop.cancel();
        let result = self.running.await.unwrap();
        self.engines
            .drop_clickhouse_database(&self.clickhouse)
            .await
            .unwrap();
        result
    }
}

#[actix_rt::test]
async fn a_revocation_waits_for_the_round_being_stored_and_drops_the_round_under_way() {
    let h = harness(Duration::from_millis(1500), 1800).await;
    let (store, topic, tx, committer) = (&h.store, &h.topic, &h.tx, &h.committer);
    let mut started = h.started;
    let project = Uuid::new_v4();
    let (kept, dropped) = (Uuid::new_v4(), Uuid::new_v4());

    // Partition 1: three clicks, then a revocation while their round is being stored (its
    // commit takes 1.5 s). The rebalance must wait until rows and commit are done.
    send_clicks(tx, topic, 1, 0..3, (project, kept));
    let first = started.recv().await.unwrap();
    assert_eq!(first.get(&(topic.clone(), 1)), Some(&2));
    let (revocation, wake) = Revocation::new(
        vec![(topic.clone(), 1)],
        Instant::now() + Duration::from_secs(60),
    );
    let revoked_at = Instant::now();
    tx.send(Consumed::Revoked(revocation)).unwrap();
    let released_at = released(wake).await;
    assert!(
        released_at - revoked_at >= Duration::from_millis(1000),
        "let go only after the commit in flight finished"
    );
    assert_eq!(
        committer.committed(topic, 1),
        Some(2),
        "committed before the release"
    );
    assert_eq!(
        event_count(store, project, kept).await,
        3,
        "stored before the release"
    );

    // Partition 2: a click read in the round under way when the partition is revoked is
    // dropped: not stored, not committed (its new owner reads it).
    send_clicks(tx, topic, 2, 0..1, (project, dropped));
    revoke(tx, topic, 2).await;
    // Partition 3 goes on: once its click is stored, the dropped one would have been too.
    let stored_id = send_clicks(tx, topic, 3, 0..1, (project, kept))[0];
    committer.until(topic, 3, 0).await;
    assert_eq!(
        committer.committed(topic, 2),
        None,
        "the dropped click is not committed"
    );
    assert_nothing_stored(store, project, dropped).await;
    let events = store.session_events(project, kept).await.unwrap();
    assert_eq!(events.len(), 4);
    assert!(events.iter().any(|e| e.event_id == stored_id));

    let h = Harness { started, ..h };
    h.cleanup().await.unwrap();
}

#[actix_rt::test]
async fn a_rebalance_that_gives_up_stops_the_shard_before_anything_else_is_stored() {
    let h = harness(Duration::from_secs(3), 1800).await;
    let mut started = h.started;
    let project = Uuid::new_v4();
    let session = Uuid::new_v4();
    send_clicks(&h.tx, &h.topic, 1, 0..1, (project, session));
    started.recv().await.unwrap();
    // The group waits half a second; the commit in flight takes three.
    let (revocation, _wake) = Revocation::new(
        vec![(h.topic.clone(), 1)],
        Instant::now() + Duration::from_millis(500),
    );
    h.tx.send(Consumed::Revoked(revocation)).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(10), h.running)
        .await
        .expect("the shard stops")
        .unwrap();
    assert!(
        matches!(result, Err(ProcessorError::RebalanceTimeout)),
        "{result:?}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        h.committer.committed(&h.topic, 1),
        None,
        "the commit in flight was abandoned"
    );
    h.engines
        .drop_clickhouse_database(&h.clickhouse)
        .await
        .unwrap();
}

#[actix_rt::test]
async fn a_session_seen_again_after_it_ended_resumes_from_its_final_row() {
    let h = harness(Duration::ZERO, 1).await;
    let (project, session) = (Uuid::new_v4(), Uuid::new_v4());
    send_clicks(&h.tx, &h.topic, 1, 0..1, (project, session));
    // Idle past the one-second timeout: the final row (inactive) is stored.
    let deadline = Instant::now() + Duration::from_secs(30);
    let ended = loop {
        let rows = h.store.session_rows(&[(project, session)]).await.unwrap();
        if let Some(row) = rows.into_iter().find(|r| !r.is_active) {
            break row;
        }
        assert!(Instant::now() < deadline, "the session never ended");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(ended.event_count, 1);
    send_clicks(&h.tx, &h.topic, 1, 1..2, (project, session));
    let deadline = Instant::now() + Duration::from_secs(30);
    let resumed = loop {
        let rows = h.store.session_rows(&[(project, session)]).await.unwrap();
        if let Some(row) = rows.into_iter().find(|r| r.event_count == 2) {
            break row;
        }
        assert!(
            Instant::now() < deadline,
            "the second click was never counted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(resumed.version > ended.version, "the newer row wins");
    assert_eq!(resumed.started_at, ended.started_at);
    h.cleanup().await.unwrap();
}

/// Rounds of 5 events; while one is stored (each commit takes 1.5 s), up to 20 events of the
/// rounds after it are held.
async fn holding_rounds() -> Harness {
    let config = ProcessorConfig {
        flush_interval_ms: 300,
        max_batch_rows: 5,
        backlog_batch_rows: 20,
        ..Default::default()
    };
    harness_with(Duration::from_millis(1500), config).await
}

#[actix_rt::test]
async fn rounds_applied_while_one_is_stored_are_stored_together() {
    let h = holding_rounds().await;
    let mut started = h.started;
    let (project, session) = (Uuid::new_v4(), Uuid::new_v4());
    // Nothing being stored: the first round ends at 5.
    send_clicks(&h.tx, &h.topic, 1, 0..5, (project, session));
    let committed_at = |offsets: Offsets| offsets[&(h.topic.clone(), 1)];
    assert_eq!(committed_at(started.recv().await.unwrap()), 4);
    // While it is stored, 30 more arrive: four rounds of 5 are held (20), the fifth would go
    // past that, so it waits for the first and goes with the held ones (offsets 5 to 29); the
    // last round is held until those are in, and then goes at once.
    send_clicks(&h.tx, &h.topic, 1, 5..35, (project, session));
    assert_eq!(committed_at(started.recv().await.unwrap()), 29);
    assert_eq!(committed_at(started.recv().await.unwrap()), 34);
    h.committer.until(&h.topic, 1, 34).await;
    assert_eq!(event_count(&h.store, project, session).await, 35);
    assert_eq!(
        h.store
            .session_events(project, session)
            .await
            .unwrap()
            .len(),
        35
    );

    let h = Harness { started, ..h };
    h.cleanup().await.unwrap();
}

#[actix_rt::test]
async fn a_revocation_stores_the_rounds_held_and_drops_the_round_under_way() {
    let h = holding_rounds().await;
    let (topic, tx, committer) = (&h.topic, &h.tx, &h.committer);
    let mut started = h.started;
    let project = Uuid::new_v4();
    let (kept, moved) = (Uuid::new_v4(), Uuid::new_v4());
    send_clicks(tx, topic, 1, 0..5, (project, kept));
    started.recv().await.unwrap();
    // While that round is stored: 3 clicks from partition 1 and 8 from partition 2. Two rounds
    // of 5 are applied and held (partition 1 to offset 7, partition 2 to 6), the third has read
    // partition 2's last click when partition 2 is revoked.
    send_clicks(tx, topic, 1, 5..8, (project, kept));
    let last = send_clicks(tx, topic, 2, 0..8, (project, moved))[7];
    revoke(tx, topic, 2).await;
    // Before the release: the held rounds are stored and committed; the click read since is
    // dropped, for the new owner.
    assert_eq!(committer.committed(topic, 1), Some(7));
    assert_eq!(committer.committed(topic, 2), Some(6));
    assert_eq!(event_count(&h.store, project, kept).await, 8);
    assert_eq!(event_count(&h.store, project, moved).await, 7);
    let events = h.store.session_events(project, moved).await.unwrap();
    assert_eq!(events.len(), 7);
    assert!(events.iter().all(|e| e.event_id != last));

    let h = Harness { started, ..h };
    h.cleanup().await.unwrap();
}
