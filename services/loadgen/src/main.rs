//! `gosight-loadgen`: sends realistic event batches to an ingest at a fixed or maximal rate and
//! reports throughput, latency percentiles and errors.
//!
//! ```sh
//! gosight-loadgen --key gs_… --protocol http-protobuf --gzip --rate 10000 --duration 30
//! gosight-loadgen --key gs_… --protocol grpc --rate 0 --concurrency 64   # as fast as it goes
//! gosight-loadgen --key gs_… --rate 170000 --concurrency 8192 --threads 2  # overload on purpose
//! ```
//!
//! Each batch holds `--batch` events (default 10) of about `--event-bytes` bytes (default 500)
//! for one of `--sessions` sessions: clicks on one of 200 product pages. With `--rate`, batches
//! start on a fixed schedule and latency is measured from the scheduled start, so a slow server
//! cannot hide its queueing (no coordinated omission).

#![allow(clippy::print_stdout)]

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, ValueEnum};
use gosight_proto::ingest_service_client::IngestServiceClient;
use gosight_proto::*;
use hdrhistogram::Histogram;
use prost::Message;
use tokio::sync::Mutex;
use uuid::Uuid;

/// Building and encoding batches is many small allocations; the load generator shares a core
/// with the broker in the benchmarks, so it should cost as little as it can.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Protocol {
    HttpProtobuf,
    HttpJson,
    Grpc,
}

#[derive(Debug, Parser)]
struct Args {
    /// Ingest HTTP base URL.
    #[arg(long, default_value = "http://127.0.0.1:8081")]
    http: String,
    /// Ingest gRPC address.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    grpc: String,
    /// A project write key.
    #[arg(long)]
    key: String,
    #[arg(long, value_enum, default_value = "http-protobuf")]
    protocol: Protocol,
    /// gzip HTTP bodies.
    #[arg(long)]
    gzip: bool,
    /// Events per second; 0 sends as fast as `--concurrency` allows.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Seconds to run.
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Requests in flight at most.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    #[arg(long, default_value_t = 10)]
    batch: usize,
    #[arg(long, default_value_t = 500)]
    event_bytes: usize,
    #[arg(long, default_value_t = 1000)]
    sessions: usize,
    /// Threads building and sending batches. One is cheapest per event (no wake-ups across
    /// threads); more reach higher rates, e.g. to overload an ingest on purpose.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// Distinct pages (and buttons) the generated events land on, as on a shop with this many
/// product pages: per-page aggregates (heatmaps, time on page) grow with pages, not events.
const PAGES: usize = 200;

/// Text sized so the encoded event is about `event_bytes`: it pads the URL, the selector and the
/// element's text.
fn filler(event_bytes: usize) -> String {
    let pad = event_bytes.saturating_sub(260) / 3;
    "abcdefghij".repeat(pad / 10 + 1)[..pad].to_string()
}

fn event(i: usize, filler: &str) -> Event {
    let page = i % PAGES;
    Event {
        // Random bytes from the thread's generator: one system call per event would cost the
        // load generator more than building the event.
        event_id: uuid::Builder::from_random_bytes(rand::random())
            .into_uuid()
            .to_string(),
        r#type: EventType::Click as i32,
        timestamp: Some(Timestamp { unix_ms: now_ms() }),
        page: Some(Page {
            url: format!("https://shop.example/products/{page}?ref={filler}"),
            path: format!("/products/{page}"),
            title: "Product page".into(),
            referrer: String::new(),
        }),
        sequence: i as u64,
        payload: Some(event::Payload::Click(ClickPayload {
            x: (i * 37 % 1280) as i32,
            y: (i * 53 % 720) as i32,
            page_x: (i * 37 % 1280) as i32,
            page_y: (i * 91 % 4000) as i32,
            viewport_width: 1280,
            viewport_height: 720,
            document_height: 4000,
            target: Some(TargetElement {
                tag: "button".into(),
                id: format!("buy-{page}"),
                classes: vec!["btn".into(), "btn-primary".into()],
                selector: format!("main > section:nth-child(2) > button#buy-{page}.{filler}"),
                text: filler.chars().take(100).collect(),
                ..Default::default()
            }),
            ..Default::default()
        })),
    }
}

fn batch(args: &Args, sessions: &[Uuid], filler: &str, n: usize) -> EventBatch {
    let session = sessions[n % sessions.len()];
    EventBatch {
        project_key: args.key.clone(),
        session: Some(SessionMeta {
            session_id: session.to_string(),
            device: Some(Device {
                user_agent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36".into(),
                viewport_width: 1280,
                viewport_height: 720,
                ..Default::default()
            }),
            ..Default::default()
        }),
        events: (0..args.batch).map(|i| event(n * args.batch + i, filler)).collect(),
        sent_at: Some(Timestamp { unix_ms: now_ms() }),
    }
}

fn gzip(data: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data)?;
    Ok(encoder.finish()?)
}

#[derive(Default)]
struct Stats {
    ok: u64,
    errors: std::collections::BTreeMap<String, u64>,
}

async fn send_http(client: &reqwest::Client, args: &Args, body: EventBatch) -> Result<(), String> {
    let (bytes, content_type) = match args.protocol {
        Protocol::HttpJson => (
            serde_json::to_vec(&body).map_err(|e| e.to_string())?,
            "application/json",
        ),
        _ => (body.encode_to_vec(), "application/x-protobuf"),
    };
    let mut request = client
        .post(format!("{}/v1/events", args.http))
        .header("content-type", content_type)
        .header("x-gosight-key", &args.key);
    let bytes = if args.gzip {
        request = request.header("content-encoding", "gzip");
        gzip(&bytes).map_err(|e| e.to_string())?
    } else {
        bytes
    };
    let response = request
        .body(bytes)
        .send()
        .await
        .map_err(|e| format!("transport: {e}"))?;
    match response.status().as_u16() {
        200 => Ok(()),
        status => Err(format!("http {status}")),
    }
}

/// By default one thread builds batches and drives every request, so no wake-ups cross threads
/// (with a thread per core, they cost the load generator more than its own work).
fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = match args.threads {
        0 | 1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build()?,
    };
    runtime.block_on(run(Arc::new(args)))
}

async fn run(args: Arc<Args>) -> anyhow::Result<()> {
    let filler = filler(args.event_bytes);
    let sessions: Arc<Vec<Uuid>> = Arc::new((0..args.sessions).map(|_| Uuid::new_v4()).collect());
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let grpc = if args.protocol == Protocol::Grpc {
        Some(
            IngestServiceClient::connect(args.grpc.clone())
                .await
                .context("grpc connect")?,
        )
    } else {
        None
    };
    let histogram = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(
        1, 60_000_000, 3,
    )?));
    let stats = Arc::new(Mutex::new(Stats::default()));
    let permits = Arc::new(tokio::sync::Semaphore::new(args.concurrency));
    let started = Instant::now();
    let end = started + Duration::from_secs(args.duration);
    let interval =
        (args.rate > 0).then(|| Duration::from_secs_f64(args.batch as f64 / args.rate as f64));
    let mut tasks = Vec::new();
    let mut n = 0usize;
    while Instant::now() < end {
        let scheduled = match interval {
            Some(every) => {
                let at = started + every.mul_f64(n as f64);
                if at >= end {
                    break;
                }
                tokio::time::sleep_until(at.into()).await;
                at
            }
            None => Instant::now(),
        };
        let permit = permits.clone().acquire_owned().await?;
        let body = batch(&args, &sessions, &filler, n);
        n += 1;
        let (args, http, grpc) = (args.clone(), http.clone(), grpc.clone());
        let (histogram, stats) = (histogram.clone(), stats.clone());
        tasks.push(tokio::spawn(async move {
            let result = match grpc {
                Some(mut client) => {
                    let reply = client.send_events(futures::stream::iter(vec![body])).await;
                    match reply {
                        Ok(response) => {
                            let mut acks = response.into_inner();
                            match acks.message().await {
                                Ok(Some(_)) => Ok(()),
                                Ok(None) => Err("grpc: no ack".to_string()),
                                Err(status) => Err(format!("grpc {:?}", status.code())),
                            }
                        }
                        Err(status) => Err(format!("grpc {:?}", status.code())),
                    }
                }
                None => send_http(&http, &args, body).await,
            };
            let micros = scheduled.elapsed().as_micros() as u64;
            histogram.lock().await.saturating_record(micros.max(1));
            let mut stats = stats.lock().await;
            match result {
                Ok(()) => stats.ok += 1,
                Err(reason) => *stats.errors.entry(reason).or_default() += 1,
            }
            drop(permit);
        }));
        if tasks.len() > 10_000 {
            tasks.retain(|t| !t.is_finished());
        }
    }
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let histogram = histogram.lock().await;
    let stats = stats.lock().await;
    let events = stats.ok * args.batch as u64;
    println!(
        "protocol={:?} gzip={} batch={} event_bytes={} rate={} concurrency={} threads={}",
        args.protocol,
        args.gzip,
        args.batch,
        args.event_bytes,
        args.rate,
        args.concurrency,
        args.threads
    );
    println!(
        "requests_ok={} events_ok={} elapsed_s={elapsed:.1} events_per_s={:.0}",
        stats.ok,
        events,
        events as f64 / elapsed
    );
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "latency_ms p50={:.2} p99={:.2} p99.9={:.2} max={:.2}",
        ms(0.5),
        ms(0.99),
        ms(0.999),
        histogram.max() as f64 / 1000.0
    );
    println!("errors={:?}", stats.errors);
    Ok(())
}
