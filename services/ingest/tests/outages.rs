//! The ingest when its broker or Redis goes away and comes back: private engine processes, so
//! other tests keep theirs.

#![allow(clippy::unwrap_used)]

mod harness;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gosight_common::kafka::KafkaConfig;
use harness::*;
use prost::Message;
use uuid::Uuid;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A private broker; killed when dropped, so a failing test leaves no process behind.
struct Broker {
    child: Child,
    port: u16,
    dir: Option<tempfile::TempDir>,
}

impl Broker {
    fn start(port: u16, dir: tempfile::TempDir) -> Self {
        let bin = std::env::var("NOIDA_DB_BIN").expect("NOIDA_DB_BIN (scripts/services.sh env)");
        let child = Command::new(bin)
            .args([
                "start",
                "--only",
                "kafka",
                "--host",
                "127.0.0.1",
                "--kafka-port",
            ])
            .arg(port.to_string())
            .arg("--data-dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "broker did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            child,
            port,
            dir: Some(dir),
        }
    }

    /// Stops it and hands back its port and data, for a restart.
    fn stop(mut self) -> (u16, tempfile::TempDir) {
        let dir = self.dir.take().expect("a running broker has its data");
        (self.port, dir)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn broker_stopped_means_503_and_no_2xx_then_recovery() {
    let broker = Broker::start(free_port(), tempfile::tempdir().unwrap());
    let mut kafka = KafkaConfig {
        brokers: format!("127.0.0.1:{}", broker.port),
        message_timeout_ms: 3_000,
        ..Default::default()
    };
    kafka
        .librdkafka
        .insert("reconnect.backoff.max.ms".into(), "500".into());
    let mut options = Options {
        kafka: Some(kafka.clone()),
        ..Default::default()
    };
    options.config.key_cache_ttl_secs = 60;
    let mut h = Harness::start(options).await;
    // The harness made its topics on the shared broker; this ingest writes to the private one.
    kafka
        .ensure_topics(&h.topics.all(), PARTITIONS)
        .await
        .unwrap();
    h.wait_ready().await;
    let body = || batch(Uuid::new_v4(), vec![click(now_ms())]).encode_to_vec();
    let headers = [
        ("content-type", "application/x-protobuf"),
        ("x-gosight-key", h.key.as_str()),
    ];
    let send = |h: &Harness, body: Vec<u8>| {
        let request = h.http.post(format!("{}/v1/events", h.base)).body(body);
        let request = headers.iter().fold(request, |r, (k, v)| r.header(*k, *v));
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(send(&h, body()).await, 200);

    let (port, dir) = broker.stop();
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(send(&h, body()).await);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        statuses.iter().all(|s| *s == 503),
        "no 2xx while the broker is down: {statuses:?}"
    );

    let broker = Broker::start(port, dir);
    // Reconnecting and re-initialising the idempotent producer is quick on an idle machine
    // (seconds) but waits on backoffs; the bound leaves room for a CI machine running every
    // other test beside this one.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if send(&h, body()).await == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "ingest did not recover");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    h.engines.kafka = kafka;
    h.stop().await;
    broker.stop();
}

#[tokio::test]
async fn redis_down_keeps_accepting_and_counts_it() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let mut redis = Command::new("redis-server")
        .args([
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--port",
        ])
        .arg(port.to_string())
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let config = gosight_common::redis::RedisConfig {
        url: format!("redis://127.0.0.1:{port}"),
        ..Default::default()
    };
    let options = Options {
        redis: Some(config),
        rate_limit: 1000,
        rate_burst: 1000,
        ..Default::default()
    };
    let h = Harness::start(options).await;
    let headers = [
        ("content-type", "application/x-protobuf"),
        ("x-gosight-key", h.key.as_str()),
    ];
    let send = |body: Vec<u8>| {
        let request = h.http.post(format!("{}/v1/events", h.base)).body(body);
        let request = headers.iter().fold(request, |r, (k, v)| r.header(*k, *v));
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(
        send(batch(Uuid::new_v4(), vec![click(now_ms())]).encode_to_vec()).await,
        200
    );
    redis.kill().unwrap();
    redis.wait().unwrap();
    // Enough events that the first lease runs out and the shared budget must be asked again.
    for _ in 0..5 {
        let events = (0..100).map(|i| click(now_ms() + i)).collect();
        assert_eq!(
            send(batch(Uuid::new_v4(), events).encode_to_vec()).await,
            200
        );
    }
    let metrics = h.metrics().await;
    let errors: f64 = metrics
        .lines()
        .find(|l| l.starts_with("gosight_ingest_rate_limit_redis_errors_total"))
        .and_then(|l| l.split_whitespace().last())
        .unwrap()
        .parse()
        .unwrap();
    assert!(errors >= 1.0, "{metrics}");
    h.stop().await;
}
