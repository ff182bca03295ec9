//! Processor shards as operators run them: `gosight processor` processes, killed with SIGKILL
//! and restarted, and scaled from two to three to two under a steady stream. Every event ends
//! up in ClickHouse exactly once as queries see it, and every session row is right.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gosight_common::backend::{BusRecord, EventBus, KafkaBus};
use gosight_common::clickhouse::ClickHouseConfig;
use gosight_common::kafka::KafkaConfig;
use gosight_common::migrate::{self, ClickHouseTarget};
use gosight_common::retention::RetentionConfig;
use gosight_common::testing::{Engines, unique_name};
use gosight_proto::event::Payload;
use gosight_proto::*;
use prost::Message;
use uuid::Uuid;

const PARTITIONS: i32 = 6;

struct Setup {
    engines: Engines,
    kafka: KafkaConfig,
    clickhouse: ClickHouseConfig,
    group: String,
    project: Uuid,
    /// Kept after the test, for reading when it fails.
    logs: std::path::PathBuf,
}

async fn setup() -> Setup {
    let engines = Engines::from_env();
    let clickhouse = engines.migrated_clickhouse().await.unwrap();
    let kafka = engines.kafka_with_topics(PARTITIONS).await.unwrap();
    Setup {
        engines,
        kafka,
        clickhouse,
        group: unique_name("group"),
        project: Uuid::new_v4(),
        logs: tempfile::tempdir().unwrap().keep(),
    }
}

/// A child process that is killed when dropped, so a failing test leaves none behind.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// `shard`: a static member id, or `dynamic-N` for a member without one.
fn processor(s: &Setup, shard: &str) -> Proc {
    processor_with(s, shard, &[])
}

/// The same with extra arguments (e.g. `--config FILE`).
fn processor_with(s: &Setup, shard: &str, args: &[&str]) -> Proc {
    let log = std::fs::File::create(s.logs.join(format!("{shard}.log"))).unwrap();
    let shard_id = if shard.starts_with("dynamic") {
        ""
    } else {
        shard
    };
    let t = &s.kafka.topics;
    Command::new(env!("CARGO_BIN_EXE_gosight"))
        .args(args)
        .arg("processor")
        .env_clear()
        .env("KAFKA_BROKERS", &s.kafka.brokers)
        .env("CLICKHOUSE_URL", &s.clickhouse.url)
        .env("REDIS_URL", &s.engines.redis.url)
        .env("GOSIGHT_CLICKHOUSE__DATABASE", &s.clickhouse.database)
        .env("GOSIGHT_KAFKA__TOPICS__EVENTS_RAW", &t.events_raw)
        .env("GOSIGHT_KAFKA__TOPICS__REPLAY_CHUNKS", &t.replay_chunks)
        .env("GOSIGHT_KAFKA__TOPICS__EVENTS_ERRORS", &t.events_errors)
        .env("GOSIGHT_KAFKA__TOPICS__INSIGHTS", &t.insights)
        .env("GOSIGHT_PROCESSOR__GROUP_ID", &s.group)
        .env("GOSIGHT_PROCESSOR__PROBE_LISTEN", "127.0.0.1:0")
        .env("GOSIGHT_PROCESSOR__FLUSH_INTERVAL_MS", "200")
        .env("GOSIGHT_PROCESSOR__MAX_BATCH_ROWS", "300")
        .env("GOSIGHT_SHARD_ID", shard_id)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map(Proc)
        .unwrap()
}

fn sigterm(child: &mut Proc) {
    let child = &mut child.0;
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "processor did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn click(project: Uuid, session: Uuid, n: u64) -> EventEnvelope {
    let at = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    EventEnvelope {
        project_id: project.to_string(),
        session: Some(SessionMeta {
            session_id: session.to_string(),
            ..Default::default()
        }),
        received_at: Some(Timestamp { unix_ms: at }),
        event: Some(Event {
            event_id: Uuid::new_v4().to_string(),
            r#type: EventType::Click as i32,
            timestamp: Some(Timestamp { unix_ms: at }),
            page: Some(Page {
                url: "https://shop.example/".into(),
                path: "/".into(),
                ..Default::default()
            }),
            sequence: n,
            payload: Some(Payload::Click(ClickPayload {
                x: (n % 997) as i32,
                y: 10,
                ..Default::default()
            })),
        }),
        ..Default::default()
    }
}

async fn produce(
    bus: &KafkaBus,
    s: &Setup,
    sessions: &[Uuid],
    round: u64,
    sent: &mut HashMap<Uuid, u32>,
) {
    for session in sessions {
        bus.publish(record(s, *session, round)).await.unwrap();
        *sent.entry(*session).or_default() += 1;
    }
}

/// A session's click of `round`, as the ingest publishes it.
fn record(s: &Setup, session: Uuid, round: u64) -> BusRecord {
    BusRecord {
        topic: s.kafka.topics.events_raw.clone(),
        key: format!("{}:{session}", s.project),
        payload: Bytes::from(click(s.project, session, round).encode_to_vec()),
        headers: vec![],
    }
}

async fn scalar(s: &Setup, sql: &str) -> u64 {
    s.clickhouse
        .client()
        .query(sql)
        .fetch_one::<u64>()
        .await
        .unwrap()
}

/// Waits until ClickHouse holds every sent event exactly once and every session row agrees.
async fn verify(s: &Setup, sent: &HashMap<Uuid, u32>) {
    let total: u64 = sent.values().map(|n| u64::from(*n)).sum();
    let p = s.project;
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let seen = scalar(
            s,
            &format!("SELECT count() FROM events FINAL WHERE project_id = '{p}'"),
        )
        .await;
        let distinct = scalar(
            s,
            &format!("SELECT uniqExact(event_id) FROM events WHERE project_id = '{p}'"),
        )
        .await;
        let rows: Vec<(String, u32)> = s
            .clickhouse
            .client()
            .query(
                "SELECT toString(session_id), event_count FROM sessions FINAL WHERE project_id = ?",
            )
            .bind(p)
            .fetch_all()
            .await
            .unwrap();
        let right = rows.len() == sent.len()
            && rows
                .iter()
                .all(|(id, n)| sent.get(&Uuid::parse_str(id).unwrap()) == Some(n));
        if seen == total && distinct == total && right {
            return;
        }
        if Instant::now() > deadline {
            let wrong: Vec<_> = rows
                .iter()
                .filter(|(id, n)| sent.get(&Uuid::parse_str(id).unwrap()) != Some(n))
                .take(5)
                .collect();
            panic!(
                "events as queried {seen}, distinct {distinct}, sent {total}; sessions {} of {}; wrong rows {wrong:?}; logs in {:?}",
                rows.len(),
                sent.len(),
                s.logs
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn cleanup(s: Setup) {
    s.engines
        .drop_clickhouse_database(&s.clickhouse)
        .await
        .unwrap();
    s.kafka.delete_topics(&s.kafka.topics.all()).await.unwrap();
}

#[tokio::test]
async fn sigkill_mid_batch_then_restart_loses_and_duplicates_nothing() {
    let s = setup().await;
    let bus = KafkaBus::new(&s.kafka).unwrap();
    let sessions: Vec<Uuid> = (0..100).map(|_| Uuid::new_v4()).collect();
    let mut sent = HashMap::new();
    for round in 0..30 {
        produce(&bus, &s, &sessions, round, &mut sent).await;
    }
    let mut child = processor(&s, "shard-0");
    let p = s.project;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let seen = scalar(
            &s,
            &format!("SELECT count() FROM events WHERE project_id = '{p}'"),
        )
        .await;
        if seen > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no progress; logs in {:?}",
            s.logs
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let partial = scalar(
        &s,
        &format!("SELECT count() FROM events WHERE project_id = '{p}'"),
    )
    .await;
    assert!(
        partial < 3000,
        "the kill must land mid-stream (saw {partial})"
    );

    // Same shard id: static membership hands its partitions straight back.
    let mut child = processor(&s, "shard-0");
    for round in 30..40 {
        produce(&bus, &s, &sessions, round, &mut sent).await;
    }
    verify(&s, &sent).await;
    sigterm(&mut child);
    cleanup(s).await;
}

/// Dynamic members: they leave the group when stopped, so their partitions move at once. (The
/// test broker never reassigns a departed static member's partitions; Kafka does after
/// `session.timeout.ms`.)
#[tokio::test]
async fn two_then_three_then_two_shards_under_a_steady_stream() {
    let s = setup().await;
    let bus = KafkaBus::new(&s.kafka).unwrap();
    let sessions: Vec<Uuid> = (0..60).map(|_| Uuid::new_v4()).collect();
    let mut sent = HashMap::new();
    let mut shards = vec![processor(&s, "dynamic-0"), processor(&s, "dynamic-1")];
    let started = Instant::now();
    let mut round = 0;
    let mut third_started = false;
    let mut third_stopped = false;
    while started.elapsed() < Duration::from_secs(24) {
        produce(&bus, &s, &sessions, round, &mut sent).await;
        round += 1;
        if !third_started && started.elapsed() > Duration::from_secs(6) {
            shards.push(processor(&s, "dynamic-2"));
            third_started = true;
        }
        if !third_stopped && started.elapsed() > Duration::from_secs(15) {
            let mut third = shards.pop().unwrap();
            sigterm(&mut third);
            third_stopped = true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    verify(&s, &sent).await;
    for mut shard in shards {
        sigterm(&mut shard);
    }
    cleanup(s).await;
}

#[tokio::test]
async fn shards_joining_and_leaving_while_one_works_through_a_backlog_lose_nothing() {
    let s = setup().await;
    let bus = KafkaBus::new(&s.kafka).unwrap();
    let sessions: Vec<Uuid> = (0..100).map(|_| Uuid::new_v4()).collect();
    let mut sent = HashMap::new();
    let mut records = Vec::new();
    for round in 0..100 {
        for session in &sessions {
            records.push(record(&s, *session, round));
            *sent.entry(*session).or_default() += 1;
        }
    }
    bus.publish_all(records).await.unwrap();
    // The first shard fills its hand-off at once and pauses its partitions while it catches up;
    // the group rebalances under it twice.
    let mut first = processor(&s, "dynamic-0");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut second = processor(&s, "dynamic-1");
    tokio::time::sleep(Duration::from_secs(5)).await;
    sigterm(&mut second);
    verify(&s, &sent).await;
    sigterm(&mut first);
    cleanup(s).await;
}

/// A ClickHouse of the test's own (chdb, as `scripts/services.sh` runs it), to stop and restart.
struct PrivateClickHouse {
    child: Proc,
    port: u16,
    dir: std::path::PathBuf,
}

impl PrivateClickHouse {
    fn start(port: u16, dir: std::path::PathBuf) -> Self {
        let python = std::env::var("CHDB_PYTHON").expect("CHDB_PYTHON (scripts/services.sh env)");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/chdb_server.py");
        let child = Command::new(python)
            .arg(script)
            .arg(&dir)
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map(Proc)
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "clickhouse did not start");
            std::thread::sleep(Duration::from_millis(200));
        }
        Self { child, port, dir }
    }

    fn stop(self) -> (u16, std::path::PathBuf) {
        // Dropping the guard kills the server.
        let Self { child, port, dir } = self;
        drop(child);
        (port, dir)
    }
}

#[tokio::test]
async fn clickhouse_down_for_30_s_loses_nothing() {
    // Longer than the consumer group waits for a member that does not poll: the shard keeps
    // polling (its partitions paused) while it waits, so it stays in the group. More arrives
    // during the outage than the shard holds (the round it cannot store, up to 300 events held,
    // the round being read and a hand-off of 256 messages), so it pauses its partitions, and
    // everything sent during the outage is stored only if it resumes them once ClickHouse is back.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let clickhouse_dir = tempfile::tempdir().unwrap().keep();
    let server = PrivateClickHouse::start(port, clickhouse_dir);
    let mut s = setup().await;
    s.engines
        .drop_clickhouse_database(&s.clickhouse)
        .await
        .unwrap();
    s.clickhouse.url = format!("http://127.0.0.1:{port}");
    migrate::run(
        &ClickHouseTarget::new(s.clickhouse.clone()),
        &migrate::embedded("clickhouse").unwrap(),
        &RetentionConfig::default(),
    )
    .await
    .unwrap();
    let bus = KafkaBus::new(&s.kafka).unwrap();
    let sessions: Vec<Uuid> = (0..20).map(|_| Uuid::new_v4()).collect();
    let mut sent = HashMap::new();
    let config = s.logs.join("gosight.yaml");
    std::fs::write(
        &config,
        "kafka:\n  librdkafka:\n    max.poll.interval.ms: \"12000\"\nprocessor:\n  backlog_batch_rows: 300\n",
    )
    .unwrap();
    let mut child = processor_with(&s, "shard-0", &["--config", config.to_str().unwrap()]);
    for round in 0..5 {
        produce(&bus, &s, &sessions, round, &mut sent).await;
    }
    verify(&s, &sent).await;

    let (port, dir) = server.stop();
    let down = Instant::now();
    let mut round = 5;
    let log = || std::fs::read_to_string(s.logs.join("shard-0.log")).unwrap();
    // At least 30 s, and on until the shard has paused (a slow machine sends more slowly).
    while down.elapsed() < Duration::from_secs(30)
        || (!log().contains("consumption paused") && down.elapsed() < Duration::from_secs(90))
    {
        for _ in 0..3 {
            produce(&bus, &s, &sessions, round, &mut sent).await;
            round += 1;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        child.0.try_wait().unwrap().is_none(),
        "the processor keeps running while ClickHouse is down; logs in {:?}",
        s.logs
    );
    assert!(
        log().contains("consumption paused"),
        "the shard paused its partitions while it had no room; logs in {:?}",
        s.logs
    );
    let server = PrivateClickHouse::start(port, dir);
    // A round sent after ClickHouse is back is stored too.
    produce(&bus, &s, &sessions, round, &mut sent).await;
    verify(&s, &sent).await;
    assert!(
        log().contains("consumption resumed"),
        "logs in {:?}",
        s.logs
    );
    sigterm(&mut child);
    s.kafka.delete_topics(&s.kafka.topics.all()).await.unwrap();
    server.stop();
}
