#![allow(clippy::unwrap_used)]
//! Sessions, detail, replay, overview, heatmap, insights, errors and the live WebSocket against
//! seeded ClickHouse rows, and filters that try to inject SQL.

mod harness;

use base64::Engine;
use futures::{SinkExt, StreamExt};
use gosight_api::accounts::UserRole;
use gosight_common::backend::{AnalyticsStore, ClickHouseStore, EventRow, LiveFanout, RedisFanout};
use harness::Harness;
use serde_json::Value;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

struct Seeded {
    project: Uuid,
    /// The first page view, to insert again as a redelivered copy.
    first_view: EventRow,
    token: String,
    s1: Uuid,
    s2: Uuid,
    s3: Uuid,
}

fn event(p: Uuid, s: Uuid, ty: &'static str, ago_s: i64, path: &str) -> EventRow {
    let mut row = EventRow::new(
        p,
        s,
        Uuid::new_v4(),
        ty,
        OffsetDateTime::now_utc() - Duration::seconds(ago_s),
    );
    row.path = path.into();
    row.url = format!("https://shop.example.com{path}").into();
    row.viewport_width = 1280;
    row.payload = "{}".into();
    row
}

async fn seed(h: &Harness) -> Seeded {
    let token = h.user("alice@example.com", UserRole::User).await;
    let project = h.project(&token, "Shop").await;
    let (s1, s2, s3) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let session = |s: Uuid, version: u32, ago_min: u32, extra: &str| {
        format!(
            "INSERT INTO sessions (project_id, session_id, version, started_at, ended_at, {extra_cols})
             SELECT '{project}', '{s}', {version}, now64(3) - INTERVAL {ago_min} MINUTE,
                    now64(3) - INTERVAL {ago_min} MINUTE + INTERVAL 1 MINUTE, {extra_vals}",
            extra_cols = extra.split(';').next().unwrap(),
            extra_vals = extra.split(';').nth(1).unwrap(),
        )
    };
    // An old version of s1 that FINAL must hide.
    h.ch(&session(s1, 1, 60, "browser, duration_ms; 'Opera', 1"))
        .await;
    h.ch(&session(
        s1,
        2,
        1,
        "browser, device_type, country_code, duration_ms, event_count, has_error, is_active, user_id, entry_url, page_count, error_count;
         'Chrome', 'desktop', 'US', 60000, 12, true, true, 'user-1', 'https://shop.example.com/', 2, 1",
    ))
    .await;
    h.ch(&session(
        s2,
        1,
        120,
        "browser, device_type, country_code, duration_ms, event_count, has_rage_click, page_count;
         'Firefox', 'mobile', 'DE', 5000, 8, true, 1",
    ))
    .await;
    h.ch(&session(
        s3,
        1,
        180,
        "browser, device_type, country_code, duration_ms, event_count, is_bounce, page_count;
         'Chrome', 'desktop', 'US', 1000, 2, true, 1",
    ))
    .await;

    let mut rows = vec![
        event(project, s1, "page_view", 60, "/"),
        event(project, s2, "page_view", 7000, "/"),
        event(project, s3, "page_view", 10000, "/"),
        event(project, s1, "page_view", 50, "/pricing"),
    ];
    for (x, ago) in [(640, 40), (644, 39)] {
        let mut click = event(project, s1, "click", ago, "/pricing");
        click.x = x;
        click.page_y = 300;
        click.target_selector = "button.buy".into();
        click.target_text = "Buy".into();
        rows.push(click);
    }
    let mut error = event(project, s1, "js_error", 30, "/pricing");
    error.error_message = "boom".into();
    error.error_fingerprint = 42;
    rows.push(error);
    for (s, value) in [(s1, 2500.0), (s2, 3000.0)] {
        let mut vital = event(project, s, "web_vitals", 20, "/");
        vital.metric_name = "LCP".into();
        vital.metric_value = value;
        rows.push(vital);
    }
    let mut scroll = event(project, s1, "scroll", 35, "/pricing");
    scroll.scroll_depth = 70;
    rows.push(scroll);
    let store = ClickHouseStore::new(&h.clickhouse);
    store.insert_events(&rows).await.unwrap();

    h.ch(&format!(
        "INSERT INTO insights (project_id, session_id, insight_id, insight_type, timestamp, path, selector, details)
         VALUES ('{project}', '{s2}', generateUUIDv4(), 'rage_click', now64(3) - INTERVAL 100 MINUTE, '/pricing', 'button.buy', '{{\"clicks\": 7}}')"
    ))
    .await;
    for index in [2u32, 0, 1] {
        h.ch(&format!(
            "INSERT INTO replay_chunks (project_id, session_id, chunk_index, first_timestamp, last_timestamp,
                                        has_full_snapshot, event_count, encoding, data, received_at)
             VALUES ('{project}', '{s1}', {index}, now64(3), now64(3), {full}, 1, 'json', 'chunk-{index}', now64(3))",
            full = index == 0,
        ))
        .await;
    }
    Seeded {
        first_view: rows[0].clone(),
        project,
        token,
        s1,
        s2,
        s3,
    }
}

async fn next<S>(socket: &mut S) -> Value
where
    S: futures::Stream<
            Item = Result<
                tokio_tungstenite::tungstenite::Message,
                tokio_tungstenite::tungstenite::Error,
            >,
        > + Unpin,
{
    loop {
        let message = tokio::time::timeout(std::time::Duration::from_secs(5), socket.next())
            .await
            .expect("a message within 5 s")
            .unwrap()
            .unwrap();
        if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
            return serde_json::from_str::<Value>(&text).unwrap();
        }
    }
}

fn ids(body: &Value) -> Vec<String> {
    body["sessions"]
        .as_array()
        .unwrap_or_else(|| panic!("no sessions in {body}"))
        .iter()
        .map(|s| s["session_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn sessions_filter_sort_paginate_and_resist_injection() {
    let h = Harness::start().await;
    let d = seed(&h).await;
    let base = format!("/api/v1/projects/{}/sessions", d.project);
    let list = |query: &str| {
        let (h, base, token) = (&h, &base, &d.token);
        let query = query.to_string();
        async move {
            let (status, body) = h.get(&format!("{base}?{query}"), token).await;
            assert_eq!(status, 200, "{query}: {body}");
            body
        }
    };
    let (a, b, c) = (d.s1.to_string(), d.s2.to_string(), d.s3.to_string());
    let (s1, s2, s3) = (a.as_str(), b.as_str(), c.as_str());
    let all = list("").await;
    assert_eq!(ids(&all), [s1, s2, s3]);
    assert_eq!(
        all["sessions"][0]["browser"], "Chrome",
        "FINAL shows the newest version"
    );
    let page = list("limit=2").await;
    assert_eq!(ids(&page), [s1, s2]);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = list(&format!("limit=2&cursor={cursor}")).await;
    assert_eq!(ids(&rest), [s3]);
    assert!(rest["next_cursor"].is_null());
    assert_eq!(ids(&list("browser=Firefox").await), [s2]);
    assert_eq!(ids(&list("has_error=true").await), [s1]);
    assert_eq!(ids(&list("has_rage_click=true").await), [s2]);
    assert_eq!(ids(&list("path=/pricing").await), [s1]);
    assert_eq!(ids(&list("url=pricing").await), [s1]);
    assert_eq!(ids(&list("country=US&device=desktop").await), [s1, s3]);
    assert_eq!(ids(&list("user_id=user-1").await), [s1]);
    assert_eq!(ids(&list("min_duration_ms=2000").await), [s1, s2]);
    assert_eq!(ids(&list("min_events=5&max_duration_ms=10000").await), [s2]);
    assert_eq!(ids(&list("sort=duration&order=asc").await), [s3, s2, s1]);
    let by_events = list("sort=events&limit=1").await;
    assert_eq!(ids(&by_events), [s1]);
    let next = by_events["next_cursor"].as_str().unwrap();
    assert_eq!(
        ids(&list(&format!("sort=events&limit=1&cursor={next}")).await),
        [s2]
    );
    // Injection attempts are values, never SQL.
    for attack in [
        "browser=Chrome%27%20OR%201%3D1%20--%20",
        "path=%2F%27%20OR%20%27%27%3D%27",
        "url=%27)%20OR%201%3D1%20--",
        "user_id=%5C%27%3B%20DROP%20TABLE%20sessions%3B%20--",
    ] {
        assert_eq!(ids(&list(attack).await), Vec::<&str>::new(), "{attack}");
    }
    assert_eq!(ids(&list("").await).len(), 3, "the table is intact");
    // Bad input names the field.
    for (query, field) in [
        ("from=yesterday", "from"),
        ("sort=rowid", "sort"),
        ("cursor=abc", "cursor"),
        ("has_error=maybe", "query"),
        ("limit=-1", "query"),
        ("bogus=1", "query"),
    ] {
        let (status, body) = h.get(&format!("{base}?{query}"), &d.token).await;
        assert_eq!(
            (status, body["field"].as_str()),
            (400, Some(field)),
            "{query}: {body}"
        );
    }
    let capped = list("limit=100000").await;
    assert_eq!(ids(&capped).len(), 3);
    h.stop().await;
}

#[tokio::test]
async fn detail_replay_and_aggregates() {
    let h = Harness::start().await;
    let d = seed(&h).await;
    let p = format!("/api/v1/projects/{}", d.project);

    let (status, o) = h.get(&format!("{p}/overview"), &d.token).await;
    assert_eq!(status, 200, "{o}");
    assert_eq!(o["sessions"], 3);
    assert_eq!(o["page_views"], 4);
    assert_eq!(o["errors"], 1);
    assert_eq!(o["rage_clicks"], 1);
    assert!((o["bounce_rate"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(o["top_pages"][0]["key"], "/");
    assert_eq!(o["top_pages"][0]["count"], 3);
    assert_eq!(o["web_vitals"][0]["name"], "LCP");
    assert_eq!(o["web_vitals"][0]["samples"], 2);
    let series = o["series"].as_array().unwrap();
    let total = |field: &str| {
        series
            .iter()
            .map(|p| p[field].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(total("sessions"), 3, "{o}");
    assert!(
        series.iter().all(
            |p| p["users"].as_u64() >= Some(1) && p["users"].as_u64() <= p["sessions"].as_u64()
        )
    );
    assert_eq!(total("rage_clicks"), 1, "{o}");
    assert!(
        series
            .iter()
            .all(|p| p["bounce_rate"].is_f64() && p["avg_duration_ms"].is_f64())
    );

    // A copy of the first page view written again and not yet merged away (an SDK resend that
    // outlived the session's memory of recent ids): the timeline, read from raw events, folds it.
    ClickHouseStore::new(&h.clickhouse)
        .insert_events(std::slice::from_ref(&d.first_view))
        .await
        .unwrap();
    let (status, detail) = h.get(&format!("{p}/sessions/{}", d.s1), &d.token).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["session"]["user_id"], "user-1");
    let types: Vec<&str> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "page_view",
            "page_view",
            "click",
            "click",
            "scroll",
            "js_error",
            "web_vitals"
        ],
        "in time order, the redelivered copy folded"
    );
    let (_, detail2) = h.get(&format!("{p}/sessions/{}", d.s2), &d.token).await;
    assert_eq!(detail2["insights"][0]["type"], "rage_click");
    assert_eq!(detail2["insights"][0]["details"]["clicks"], 7);
    let missing = Uuid::new_v4();
    assert_eq!(
        h.get(&format!("{p}/sessions/{missing}"), &d.token).await.0,
        404
    );

    let response = h
        .http
        .get(h.url(&format!("{p}/sessions/{}/replay", d.s1)))
        .bearer_auth(&d.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let chunks: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let order: Vec<u64> = chunks
        .iter()
        .map(|c| c["chunk_index"].as_u64().unwrap())
        .collect();
    assert_eq!(order, [0, 1, 2]);
    assert_eq!(chunks[0]["has_full_snapshot"], true);
    let data = base64::engine::general_purpose::STANDARD
        .decode(chunks[1]["data"].as_str().unwrap())
        .unwrap();
    assert_eq!(data, b"chunk-1");

    let (status, heat) = h
        .get(
            &format!("{p}/heatmap?path=/pricing&device=desktop"),
            &d.token,
        )
        .await;
    assert_eq!(status, 200, "{heat}");
    let clicks: u64 = heat["grid"]["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["clicks"].as_u64().unwrap())
        .sum();
    assert_eq!(clicks, 2);
    assert_eq!(heat["elements"][0]["selector"], "button.buy");
    assert_eq!(heat["elements"][0]["clicks"], 2);
    let depth = |at: u64| {
        heat["scroll_depth"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["depth"] == at)
            .map(|d| d["sessions"].as_u64().unwrap())
    };
    assert_eq!((depth(70), depth(80)), (Some(1), Some(0)));
    let (status, _) = h
        .get(&format!("{p}/heatmap?path=/pricing&device=watch"), &d.token)
        .await;
    assert_eq!(status, 400);

    let (status, insights) = h
        .get(&format!("{p}/insights?type=rage_click"), &d.token)
        .await;
    assert_eq!(status, 200, "{insights}");
    assert_eq!(insights["insights"][0]["count"], 1);
    assert_eq!(
        insights["insights"][0]["example_sessions"][0],
        d.s2.to_string()
    );
    let (_, none) = h
        .get(&format!("{p}/insights?type=dead_click"), &d.token)
        .await;
    assert_eq!(none["insights"].as_array().unwrap().len(), 0);

    let (status, errors) = h.get(&format!("{p}/errors"), &d.token).await;
    assert_eq!(status, 200, "{errors}");
    assert_eq!(errors["errors"][0]["message"], "boom");
    assert_eq!(errors["errors"][0]["fingerprint"], "42");
    assert_eq!(errors["errors"][0]["sessions"], 1);
    h.stop().await;
}

/// Page views and web vitals at known times around hour boundaries: the overview reads whole
/// hours from the hourly aggregates and the partial hours at the range's edges from events, and
/// counts every event inside the range once.
#[tokio::test]
async fn overview_counts_partial_and_whole_hours_once() {
    let h = Harness::start().await;
    let token = h.user("olga@example.com", UserRole::User).await;
    let project = h.project(&token, "Hours").await;
    let session = Uuid::new_v4();
    let now = OffsetDateTime::now_utc();
    let base = now
        .replace_minute(0)
        .unwrap()
        .replace_second(0)
        .unwrap()
        .replace_nanosecond(0)
        .unwrap()
        - Duration::hours(5);
    let at = |ty: &'static str, seconds: i64, path: &str| {
        let mut row = event(project, session, ty, 0, path);
        row.timestamp = base + Duration::seconds(seconds);
        row
    };
    let m = 60;
    // The range is [base + 5 min 30 s, base + 3 h 55 min 30 s): whole hours 1 to 3 (hourly
    // rollup), whole minutes around them (minutely rollup), and a partial minute at each end (raw
    // events).
    let (from, to) = (
        base + Duration::seconds(5 * m + 30),
        base + Duration::seconds(235 * m + 30),
    );
    let mut rows = vec![
        at("page_view", m, "/before"),
        at("page_view", 5 * m + 40, "/a"),
        at("page_view", 10 * m, "/a"),
        at("page_view", 70 * m, "/a"),
        at("page_view", 130 * m, "/b"),
        at("page_view", 230 * m, "/a"),
        at("page_view", 235 * m + 10, "/a"),
        at("page_view", 238 * m, "/after"),
    ];
    for (seconds, value) in [
        (m, 9000.0),
        (20 * m, 100.0),
        (100 * m, 200.0),
        (232 * m, 300.0),
        (235 * m + 20, 400.0),
        (236 * m, 9000.0),
    ] {
        let mut vital = at("web_vitals", seconds, "/a");
        vital.metric_name = "LCP".into();
        vital.metric_value = value;
        rows.push(vital);
    }
    let store = ClickHouseStore::new(&h.clickhouse);
    store.insert_events(&rows).await.unwrap();

    let fmt = |t: OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let url = format!(
        "/api/v1/projects/{project}/overview?from={}&to={}",
        fmt(from),
        fmt(to)
    );
    let (status, o) = h.get(&url, &token).await;
    assert_eq!(status, 200, "{o}");
    let pages: Vec<(String, u64)> = o["top_pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["key"].as_str().unwrap().into(),
                p["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(pages, [("/a".to_string(), 5), ("/b".to_string(), 1)], "{o}");
    let lcp = &o["web_vitals"][0];
    assert_eq!(
        (lcp["name"].as_str(), lcp["samples"].as_u64()),
        (Some("LCP"), Some(4)),
        "{o}"
    );
    let p75 = lcp["p75"].as_f64().unwrap();
    assert!(
        (300.0..=400.0).contains(&p75),
        "p75 {p75} of 100, 200, 300, 400"
    );
    // Hourly buckets: each vital in its own hour, whichever part of the range it was read from.
    let by_hour: Vec<(String, f64)> = o["series"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| {
            Some((
                p["at"].as_str()?.to_string(),
                p["web_vitals"]["LCP"].as_f64()?,
            ))
        })
        .collect();
    let hour = |h: i64| fmt(base + Duration::hours(h));
    assert_eq!(by_hour[..2], [(hour(0), 100.0), (hour(1), 200.0)], "{o}");
    assert_eq!(by_hour[2].0, hour(3), "{o}");
    assert!((300.0..=400.0).contains(&by_hour[2].1), "{o}");

    // Narrowed to the whole hours alone, the edge events drop out.
    let url = format!(
        "/api/v1/projects/{project}/overview?from={}&to={}",
        fmt(base + Duration::hours(1)),
        fmt(base + Duration::hours(3))
    );
    let (_, o) = h.get(&url, &token).await;
    assert_eq!(o["top_pages"][0]["key"], "/a");
    assert_eq!(o["top_pages"][0]["count"], 1, "{o}");
    assert_eq!(o["top_pages"][1]["key"], "/b");
    assert_eq!(o["web_vitals"][0]["samples"], 1, "{o}");
    h.stop().await;
}

#[tokio::test]
async fn live_socket_sends_a_snapshot_then_updates() {
    let h = Harness::start().await;
    let d = seed(&h).await;
    let url = format!(
        "ws://{}/api/v1/projects/{}/live?access_token={}",
        h.base.trim_start_matches("http://"),
        d.project,
        d.token
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let snapshot = next(&mut socket).await;
    assert_eq!(snapshot["type"], "snapshot");
    let live: Vec<&str> = snapshot["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["session_id"].as_str().unwrap())
        .collect();
    assert_eq!(live, [d.s1.to_string()]);
    let fanout = RedisFanout::connect(&h.engines.redis).await.unwrap();
    let update = format!(
        r#"{{"type":"page","project_id":"{}","session_id":"{}","url":"/checkout","at_ms":1}}"#,
        d.project, d.s1
    );
    fanout
        .publish(
            &gosight_processor::live::channel(d.project),
            update.clone().into(),
        )
        .await
        .unwrap();
    let got = next(&mut socket).await;
    assert_eq!(got["url"], "/checkout");
    socket
        .send(tokio_tungstenite::tungstenite::Message::Close(None))
        .await
        .unwrap();
    drop(socket);

    // A reconnect gets a fresh snapshot, then the updates published after it.
    let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    assert_eq!(next(&mut socket).await["type"], "snapshot");
    let update = update.replace("/checkout", "/thanks");
    fanout
        .publish(&gosight_processor::live::channel(d.project), update.into())
        .await
        .unwrap();
    assert_eq!(next(&mut socket).await["url"], "/thanks");

    // Without a token, or for someone else's project, there is no socket.
    let bare = url.split('?').next().unwrap().to_string();
    assert!(tokio_tungstenite::connect_async(&bare).await.is_err());
    let eve = h.user("eve@example.com", UserRole::User).await;
    let other = format!("{bare}?access_token={eve}");
    assert!(tokio_tungstenite::connect_async(&other).await.is_err());
    h.stop().await;
}

#[tokio::test]
async fn sessions_are_deleted_and_people_erased_by_admins_only() {
    let h = Harness::start().await;
    let seeded = seed(&h).await;
    let (project, token) = (seeded.project, seeded.token.as_str());
    let p = format!("/api/v1/projects/{project}");
    let member = h.user("mo@example.com", UserRole::User).await;
    let (status, _) = h
        .call(
            reqwest::Method::PUT,
            &format!("{p}/members"),
            token,
            Some(serde_json::json!({"email": "mo@example.com", "role": "member"})),
        )
        .await;
    assert_eq!(status, 200);
    let erase = |token: &str, body: Value| {
        let (h, p, token) = (&h, p.clone(), token.to_string());
        async move {
            h.call(
                reqwest::Method::POST,
                &format!("{p}/erasure"),
                &token,
                Some(body),
            )
            .await
        }
    };
    let delete = |token: &str, session: Uuid| {
        let (h, p, token) = (&h, p.clone(), token.to_string());
        async move {
            h.call(
                reqwest::Method::DELETE,
                &format!("{p}/sessions/{session}"),
                &token,
                None,
            )
            .await
        }
    };

    // Members may not; nothing is removed.
    let (status, _) = erase(&member, serde_json::json!({"user_id": "user-1"})).await;
    assert_eq!(status, 403);
    assert_eq!(delete(&member, seeded.s2).await.0, 403);
    // Bad requests name the field.
    let (status, body) = erase(token, serde_json::json!({})).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("user_id")));
    let (status, body) = erase(
        token,
        serde_json::json!({"user_id": "user-1", "anonymous_id": "a"}),
    )
    .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("anonymous_id"))
    );
    let (status, body) = erase(token, serde_json::json!({"user_id": "x".repeat(300)})).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("user_id")));
    assert_eq!(
        h.get(&format!("{p}/sessions/{}", seeded.s1), token).await.0,
        200
    );

    // user-1 is s1: its row, events, replay and insights go; s2 and s3 stay.
    let (status, body) = erase(token, serde_json::json!({"user_id": " user-1 "})).await;
    assert_eq!(
        (status, body["sessions_erased"].as_u64()),
        (200, Some(0)),
        "ids match exactly"
    );
    let (status, body) = erase(token, serde_json::json!({"user_id": "user-1"})).await;
    assert_eq!(
        (status, body["sessions_erased"].as_u64()),
        (200, Some(1)),
        "{body}"
    );
    assert_eq!(
        h.get(&format!("{p}/sessions/{}", seeded.s1), token).await.0,
        404
    );
    let replay = h
        .http
        .get(h.url(&format!("{p}/sessions/{}/replay", seeded.s1)))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.text().await.unwrap(), "");
    let (_, list) = h.get(&format!("{p}/sessions"), token).await;
    let listed: Vec<&str> = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["session_id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [seeded.s2.to_string(), seeded.s3.to_string()]);
    let (status, body) = erase(token, serde_json::json!({"user_id": "user-1"})).await;
    assert_eq!((status, body["sessions_erased"].as_u64()), (200, Some(0)));

    // One session, with its insight.
    let insights = || async { h.get(&format!("{p}/insights"), token).await.1 };
    assert_eq!(
        insights().await["insights"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(delete(token, seeded.s2).await.0, 204);
    assert_eq!(
        h.get(&format!("{p}/sessions/{}", seeded.s2), token).await.0,
        404
    );
    assert_eq!(
        insights().await["insights"].as_array().map(Vec::len),
        Some(0)
    );
    assert_eq!(delete(token, seeded.s2).await.0, 404);
    assert_eq!(
        h.get(&format!("{p}/sessions/{}", seeded.s3), token).await.0,
        200
    );
    h.stop().await;
}

#[tokio::test]
async fn funnels_count_sessions_step_by_step() {
    let h = Harness::start().await;
    let seeded = seed(&h).await;
    let (project, token) = (seeded.project, seeded.token.as_str());
    let api = &h;
    let funnel = |query: &str| {
        let path = format!("/api/v1/projects/{project}/funnel?{query}");
        async move { api.get(&path, token).await }
    };
    // Every session saw `/`; s1 then went to `/pricing`.
    let (status, body) = funnel("step=page:/&step=page:/pric*").await;
    assert_eq!(status, 200, "{body}");
    let steps = body["steps"].as_array().unwrap();
    let sessions: Vec<u64> = steps
        .iter()
        .map(|s| s["sessions"].as_u64().unwrap())
        .collect();
    assert_eq!(sessions, [3, 1]);
    assert_eq!(steps[1]["type"], "page");
    assert_eq!(steps[1]["value"], "/pric*");
    assert!((steps[1]["conversion"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(steps[0]["from_previous"], 1.0);
    // In the other order nobody converts.
    let (_, body) = funnel("step=page:/pricing&step=page:/").await;
    assert_eq!(body["steps"][1]["sessions"], 0);
    for (query, field) in [
        ("step=page:/", "step"),
        ("step=page:/&step=click:x", "step"),
        ("step=page:/&step=page:pricing", "step"),
        ("step=page:/&step=page:/a&path=/", "path"),
        ("step=page:/&step=page:/a&from=yesterday", "from"),
    ] {
        let (status, body) = funnel(query).await;
        assert_eq!(
            (status, body["field"].as_str()),
            (400, Some(field)),
            "{query}: {body}"
        );
    }
    h.stop().await;
}
