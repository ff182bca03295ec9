#![allow(clippy::unwrap_used, dead_code)]
//! A real ingest on 127.0.0.1:0 with its own PostgreSQL database, topics and key.

use std::sync::Arc;
use std::time::Duration;

use gosight_common::backend::{KafkaBus, KafkaBusConsumer, PostgresMetadata, hash_api_key};
use gosight_common::health::Health;
use gosight_common::kafka::{KafkaConfig, Topics};
use gosight_common::postgres::PostgresConfig;
use gosight_common::testing::{Engines, unique_name};
use gosight_ingest::{Dependencies, IngestConfig, IngestServer};
use gosight_proto::*;
use prost::Message;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub const PARTITIONS: i32 = 3;

pub struct Harness {
    pub engines: Engines,
    pub postgres: PostgresConfig,
    pub pool: deadpool_postgres::Pool,
    pub topics: Topics,
    pub project: Uuid,
    pub key: String,
    pub server: IngestServer,
    pub shutdown: CancellationToken,
    pub http: reqwest::Client,
    pub base: String,
}

pub struct Options {
    pub config: IngestConfig,
    pub rate_limit: i32,
    pub rate_burst: i32,
    pub allowed_domains: Vec<String>,
    pub kafka: Option<KafkaConfig>,
    /// A Redis of the test's own; default: the shared one.
    pub redis: Option<gosight_common::redis::RedisConfig>,
}

impl Default for Options {
    fn default() -> Self {
        let mut config = IngestConfig {
            http_listen: "127.0.0.1:0".into(),
            grpc_listen: "127.0.0.1:0".into(),
            workers: 1,
            trusted_proxies: vec!["127.0.0.1".into()],
            store_ip: true,
            ..Default::default()
        };
        if let Ok(path) = std::env::var("GEOIP_TEST_DB") {
            config.geoip_database = path;
        }
        Self {
            config,
            rate_limit: 100_000,
            rate_burst: 100_000,
            allowed_domains: vec![],
            kafka: None,
            redis: None,
        }
    }
}

impl Harness {
    pub async fn start(options: Options) -> Self {
        let engines = Engines::from_env();
        let postgres = engines.migrated_postgres().await.unwrap();
        let pool = postgres.pool().unwrap();
        let client = pool.get().await.unwrap();
        let project: Uuid = client
            .query_one(
                "INSERT INTO projects (name, slug, allowed_domains) VALUES ('Shop', 'shop', $1) RETURNING id",
                &[&options.allowed_domains],
            )
            .await
            .unwrap()
            .get(0);
        let key = format!("gs_{}", unique_name("key"));
        client
            .execute(
                "INSERT INTO api_keys (project_id, key_prefix, key_hash, rate_limit, rate_burst) VALUES ($1, 'gs_', $2, $3, $4)",
                &[&project, &hash_api_key(&key).as_slice(), &options.rate_limit, &options.rate_burst],
            )
            .await
            .unwrap();
        drop(client);

        let topics = Topics::prefixed(&format!("{}.", unique_name("t")));
        engines
            .kafka
            .ensure_topics(&topics.all(), PARTITIONS)
            .await
            .unwrap();
        let wait = options.kafka.is_none();
        let kafka = options.kafka.unwrap_or_else(|| engines.kafka.clone());
        let deps = Dependencies {
            metadata: Arc::new(PostgresMetadata::new(pool.clone())),
            bus: Arc::new(KafkaBus::new(&kafka).unwrap()),
            topics: topics.clone(),
            redis: Some(
                options
                    .redis
                    .as_ref()
                    .unwrap_or(&engines.redis)
                    .connect()
                    .await
                    .unwrap(),
            ),
            replay_enabled: true,
        };
        let shutdown = CancellationToken::new();
        let server =
            gosight_ingest::start(options.config, deps, Health::default(), shutdown.clone())
                .await
                .unwrap();
        let base = format!("http://{}", server.http_addr);
        let harness = Self {
            engines,
            postgres,
            pool,
            topics,
            project,
            key,
            server,
            shutdown,
            http: reqwest::Client::new(),
            base,
        };
        if wait {
            harness.wait_ready().await;
        }
        harness
    }

    pub async fn wait_ready(&self) {
        for _ in 0..100 {
            let response = self
                .http
                .get(format!("{}/ready", self.base))
                .send()
                .await
                .unwrap();
            if response.status() == 200 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("ingest never became ready");
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        let url = format!("{}/metrics", self.base);
        self.http
            .get(url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub fn consumer(&self, topic: &str) -> KafkaBusConsumer {
        KafkaBusConsumer::new(&self.engines.kafka, &unique_name("group"), None, &[topic]).unwrap()
    }

    /// Reads messages from `topic` until they carry `n` events (fails after 30 s): the key,
    /// partition and envelope of each message.
    pub async fn read_messages(&self, topic: &str, n: usize) -> Vec<(String, i32, EventEnvelope)> {
        let consumer = self.consumer(topic);
        let mut out = Vec::new();
        let mut events = 0;
        while events < n {
            let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
                .await
                .expect("timed out reading the topic")
                .unwrap();
            let key = String::from_utf8(message.key.unwrap().to_vec()).unwrap();
            let envelope = EventEnvelope::decode(message.payload).unwrap();
            events += envelope.event_count();
            out.push((key, message.partition, envelope));
        }
        out
    }

    /// Reads `n` events from `topic`, each as an envelope of its own (`event` set) with its
    /// message's key and partition.
    pub async fn read(&self, topic: &str, n: usize) -> Vec<(String, i32, EventEnvelope)> {
        let mut out = Vec::new();
        for (key, partition, envelope) in self.read_messages(topic, n).await {
            for event in envelope.all_events() {
                let single = EventEnvelope {
                    event: Some(event.clone()),
                    events: Vec::new(),
                    ..envelope.clone()
                };
                out.push((key.clone(), partition, single));
            }
        }
        out
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.server.stopped.await;
        self.engines
            .kafka
            .delete_topics(&self.topics.all())
            .await
            .unwrap();
        self.pool.close();
        self.engines
            .drop_postgres_database(&self.postgres)
            .await
            .unwrap();
    }
}

pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

pub fn session(id: Uuid) -> SessionMeta {
    SessionMeta {
        session_id: id.to_string(),
        user_id: "user-7".into(),
        anonymous_id: "anon-7".into(),
        device: Some(Device {
            user_agent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36".into(),
            viewport_width: 1280,
            viewport_height: 720,
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn click(ts: i64) -> Event {
    Event {
        event_id: Uuid::new_v4().to_string(),
        r#type: EventType::Click as i32,
        timestamp: Some(Timestamp { unix_ms: ts }),
        page: Some(Page {
            url: "https://shop.example/cart".into(),
            path: "/cart".into(),
            ..Default::default()
        }),
        sequence: 1,
        payload: Some(event::Payload::Click(ClickPayload {
            x: 100,
            y: 200,
            viewport_width: 1280,
            target: Some(TargetElement {
                tag: "button".into(),
                text: "Pay".into(),
                ..Default::default()
            }),
            ..Default::default()
        })),
    }
}

pub fn js_error(ts: i64) -> Event {
    Event {
        event_id: Uuid::new_v4().to_string(),
        r#type: EventType::JsError as i32,
        timestamp: Some(Timestamp { unix_ms: ts }),
        page: None,
        sequence: 2,
        payload: Some(event::Payload::JsError(JsErrorPayload {
            message: "boom".into(),
            stack: "x".repeat(40_000),
            ..Default::default()
        })),
    }
}

pub fn batch(session_id: Uuid, events: Vec<Event>) -> EventBatch {
    EventBatch {
        project_key: String::new(),
        session: Some(session(session_id)),
        events,
        sent_at: Some(Timestamp { unix_ms: now_ms() }),
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}
