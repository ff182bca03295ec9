//! `gosight standalone` as a new user runs it: one process, one data directory, one address.
//! Batches sent the way the SDK sends them come back through the API as a session with its
//! events, insights and replay; after `kill -9` and a restart every acknowledged event is there,
//! once.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gosight_proto::event::Payload;
use gosight_proto::*;
use prost::Message;
use uuid::Uuid;

struct Standalone {
    child: Child,
    base: String,
    /// From the first start's banner.
    password: Option<String>,
    key: Option<String>,
}

/// A test that fails does not leave its server running.
impl Drop for Standalone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `gosight standalone` on a free port and reads its banner.
fn start(dir: &std::path::Path) -> Standalone {
    start_with(dir, &[])
}

/// [`start`] with more arguments, e.g. `--demo`.
fn start_with(dir: &std::path::Path, extra: &[&str]) -> Standalone {
    // A stand-in dashboard build, to see it served on the same address.
    let dashboard = dir.join("dashboard-build");
    std::fs::create_dir_all(&dashboard).unwrap();
    std::fs::write(
        dashboard.join("index.html"),
        "<title>GoSight dashboard</title>",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gosight"))
        .env("GOSIGHT_API__DASHBOARD_DIR", &dashboard)
        .args(["standalone", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .args(extra)
        .env("GOSIGHT_LOG__LEVEL", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (mut base, mut password, mut key) = (None, None, None);
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["dashboard", url] => base = Some(url.trim_end_matches('/').to_string()),
            ["sign", "in", _, "/", pw, ..] => password = Some(pw.to_string()),
            _ => {}
        }
        if let Some(start) = line.find("projectKey: \"") {
            let rest = &line[start + 13..];
            key = Some(rest[..rest.find('"').unwrap()].to_string());
        }
        if key.is_some() || (base.is_some() && line.contains("Settings")) {
            break;
        }
    }
    // Keep reading, so the process never writes to a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Standalone {
        child,
        base: base.expect("the banner names the dashboard URL"),
        password,
        key,
    }
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

fn event(kind: EventType, t: i64, seq: u64, payload: Payload) -> Event {
    Event {
        event_id: Uuid::new_v4().to_string(),
        r#type: kind as i32,
        timestamp: Some(Timestamp { unix_ms: t }),
        page: Some(Page {
            url: "https://shop.example/pricing".into(),
            path: "/pricing".into(),
            title: "Pricing".into(),
            referrer: String::new(),
        }),
        sequence: seq,
        payload: Some(payload),
    }
}

fn click(t: i64, seq: u64, x: i32) -> Event {
    event(
        EventType::Click,
        t,
        seq,
        Payload::Click(ClickPayload {
            x,
            y: 200,
            page_x: x,
            page_y: 200,
            viewport_width: 1280,
            viewport_height: 800,
            target: Some(TargetElement {
                tag: "button".into(),
                selector: "#buy".into(),
                text: "Buy".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
    )
}

fn batch(key: &str, session: Uuid, events: Vec<Event>) -> EventBatch {
    EventBatch {
        project_key: key.into(),
        session: Some(SessionMeta {
            session_id: session.to_string(),
            device: Some(Device {
                user_agent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36".into(),
                viewport_width: 1280,
                viewport_height: 800,
                ..Default::default()
            }),
            ..Default::default()
        }),
        events,
        sent_at: Some(Timestamp { unix_ms: now_ms() }),
    }
}

async fn post(http: &reqwest::Client, url: &str, body: Vec<u8>) -> reqwest::Response {
    http.post(url)
        .header("content-type", "application/x-protobuf")
        .header("accept", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn login(http: &reqwest::Client, base: &str, password: &str) -> String {
    let response: serde_json::Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({ "email": "admin@gosight.local", "password": password }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    response["access_token"].as_str().unwrap().to_string()
}

async fn get(http: &reqwest::Client, token: &str, url: &str) -> serde_json::Value {
    http.get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap_or(serde_json::Value::Null)
}

/// Polls `probe` until it holds, for up to 20 s.
async fn eventually(what: &str, mut probe: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !probe().await {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn project_of(http: &reqwest::Client, token: &str, base: &str) -> String {
    let projects = get(http, token, &format!("{base}/api/v1/projects")).await;
    projects["projects"][0]["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_batches_become_a_session_with_insights_and_replay() {
    let dir = tempfile::tempdir().unwrap();
    let mut gosight = start(dir.path());
    let (base, key) = (gosight.base.clone(), gosight.key.clone().unwrap());
    let http = reqwest::Client::new();
    let session = Uuid::new_v4();
    let t = now_ms() - 20_000;
    let mut events = vec![event(
        EventType::PageView,
        t,
        0,
        Payload::PageView(PageViewPayload::default()),
    )];
    // Six clicks within a second on one button: one rage click.
    events.extend((0..6).map(|i| click(t + 1000 + i * 150, 1 + i as u64, 400 + i as i32)));
    // A click nothing answers: a dead click.
    let dead = click(t + 5000, 7, 900);
    let outcome = event(
        EventType::ClickOutcome,
        t + 6000,
        8,
        Payload::ClickOutcome(ClickOutcomePayload {
            click_event_id: dead.event_id.clone(),
            observed_ms: 1000,
            ..Default::default()
        }),
    );
    events.extend([dead, outcome]);
    let body = batch(&key, session, events).encode_to_vec();
    let response = post(&http, &format!("{base}/v1/events"), body).await;
    assert_eq!(response.status(), 200);
    let ack = EventAck::decode(response.bytes().await.unwrap()).unwrap();
    assert_eq!((ack.accepted, ack.rejected), (9, 0));
    let chunk = ReplayChunk {
        project_key: key.clone(),
        session_id: session.to_string(),
        chunk_index: 0,
        first_timestamp: Some(Timestamp { unix_ms: t }),
        last_timestamp: Some(Timestamp { unix_ms: t + 6000 }),
        has_full_snapshot: true,
        event_count: 2,
        encoding: ReplayEncoding::Json as i32,
        data: br#"[{"type":4,"data":{"href":"https://shop.example/pricing","width":1280,"height":800},"timestamp":1}]"#.to_vec(),
        uncompressed_size: 96,
    };
    let response = post(&http, &format!("{base}/v1/replay"), chunk.encode_to_vec()).await;
    assert_eq!(response.status(), 200);
    // A bad key is refused, with a reason.
    let refused = post(
        &http,
        &format!("{base}/v1/events"),
        batch("gs_nope", session, vec![click(t, 0, 1)]).encode_to_vec(),
    )
    .await;
    assert_eq!(refused.status(), 401);

    let token = login(&http, &base, gosight.password.as_deref().unwrap()).await;
    let project = project_of(&http, &token, &base).await;
    let detail_url = format!("{base}/api/v1/projects/{project}/sessions/{session}");
    eventually("the session with its insights", async || {
        let detail = get(&http, &token, &detail_url).await;
        let types: Vec<&str> = detail["insights"]
            .as_array()
            .map(|a| a.iter().filter_map(|i| i["type"].as_str()).collect())
            .unwrap_or_default();
        detail["session"]["event_count"] == 9
            && types.contains(&"rage_click")
            && types.contains(&"dead_click")
            && detail["session"]["has_replay"] == true
    })
    .await;
    let detail = get(&http, &token, &detail_url).await;
    assert_eq!(detail["session"]["browser"], "Chrome");
    assert_eq!(detail["events"].as_array().unwrap().len(), 9);
    let replay = http
        .get(format!("{detail_url}/replay"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line: serde_json::Value = serde_json::from_str(replay.lines().next().unwrap()).unwrap();
    assert_eq!(
        (line["chunk_index"].as_u64(), line["encoding"].as_str()),
        (Some(0), Some("json"))
    );
    let sessions = get(
        &http,
        &token,
        &format!("{base}/api/v1/projects/{project}/sessions?has_rage_click=true"),
    )
    .await;
    assert_eq!(sessions["sessions"][0]["session_id"], session.to_string());
    let dashboard = http.get(format!("{base}/")).send().await.unwrap();
    assert!(
        dashboard.status().is_success(),
        "one address serves the dashboard too"
    );
    gosight.child.kill().unwrap();
    let _ = gosight.child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_and_restart_keeps_every_acknowledged_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut gosight = start(dir.path());
    let (base, key, password) = (
        gosight.base.clone(),
        gosight.key.clone().unwrap(),
        gosight.password.clone().unwrap(),
    );
    let http = reqwest::Client::new();
    let session = Uuid::new_v4();
    let t = now_ms() - 60_000;
    // Batches sent back to back from several tasks; the process is killed while they fly.
    let sent = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut senders = Vec::new();
    for task in 0..4u64 {
        let (http, base, key, sent) = (http.clone(), base.clone(), key.clone(), sent.clone());
        senders.push(tokio::spawn(async move {
            for n in 0..200u64 {
                let seq = task * 10_000 + n * 10;
                let events: Vec<Event> = (0..10)
                    .map(|i| click(t + (seq + i) as i64, seq + i, i as i32))
                    .collect();
                let ids: Vec<String> = events.iter().map(|e| e.event_id.clone()).collect();
                let body = batch(&key, session, events).encode_to_vec();
                let Ok(response) = http
                    .post(format!("{base}/v1/events"))
                    .header("content-type", "application/x-protobuf")
                    .body(body)
                    .send()
                    .await
                else {
                    return;
                };
                if response.status() == 200 {
                    sent.lock().unwrap().extend(ids);
                }
            }
        }));
    }
    // Let some batches land, then SIGKILL mid-stream.
    let deadline = Instant::now() + Duration::from_secs(30);
    while sent.lock().unwrap().len() < 1500 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    gosight.child.kill().unwrap();
    let _ = gosight.child.wait();
    for sender in senders {
        let _ = sender.await;
    }
    let acknowledged: std::collections::HashSet<String> =
        sent.lock().unwrap().iter().cloned().collect();
    assert!(
        acknowledged.len() >= 1500,
        "only {} acknowledged",
        acknowledged.len()
    );

    let mut restarted = start(dir.path());
    assert!(restarted.password.is_none(), "no new admin on a restart");
    let base = restarted.base.clone();
    let token = login(&http, &base, &password).await;
    let project = project_of(&http, &token, &base).await;
    let detail_url = format!("{base}/api/v1/projects/{project}/sessions/{session}");
    let mut stored = Vec::new();
    eventually("every acknowledged event", async || {
        let detail = get(&http, &token, &detail_url).await;
        stored = detail["events"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["event_id"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        acknowledged.iter().all(|id| stored.contains(id))
    })
    .await;
    let unique: std::collections::HashSet<&String> = stored.iter().collect();
    assert_eq!(unique.len(), stored.len(), "no event twice");
    let detail = get(&http, &token, &detail_url).await;
    assert_eq!(
        detail["session"]["event_count"].as_u64().unwrap() as usize,
        stored.len(),
        "the session counts each stored event once"
    );
    restarted.child.kill().unwrap();
    let _ = restarted.child.wait();
}

/// `--demo`, as the README's first command runs it: a "Demo shop" project whose every page has
/// something to show, funnels included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_fills_every_page_of_its_project() {
    let dir = tempfile::tempdir().unwrap();
    let mut gosight = start_with(dir.path(), &["--demo"]);
    let base = gosight.base.clone();
    let http = reqwest::Client::new();
    let token = login(&http, &base, gosight.password.as_deref().unwrap()).await;
    let projects = get(&http, &token, &format!("{base}/api/v1/projects")).await;
    let demo = projects["projects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Demo shop")
        .expect("a Demo shop project")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let api = |rest: &str| format!("{base}/api/v1/projects/{demo}{rest}");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let overview = get(&http, &token, &api("/overview")).await;
        let insights = get(&http, &token, &api("/insights")).await;
        let errors = get(&http, &token, &api("/errors")).await;
        let funnel = get(
            &http,
            &token,
            &api("/funnel?step=page:/products*&step=page:/checkout&step=event:order_placed"),
        )
        .await;
        let sessions = get(&http, &token, &api("/sessions?limit=200")).await;
        let types: Vec<&str> = insights["insights"]
            .as_array()
            .map(|a| a.iter().filter_map(|i| i["type"].as_str()).collect())
            .unwrap_or_default();
        let reached: Vec<u64> = funnel["steps"]
            .as_array()
            .map(|a| a.iter().filter_map(|s| s["sessions"].as_u64()).collect())
            .unwrap_or_default();
        let replays = sessions["sessions"]
            .as_array()
            .map_or(0, |a| a.iter().filter(|s| s["has_replay"] == true).count());
        let done = overview["sessions"].as_u64().unwrap_or(0) >= 60
            && types.contains(&"rage_click")
            && types.contains(&"dead_click")
            && errors["errors"].as_array().is_some_and(|e| !e.is_empty())
            && replays >= 60
            && reached.len() == 3
            && reached[2] > 0
            && reached[0] >= reached[1]
            && reached[1] >= reached[2];
        if done {
            break;
        }
        let last = serde_json::json!({
            "sessions": overview["sessions"], "insights": types, "errors": errors["errors"].as_array().map(Vec::len),
            "replays": replays, "funnel": reached,
        });
        assert!(
            Instant::now() < deadline,
            "the demo project is not filled after 90 s: {last}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    gosight.child.kill().unwrap();
    gosight.child.wait().unwrap();
}
