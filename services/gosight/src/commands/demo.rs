//! `gosight standalone --demo`: realistic traffic for the "Demo shop" project, through the same
//! ingest pipeline the SDK's requests take, so every page of the dashboard has something to show.
//!
//! First a backfill of sessions spread over the last three days (page views, clicks, scrolls,
//! web vitals, rrweb replays; some with rage clicks, dead clicks, error clicks, a thrashed
//! cursor, JS and network errors), then a live session every few seconds, sent as it happens.

use std::sync::Arc;
use std::time::Duration;

use gosight_api::accounts::{create_project, new_api_key, new_key_record};
use gosight_common::backend::{MetadataStore, ProjectScope};
use gosight_ingest::{ClientInfo, Ingestor};
use gosight_proto::event::Payload;
use gosight_proto::{
    ClickOutcomePayload, ClickPayload, CustomPayload, Device, Event, EventBatch, EventType,
    JsErrorPayload, MouseMovePayload, MousePosition, NetworkErrorPayload, Page, PageViewPayload,
    ReplayChunk, ReplayEncoding, ScrollPayload, SessionMeta, StackFrame, TargetElement, Timestamp,
    WebVitalName, WebVitalsPayload,
};
use rand::Rng;
use rand::seq::IndexedRandom;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub const DEMO_PROJECT: &str = "Demo shop";
const BACKFILL_SESSIONS: usize = 80;
const SITE: &str = "https://demo-shop.example";

#[derive(Debug, Clone)]
pub struct DemoProject {
    pub project_id: Uuid,
    key: String,
}

/// The demo project (created on first use) and a fresh write key for it.
pub async fn prepare(meta: &dyn MetadataStore, owner: &str) -> anyhow::Result<DemoProject> {
    let owner_user = meta
        .find_user_by_email(owner)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no user {owner} to own the demo project"))?;
    let existing = meta
        .list_projects(owner_user.id, ProjectScope::All)
        .await?
        .into_iter()
        .find(|p| p.project.name == DEMO_PROJECT);
    match existing {
        Some(access) => {
            let key = new_api_key();
            meta.create_api_key(
                access.project.id,
                new_key_record(&key, "demo", Some(owner_user.id)),
            )
            .await?;
            Ok(DemoProject {
                project_id: access.project.id,
                key,
            })
        }
        None => {
            let created = create_project(meta, DEMO_PROJECT, owner).await?;
            Ok(DemoProject {
                project_id: created.project_id,
                key: created.write_key,
            })
        }
    }
}

const PAGES: &[(&str, &str)] = &[
    ("/", "Demo shop"),
    ("/products", "All products"),
    ("/products/lamp", "Desk lamp"),
    ("/products/chair", "Office chair"),
    ("/pricing", "Pricing"),
    ("/cart", "Your cart"),
    ("/checkout", "Checkout"),
];

const AGENTS: &[(&str, u32, u32)] = &[
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        1440,
        900,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
        1280,
        800,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
        1512,
        945,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        390,
        844,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
        412,
        915,
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
        820,
        1180,
    ),
];

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// One scripted visit: its events in time order and its replay.
struct Visit {
    session: SessionMeta,
    events: Vec<Event>,
    replay: Vec<serde_json::Value>,
    width: u32,
    height: u32,
}

impl Visit {
    fn new(rng: &mut impl Rng) -> Self {
        let (agent, width, height) = *AGENTS.choose(rng).unwrap_or(&AGENTS[0]);
        let users = [
            "",
            "",
            "",
            "ana@example.com",
            "li@example.com",
            "sam@example.com",
        ];
        Self {
            session: SessionMeta {
                session_id: Uuid::new_v4().to_string(),
                user_id: users.choose(rng).copied().unwrap_or("").to_string(),
                anonymous_id: format!("demo-{:08x}", rng.random::<u32>()),
                device: Some(Device {
                    user_agent: agent.into(),
                    screen_width: width,
                    screen_height: height,
                    viewport_width: width,
                    viewport_height: height,
                    device_pixel_ratio: 2.0,
                    language: "en-GB".into(),
                    timezone: "Europe/London".into(),
                    touch: width < 800,
                }),
                sdk_version: "demo".into(),
                ..Default::default()
            },
            events: Vec::new(),
            replay: Vec::new(),
            width,
            height,
        }
    }

    fn push(&mut self, t: i64, kind: EventType, path: &str, payload: Payload) -> String {
        let title = PAGES
            .iter()
            .find(|(p, _)| *p == path)
            .map_or("Demo shop", |(_, t)| t);
        let id = Uuid::new_v4().to_string();
        self.events.push(Event {
            event_id: id.clone(),
            r#type: kind as i32,
            timestamp: Some(Timestamp { unix_ms: t }),
            page: Some(Page {
                url: format!("{SITE}{path}"),
                path: path.into(),
                title: title.into(),
                referrer: String::new(),
            }),
            sequence: self.events.len() as u64,
            payload: Some(payload),
        });
        id
    }

    /// The page as an rrweb full snapshot (node ids are stable per page), after a meta event.
    fn snapshot(&mut self, t: i64, path: &str) {
        let title = PAGES
            .iter()
            .find(|(p, _)| *p == path)
            .map_or("Demo shop", |(_, t)| t);
        let element = |id: u32,
                       tag: &str,
                       attributes: serde_json::Value,
                       children: serde_json::Value| {
            serde_json::json!({"type": 2, "tagName": tag, "attributes": attributes, "childNodes": children, "id": id})
        };
        let text = |id: u32, s: &str| serde_json::json!({"type": 3, "textContent": s, "id": id});
        let body = element(
            5,
            "body",
            serde_json::json!({"style": "font-family: system-ui, sans-serif; margin: 0; background: #f7f7f9"}),
            serde_json::json!([
                element(
                    6,
                    "header",
                    serde_json::json!({"style": "background:#1f2937;color:#fff;padding:16px 32px;font-size:20px"}),
                    serde_json::json!([text(7, "Demo shop")])
                ),
                element(
                    8,
                    "main",
                    serde_json::json!({"style": "padding:32px"}),
                    serde_json::json!([
                        element(
                            9,
                            "h1",
                            serde_json::json!({}),
                            serde_json::json!([text(10, title)])
                        ),
                        element(
                            11,
                            "p",
                            serde_json::json!({"style": "max-width:40em;line-height:1.5"}),
                            serde_json::json!([text(
                                12,
                                "Hand-made furniture and lighting, shipped in two days. Free returns within 30 days."
                            )])
                        ),
                        element(
                            13,
                            "button",
                            serde_json::json!({"id": "buy", "style": "padding:12px 24px;font-size:16px;background:#2563eb;color:#fff;border:0;border-radius:6px"}),
                            serde_json::json!([text(14, "Add to cart")])
                        ),
                        element(
                            15,
                            "div",
                            serde_json::json!({"class": "promo", "style": "margin-top:24px;padding:16px;background:#fde68a;border-radius:6px"}),
                            serde_json::json!([text(
                                16,
                                "20% off this week: looks like a link, is not one"
                            )])
                        ),
                    ])
                ),
            ]),
        );
        let html = element(
            3,
            "html",
            serde_json::json!({}),
            serde_json::json!([
                element(4, "head", serde_json::json!({}), serde_json::json!([])),
                body,
            ]),
        );
        self.replay.push(serde_json::json!({"type": 4, "data": {"href": format!("{SITE}{path}"), "width": self.width, "height": self.height}, "timestamp": t}));
        self.replay.push(
            serde_json::json!({"type": 2, "data": {"node": {"type": 0, "childNodes": [
            {"type": 1, "name": "html", "publicId": "", "systemId": "", "id": 2}, html], "id": 1},
            "initialOffset": {"left": 0, "top": 0}}, "timestamp": t}),
        );
    }

    fn replay_move(&mut self, t: i64, x: i32, y: i32) {
        self.replay.push(serde_json::json!({"type": 3, "data": {"source": 1, "positions": [{"x": x, "y": y, "id": 5, "timeOffset": 0}]}, "timestamp": t}));
    }

    fn replay_click(&mut self, t: i64, node: u32, x: i32, y: i32) {
        self.replay.push(serde_json::json!({"type": 3, "data": {"source": 2, "type": 2, "id": node, "x": x, "y": y}, "timestamp": t}));
    }

    fn click(
        &mut self,
        t: i64,
        path: &str,
        target: (&str, &str, &str, u32),
        at: (i32, i32),
        responded: bool,
    ) -> i64 {
        let (tag, selector, text, node) = target;
        let id = self.push(
            t,
            EventType::Click,
            path,
            Payload::Click(ClickPayload {
                x: at.0,
                y: at.1,
                page_x: at.0,
                page_y: at.1,
                viewport_width: self.width,
                viewport_height: self.height,
                document_height: self.height * 2,
                target: Some(TargetElement {
                    tag: tag.into(),
                    selector: selector.into(),
                    text: text.into(),
                    ..Default::default()
                }),
                button: 0,
                detail: 1,
                ..Default::default()
            }),
        );
        self.replay_move(t - 200, at.0, at.1);
        self.replay_click(t, node, at.0, at.1);
        let observed = if responded { 150 } else { 1000 };
        self.push(
            t + observed,
            EventType::ClickOutcome,
            path,
            Payload::ClickOutcome(ClickOutcomePayload {
                click_event_id: id,
                observed_ms: observed as u32,
                dom_mutated: responded,
                first_response_ms: if responded { 80 } else { 0 },
                ..Default::default()
            }),
        );
        t + observed
    }

    /// A visit of a few pages from `start`, with what `rng` picks; returns its end.
    fn script(&mut self, rng: &mut impl Rng, start: i64) -> i64 {
        let mut t = start;
        let pages = rng.random_range(1..=5);
        let mut previous = String::new();
        let buy = ("button", "#buy", "Add to cart", 13u32);
        let promo = ("div", "main > div.promo", "20% off this week", 15u32);
        for n in 0..pages {
            let path = if n == 0 {
                PAGES[rng.random_range(0..3)].0
            } else {
                PAGES.choose(rng).map_or("/", |p| p.0)
            };
            self.push(
                t,
                EventType::PageView,
                path,
                Payload::PageView(PageViewPayload {
                    navigation_type: if n == 0 { 1 } else { 2 },
                    previous_url: previous.clone(),
                }),
            );
            previous = format!("{SITE}{path}");
            self.snapshot(t, path);
            // Most who reach the checkout order (for a funnel to end on).
            if path == "/checkout" && rng.random_bool(0.6) {
                self.push(
                    t + 1_200,
                    EventType::Custom,
                    path,
                    Payload::Custom(CustomPayload {
                        name: "order_placed".into(),
                        properties: [("items".to_string(), rng.random_range(1..4).to_string())]
                            .into(),
                    }),
                );
            }
            for (name, value) in [
                (WebVitalName::Lcp, rng.random_range(900.0..4200.0)),
                (WebVitalName::Fcp, rng.random_range(400.0..2200.0)),
                (WebVitalName::Ttfb, rng.random_range(60.0..900.0)),
                (WebVitalName::Cls, rng.random_range(0.0..0.3)),
                (WebVitalName::Inp, rng.random_range(40.0..600.0)),
            ] {
                self.push(
                    t + 800,
                    EventType::WebVitals,
                    path,
                    Payload::WebVitals(WebVitalsPayload {
                        name: name as i32,
                        value,
                        metric_id: Uuid::new_v4().to_string(),
                        ..Default::default()
                    }),
                );
            }
            t += rng.random_range(1500..4000);
            // Read down the page.
            for depth in [25u32, 50, 75].iter().take(rng.random_range(1..=3)) {
                self.push(
                    t,
                    EventType::Scroll,
                    path,
                    Payload::Scroll(ScrollPayload {
                        scroll_y: (self.height * depth / 100) as i32,
                        viewport_height: self.height,
                        document_height: self.height * 2,
                        max_depth_percent: *depth + 25,
                        ..Default::default()
                    }),
                );
                t += rng.random_range(800..2500);
            }
            // Where the snapshot's button and promo box render (the text above wraps more on
            // narrow screens).
            let by = if self.width < 800 { 300 } else { 252 };
            let (bx, px, py) = (90, (self.width / 3) as i32, by + 72);
            match rng.random_range(0..10) {
                // Rage: seven quick clicks on a button that answers too slowly.
                0 | 1 => {
                    for i in 0..7 {
                        t = self.click(t, path, buy, (bx + i % 3, by + i % 2), true) - 20;
                    }
                }
                // Dead: a click on something that looks clickable and is not.
                2 | 3 => t = self.click(t, path, promo, (px, py), false),
                // Error click: the click handler throws.
                4 => {
                    t = self.click(t, path, buy, (bx, by), true) - 100;
                    self.push(
                        t,
                        EventType::JsError,
                        path,
                        Payload::JsError(JsErrorPayload {
                            message: "TypeError: Cannot read properties of undefined (reading 'price')".into(),
                            error_type: "TypeError".into(),
                            source: format!("{SITE}/assets/cart.js"),
                            line: 42,
                            column: 17,
                            stack: "TypeError: Cannot read properties of undefined (reading 'price')\n    at addToCart (cart.js:42:17)\n    at HTMLButtonElement.onclick (cart.js:10:5)".into(),
                            frames: vec![StackFrame {
                                function: "addToCart".into(),
                                file: format!("{SITE}/assets/cart.js"),
                                line: 42,
                                column: 17,
                            }],
                            unhandled_rejection: false,
                        }),
                    );
                    t += 700;
                }
                // Thrashed cursor: fast back and forth.
                5 => {
                    let positions = (0..12)
                        .map(|i| MousePosition {
                            x: if i % 2 == 0 { 200 } else { 700 },
                            y: 300 + i,
                            offset_ms: i as u32 * 90,
                        })
                        .collect();
                    for i in 0..12 {
                        self.replay_move(t + i * 90, if i % 2 == 0 { 200 } else { 700 }, 300);
                    }
                    self.push(
                        t,
                        EventType::MouseMove,
                        path,
                        Payload::MouseMove(MouseMovePayload {
                            positions,
                            viewport_width: self.width,
                            viewport_height: self.height,
                        }),
                    );
                    t += 1500;
                }
                6 => {
                    self.push(
                        t,
                        EventType::NetworkError,
                        path,
                        Payload::NetworkError(NetworkErrorPayload {
                            url: format!("{SITE}/api/stock"),
                            method: "GET".into(),
                            status: 503,
                            status_text: "Service Unavailable".into(),
                            duration_ms: 2400,
                            initiator: 1,
                            error_message: String::new(),
                        }),
                    );
                    t = self.click(t + 500, path, buy, (bx, by), true);
                }
                _ => t = self.click(t, path, buy, (bx, by), true),
            }
            t += rng.random_range(1000..6000);
        }
        t
    }

    fn batch(&self, key: &str, events: Vec<Event>, sent_ms: i64) -> EventBatch {
        EventBatch {
            project_key: key.into(),
            session: Some(self.session.clone()),
            events,
            sent_at: Some(Timestamp { unix_ms: sent_ms }),
        }
    }

    fn replay_chunk(
        &self,
        key: &str,
        index: u32,
        events: &[serde_json::Value],
    ) -> Option<ReplayChunk> {
        let stamp = |e: &serde_json::Value| e["timestamp"].as_i64().unwrap_or_default();
        let data = serde_json::to_vec(events).ok()?;
        Some(ReplayChunk {
            project_key: key.into(),
            session_id: self.session.session_id.clone(),
            chunk_index: index,
            first_timestamp: Some(Timestamp {
                unix_ms: events.first().map(stamp)?,
            }),
            last_timestamp: Some(Timestamp {
                unix_ms: events.last().map(stamp)?,
            }),
            has_full_snapshot: events.iter().any(|e| e["type"] == 2),
            event_count: events.len() as u32,
            encoding: ReplayEncoding::Json as i32,
            uncompressed_size: data.len() as u64,
            data,
        })
    }
}

fn client() -> ClientInfo {
    ClientInfo {
        peer: Some(std::net::IpAddr::from([127, 0, 0, 1])),
        forwarded_for: None,
        origin: None,
        traceparent: None,
    }
}

/// Sends one finished visit: events in batches of at most 200, then its replay in chunks.
async fn send(ingestor: &Ingestor, key: &str, visit: Visit) {
    let mut events = visit.events.clone();
    events.sort_by_key(|e| e.timestamp.map(|t| t.unix_ms));
    for chunk in events.chunks(200) {
        let batch = visit.batch(key, chunk.to_vec(), now_ms());
        if let Err(error) = ingestor.events(None, batch, &client()).await {
            tracing::warn!(%error, "demo batch refused");
        }
    }
    let mut replay = visit.replay.clone();
    replay.sort_by_key(|e| e["timestamp"].as_i64());
    for (index, part) in replay.chunks(40).enumerate() {
        if let Some(chunk) = visit.replay_chunk(key, index as u32, part)
            && let Err(error) = ingestor.replay(None, chunk, &client()).await
        {
            tracing::warn!(%error, "demo replay chunk refused");
        }
    }
}

/// Backfills, then keeps live sessions coming until `stop`.
pub async fn run(ingestor: Arc<Ingestor>, project: DemoProject, stop: CancellationToken) {
    // The key cache and the processor need a moment after start.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let now = now_ms();
    for i in 0..BACKFILL_SESSIONS {
        let visit = {
            let mut rng = rand::rng();
            let start = now - 72 * 3_600_000
                + (i as i64) * (70 * 3_600_000 / BACKFILL_SESSIONS as i64)
                + rng.random_range(0..600_000);
            let mut visit = Visit::new(&mut rng);
            visit.script(&mut rng, start);
            visit
        };
        send(&ingestor, &project.key, visit).await;
        if stop.is_cancelled() {
            return;
        }
    }
    tracing::info!(sessions = BACKFILL_SESSIONS, "demo backfill sent");
    // Live: a visit every few seconds, its events sent as their time comes.
    loop {
        let (visit, start) = {
            let mut rng = rand::rng();
            let mut visit = Visit::new(&mut rng);
            let start = now_ms();
            visit.script(&mut rng, start);
            (visit, start)
        };
        let live = {
            let ingestor = ingestor.clone();
            let key = project.key.clone();
            let stop = stop.clone();
            async move { send_live(&ingestor, &key, visit, start, &stop).await }
        };
        tokio::spawn(live);
        let pause = Duration::from_millis(rand::rng().random_range(3000..9000));
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

/// Sends a visit's events and replay in one-second steps, as a browser would.
async fn send_live(
    ingestor: &Ingestor,
    key: &str,
    mut visit: Visit,
    start: i64,
    stop: &CancellationToken,
) {
    visit.events.sort_by_key(|e| e.timestamp.map(|t| t.unix_ms));
    visit.replay.sort_by_key(|e| e["timestamp"].as_i64());
    let (mut next_event, mut next_frame, mut chunk_index) = (0, 0, 0u32);
    while next_event < visit.events.len() {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        let due = now_ms();
        let end = visit.events[next_event..]
            .iter()
            .position(|e| e.timestamp.map_or(0, |t| t.unix_ms) > due)
            .map_or(visit.events.len(), |p| next_event + p);
        if end > next_event {
            let batch = visit.batch(key, visit.events[next_event..end].to_vec(), due);
            if let Err(error) = ingestor.events(None, batch, &client()).await {
                tracing::warn!(%error, "demo batch refused");
            }
            next_event = end;
        }
        let frames_end = visit.replay[next_frame..]
            .iter()
            .position(|e| e["timestamp"].as_i64().unwrap_or(start) > due)
            .map_or(visit.replay.len(), |p| next_frame + p);
        if frames_end > next_frame {
            if let Some(chunk) =
                visit.replay_chunk(key, chunk_index, &visit.replay[next_frame..frames_end])
                && let Err(error) = ingestor.replay(None, chunk, &client()).await
            {
                tracing::warn!(%error, "demo replay chunk refused");
            }
            chunk_index += 1;
            next_frame = frames_end;
        }
    }
}
