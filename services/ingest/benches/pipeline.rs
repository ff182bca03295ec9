//! The per-event path inside one ingest process, without network or broker: decode a batch
//! (protobuf, JSON, gzip), authenticate (cache hit), validate, rate-limit, enrich (user agent,
//! GeoIP), encode one envelope per batch (its events with what the ingest added) and hand it to
//! the bus.
//!
//! `cargo bench -p gosight-ingest --bench pipeline`; figures in docs/benchmarks.md.

#![allow(clippy::unwrap_used, missing_debug_implementations)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use gosight_common::backend::{
    BusRecord, Delivery, EventBus, MetadataStore, NewApiKey, NewProject, NewUser, SqliteMetadata,
    UserRole, hash_api_key,
};
use gosight_common::kafka::Topics;
use gosight_ingest::http::gunzip;
use gosight_ingest::{ClientInfo, Dependencies, IngestConfig, Ingestor};
use gosight_proto::*;
use prost::Message;
use uuid::Uuid;

/// Takes records and drops them, counting bytes so the work cannot be optimised away.
#[derive(Default)]
struct NullBus(AtomicU64);

#[async_trait]
impl EventBus for NullBus {
    async fn publish(&self, record: BusRecord) -> gosight_common::Result<Delivery> {
        self.0
            .fetch_add(record.payload.len() as u64, Ordering::Relaxed);
        Ok(Delivery {
            partition: 0,
            offset: 0,
        })
    }

    async fn check(&self) -> gosight_common::Result<()> {
        Ok(())
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Ten clicks of about 500 bytes each, as the load generator sends.
fn batch() -> EventBatch {
    let filler = "abcdefghij".repeat(8);
    EventBatch {
        project_key: "gs_bench".into(),
        session: Some(SessionMeta {
            session_id: Uuid::new_v4().to_string(),
            device: Some(Device {
                user_agent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36".into(),
                viewport_width: 1280,
                ..Default::default()
            }),
            ..Default::default()
        }),
        events: (0..10)
            .map(|i| Event {
                event_id: Uuid::new_v4().to_string(),
                r#type: EventType::Click as i32,
                timestamp: Some(Timestamp { unix_ms: now_ms() }),
                page: Some(Page {
                    url: format!("https://shop.example/products/{i}?ref={filler}"),
                    path: format!("/products/{i}"),
                    title: "Product page".into(),
                    referrer: String::new(),
                }),
                sequence: i,
                payload: Some(event::Payload::Click(ClickPayload {
                    x: 10,
                    y: 20,
                    viewport_width: 1280,
                    target: Some(TargetElement {
                        tag: "button".into(),
                        selector: format!("main > button#buy-{i}.{filler}"),
                        text: filler.clone(),
                        ..Default::default()
                    }),
                    ..Default::default()
                })),
            })
            .collect(),
        sent_at: Some(Timestamp { unix_ms: now_ms() }),
    }
}

/// An embedded metadata store holding the one key the batches use, `gs_bench`, with no
/// effective rate limit. The key is cached after its first lookup, as in production.
async fn metadata(dir: &std::path::Path) -> SqliteMetadata {
    let store = SqliteMetadata::open(dir.join("metadata.db")).await.unwrap();
    let owner = store
        .create_user(NewUser {
            email: "bench@example.com".into(),
            name: String::new(),
            password_hash: String::new(),
            role: UserRole::Admin,
        })
        .await
        .unwrap();
    let project = NewProject {
        name: "Bench".into(),
        slug: "bench".into(),
        owner: owner.id,
    };
    let key = NewApiKey {
        name: "bench".into(),
        prefix: "gs_bench".into(),
        hash: hash_api_key("gs_bench"),
        permissions: vec!["write".into()],
        rate_limit: i32::MAX,
        rate_burst: i32::MAX,
        expires_at: None,
        created_by: None,
    };
    store.create_project(project, key).await.unwrap();
    store
}

fn ingestor(metadata: SqliteMetadata) -> Ingestor {
    let mut config = IngestConfig::default();
    if let Ok(path) = std::env::var("GEOIP_TEST_DB") {
        config.geoip_database = path;
    }
    Ingestor::new(
        config,
        Dependencies {
            metadata: Arc::new(metadata),
            bus: Arc::new(NullBus::default()),
            topics: Topics::default(),
            redis: None,
            replay_enabled: true,
        },
    )
    .unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ingestor = ingestor(runtime.block_on(metadata(dir.path())));
    runtime.block_on(ingestor.check_broker());
    let client = ClientInfo {
        peer: "81.2.69.142".parse().ok(),
        ..Default::default()
    };
    let sample = batch();
    let protobuf = sample.encode_to_vec();
    let json = serde_json::to_vec(&sample).unwrap();
    let gzip_protobuf = gzip(&protobuf);

    let mut group = c.benchmark_group("ingest_batch_of_10");
    group.throughput(Throughput::Elements(10));
    let inputs: [(&str, &Vec<u8>); 3] = [
        ("protobuf", &protobuf),
        ("json", &json),
        ("gzip_protobuf", &gzip_protobuf),
    ];
    for (name, body) in inputs {
        group.bench_with_input(BenchmarkId::from_parameter(name), body, |b, body| {
            b.iter(|| {
                let decoded: EventBatch = match name {
                    "json" => serde_json::from_slice(body).unwrap(),
                    "gzip_protobuf" => {
                        EventBatch::decode(gunzip(body, 8 << 20).unwrap().as_slice()).unwrap()
                    }
                    _ => EventBatch::decode(body.as_slice()).unwrap(),
                };
                // Fresh ids each round, as real traffic has.
                let mut decoded = decoded;
                for event in &mut decoded.events {
                    event.event_id = Uuid::new_v4().to_string();
                }
                runtime
                    .block_on(ingestor.events(Some("gs_bench"), decoded, &client))
                    .unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
