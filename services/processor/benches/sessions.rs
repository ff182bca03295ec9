//! Routing and detection without I/O: envelopes grouped per session, as a shard round does, sent
//! to supervised `SessionActor`s that update aggregates, run every detector and build the rows.
//! Each session gets 10 events per round, as one message (a batch, as the ingest writes them) or
//! as ten (one event per message, as older ingests wrote them).
//!
//! `cargo bench -p gosight-processor --bench sessions`; figures in docs/benchmarks.md.

#![allow(clippy::unwrap_used, missing_debug_implementations)]

use std::sync::Arc;

use actix::prelude::*;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::future::join_all;
use gosight_actors::PanicLog;
use gosight_processor::actors::{Apply, SessionActor};
use gosight_processor::detect::Thresholds;
use gosight_processor::payload_json::{generated, payload_json};
use gosight_processor::session::SessionState;
use gosight_proto::event::Payload;
use gosight_proto::*;
use uuid::Uuid;

/// As the `gosight` binary runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SESSIONS: usize = 1_000;
const EVENTS_PER_SESSION: usize = 10;

fn event(n: usize) -> Event {
    let payload = match n % 5 {
        0 => Payload::MouseMove(MouseMovePayload {
            positions: (0..5)
                .map(|i| MousePosition {
                    x: i * 30,
                    y: 10,
                    offset_ms: i as u32 * 50,
                })
                .collect(),
            ..Default::default()
        }),
        1 => Payload::Scroll(ScrollPayload {
            scroll_y: (n * 40) as i32,
            max_depth_percent: 30,
            ..Default::default()
        }),
        _ => Payload::Click(ClickPayload {
            x: (n * 13 % 800) as i32,
            y: 200,
            viewport_width: 1280,
            target: Some(TargetElement {
                tag: "button".into(),
                selector: "main > div.product > button.add-to-cart".into(),
                text: "Add to cart".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
    };
    let ty = match &payload {
        Payload::MouseMove(_) => EventType::MouseMove,
        Payload::Scroll(_) => EventType::Scroll,
        _ => EventType::Click,
    };
    Event {
        event_id: Uuid::new_v4().to_string(),
        r#type: ty as i32,
        timestamp: Some(Timestamp {
            unix_ms: 1_763_700_000_000 + n as i64 * 100,
        }),
        page: Some(Page {
            url: "https://shop.example/products/garden-chair?ref=home".into(),
            path: "/products/garden-chair".into(),
            title: "Garden chair – Shop".into(),
            referrer: "https://www.google.com/".into(),
        }),
        sequence: n as u64,
        payload: Some(payload),
    }
}

/// What the ingest adds to a batch: user, device, geo and parsed user agent filled in.
fn context(project: Uuid, session: Uuid, n: usize) -> EventEnvelope {
    EventEnvelope {
        project_id: project.to_string(),
        session: Some(SessionMeta {
            session_id: session.to_string(),
            user_id: "user-4711".into(),
            anonymous_id: "anon-0b1c2d3e".into(),
            device: Some(Device {
                screen_width: 1920,
                screen_height: 1080,
                viewport_width: 1280,
                viewport_height: 720,
                language: "en-GB".into(),
                timezone: "Europe/Berlin".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        received_at: Some(Timestamp {
            unix_ms: 1_763_700_000_050 + n as i64 * 100,
        }),
        geo: Some(Geo {
            country_code: "DE".into(),
            subdivision_code: "BE".into(),
            subdivision_name: "Berlin".into(),
            city: "Berlin".into(),
        }),
        user_agent: Some(UserAgentInfo {
            browser: "Chrome".into(),
            browser_version: "131.0".into(),
            os: "Windows".into(),
            os_version: "10".into(),
            device_type: DeviceType::Desktop as i32,
            is_bot: false,
        }),
        ..Default::default()
    }
}

/// A session's messages for one round: one per batch of `EVENTS_PER_SESSION` events (as the
/// ingest writes them), or one per event (older ingests).
fn messages(
    project: Uuid,
    session: Uuid,
    offset: &mut i64,
    batched: bool,
) -> Vec<(i32, i64, Arc<EventEnvelope>)> {
    *offset += 1;
    let first = *offset as usize * EVENTS_PER_SESSION;
    if batched {
        let envelope = EventEnvelope {
            events: (first..first + EVENTS_PER_SESSION).map(event).collect(),
            ..context(project, session, first)
        };
        return vec![(0, *offset, Arc::new(envelope))];
    }
    (first..first + EVENTS_PER_SESSION)
        .map(|n| {
            *offset += 1;
            let envelope = EventEnvelope {
                event: Some(event(n)),
                ..context(project, session, n)
            };
            (0, *offset, Arc::new(envelope))
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let system = actix::System::new();
    let project = Uuid::new_v4();
    let thresholds = Arc::new(Thresholds::default());
    let panics = PanicLog::default();
    let actors: Vec<(Uuid, Addr<SessionActor>)> = system.block_on(async {
        (0..SESSIONS)
            .map(|_| {
                let session = Uuid::new_v4();
                let (t, p) = (thresholds.clone(), panics.clone());
                let state = SessionState::new(project, session);
                (
                    session,
                    Supervisor::start(move |_| SessionActor::new(state, t, p)),
                )
            })
            .collect()
    });
    let mut offset = 0i64;
    let mut group = c.benchmark_group("session_actors");
    group.throughput(Throughput::Elements((SESSIONS * EVENTS_PER_SESSION) as u64));
    group.sample_size(20);
    for (name, batched) in [
        ("route_apply_detect_10k_events", true),
        ("route_apply_detect_10k_events_one_per_message", false),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    // Fresh envelopes (new ids, later offsets) for every round.
                    actors
                        .iter()
                        .map(|(session, addr)| {
                            (
                                addr.clone(),
                                messages(project, *session, &mut offset, batched),
                            )
                        })
                        .collect::<Vec<_>>()
                },
                |round| {
                    system.block_on(async {
                        let replies = join_all(
                            round
                                .into_iter()
                                .map(|(addr, batch)| addr.send(Apply(batch))),
                        )
                        .await;
                        let rows = replies
                            .into_iter()
                            .map(|r| r.unwrap().unwrap().events.len())
                            .sum::<usize>();
                        assert_eq!(rows, SESSIONS * EVENTS_PER_SESSION);
                        rows
                    })
                },
                criterion::BatchSize::LargeInput,
            )
        });
    }
    group.finish();
    assert_eq!(panics.count(), 0);
}

/// The `payload` column of the bench's three kinds: written directly, and through the generated
/// `Serialize` impls.
fn payload_column(c: &mut Criterion) {
    let payloads: Vec<Payload> = (0..5).filter_map(|n| event(n).payload).collect();
    let mut group = c.benchmark_group("payload_json");
    group.throughput(Throughput::Elements(payloads.len() as u64));
    group.bench_function("direct", |b| {
        b.iter(|| {
            payloads
                .iter()
                .map(|p| payload_json(p).len())
                .sum::<usize>()
        })
    });
    group.bench_function("generated", |b| {
        b.iter(|| payloads.iter().map(|p| generated(p).len()).sum::<usize>())
    });
    group.finish();
}

criterion_group!(benches, bench, payload_column);
criterion_main!(benches);
