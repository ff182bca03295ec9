//! Memory per idle live session: starts N session actors (default 1,000,000), each having seen
//! one page view and gone quiet (its detection windows freed, as after `detect::QUIET_AFTER`),
//! then reports the process's resident memory growth per session. `-- N busy` keeps the windows.
//!
//! `cargo run --release -p gosight-processor --example idle_sessions -- 1000000 [busy]`

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::sync::Arc;

use actix::prelude::*;
use gosight_actors::PanicLog;
use gosight_processor::actors::{Apply, Quiet, SessionActor};
use gosight_processor::detect::Thresholds;
use gosight_processor::session::SessionState;
use gosight_proto::event::Payload;
use gosight_proto::*;
use uuid::Uuid;

/// As the `gosight` binary runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    // `busy` keeps every session's detection windows, as in its first minute.
    let quiet = std::env::args().nth(2).as_deref() != Some("busy");
    let system = System::new();
    system.block_on(async move {
        let project = Uuid::new_v4();
        let thresholds = Arc::new(Thresholds::default());
        let panics = PanicLog::default();
        let before = rss_kib();
        let mut actors = Vec::with_capacity(count);
        for i in 0..count {
            let session = Uuid::new_v4();
            let (t, p) = (thresholds.clone(), panics.clone());
            let addr = Supervisor::start(move |_| SessionActor::new(SessionState::new(project, session), t, p));
            let envelope = EventEnvelope {
                project_id: project.to_string(),
                session: Some(SessionMeta { session_id: session.to_string(), ..Default::default() }),
                event: Some(Event {
                    event_id: Uuid::new_v4().to_string(),
                    r#type: EventType::PageView as i32,
                    timestamp: Some(Timestamp { unix_ms: 1_763_700_000_000 }),
                    page: Some(Page {
                        url: format!("https://shop.example/products/{}", i % 5000),
                        path: format!("/products/{}", i % 5000),
                        ..Default::default()
                    }),
                    sequence: 1,
                    payload: Some(Payload::PageView(PageViewPayload::default())),
                }),
                ..Default::default()
            };
            addr.send(Apply(vec![(0, i as i64, Arc::new(envelope))])).await.unwrap().unwrap();
            if quiet {
                // As the shard does once a session has been quiet for detect::QUIET_AFTER; in a
                // running shard, what one session frees serves the next, as here.
                addr.send(Quiet).await.unwrap();
            }
            actors.push(addr);
        }
        let after = rss_kib();
        let per_session = (after - before) as f64 * 1024.0 / count as f64;
        let state = if quiet { "idle (windows freed)" } else { "just after their page view" };
        println!("sessions={count} rss_before_kib={before} rss_after_kib={after} bytes_per_session={per_session:.0} {state}");
        println!(
            "inline sizes: session_actor={} session_row={} windows={}",
            std::mem::size_of::<SessionActor>(),
            std::mem::size_of::<gosight_common::backend::SessionRow>(),
            std::mem::size_of::<gosight_processor::detect::Windows>()
        );
        assert_eq!(panics.count(), 0);
    });
}
