//! One suite, two analytics stores: every case below runs against the embedded SQLite store and
//! against ClickHouse (its own migrated database), and both must give the expected answers.
//!
//! Events are inserted once per case where aggregates are read (ClickHouse's rollups count what
//! is inserted; the processor never inserts an event it knows is stored), and twice where the
//! raw reads must fold redelivered copies.

#![allow(clippy::unwrap_used)]

use futures::StreamExt;
use gosight_common::backend::analytics::*;
use gosight_common::backend::{AnalyticsStore, EventRow, InsightRow, ReplayChunkRow, SessionRow};
use time::OffsetDateTime;
use uuid::Uuid;

const HOUR: i64 = 3_600_000;

/// Two days ago at the start of an hour: inside every retention, away from "now".
fn base_ms() -> i64 {
    let now = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    (now / HOUR) * HOUR - 48 * HOUR
}

fn at(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap()
}

fn range(from_ms: i64, to_ms: i64) -> TimeRange {
    TimeRange { from_ms, to_ms }
}

fn event(project: Uuid, session: Uuid, kind: &'static str, ms: i64) -> EventRow {
    let mut row = EventRow::new(project, session, Uuid::new_v4(), kind, at(ms));
    row.received_at = at(ms + 5);
    row
}

struct Session {
    project: Uuid,
    id: Uuid,
    started_ms: i64,
    duration_ms: u64,
    events: u32,
    user: &'static str,
    country: &'static str,
    device: &'static str,
    browser: &'static str,
    entry_url: &'static str,
    error: bool,
    rage: bool,
}

impl Session {
    fn row(&self, version: u64) -> SessionRow {
        SessionRow {
            project_id: self.project,
            session_id: self.id,
            version,
            user_id: self.user.into(),
            anonymous_id: format!("anon-{}", self.id).into(),
            started_at: at(self.started_ms),
            ended_at: at(self.started_ms + self.duration_ms as i64),
            duration_ms: self.duration_ms,
            is_active: false,
            entry_url: self.entry_url.into(),
            entry_path: "/".into(),
            exit_url: self.entry_url.into(),
            exit_path: "/".into(),
            referrer: "https://search.example/".into(),
            page_count: 2,
            event_count: self.events,
            click_count: 1,
            error_count: u32::from(self.error),
            max_scroll_depth: 40,
            has_error: self.error,
            has_rage_click: self.rage,
            has_dead_click: false,
            is_bounce: self.events < 3,
            has_replay: true,
            utm_source: "news".into(),
            utm_medium: "".into(),
            utm_campaign: "".into(),
            utm_term: "".into(),
            utm_content: "".into(),
            country_code: self.country.into(),
            subdivision: "".into(),
            city: "Springfield".into(),
            browser: self.browser.into(),
            browser_version: "120".into(),
            os: "Linux".into(),
            os_version: "".into(),
            device_type: self.device.into(),
            screen_width: 1920,
            screen_height: 1080,
            viewport_width: 1280,
            viewport_height: 800,
            language: "en".into(),
            last_partition: 0,
            last_offset: i64::from(self.events),
        }
    }
}

/// Five sessions an hour apart, varied in every filtered column.
fn sessions(project: Uuid, base: i64) -> Vec<Session> {
    let spec = [
        ("alice", "DE", "desktop", "Chrome", 60_000, 12, true, false),
        ("bob", "US", "mobile", "Safari", 5_000, 2, false, true),
        ("", "DE", "tablet", "Chrome", 300_000, 30, false, false),
        ("alice", "FR", "desktop", "Firefox", 20_000, 7, true, true),
        ("carol", "US", "desktop", "Chrome", 90_000, 9, false, false),
    ];
    spec.iter()
        .enumerate()
        .map(
            |(i, (user, country, device, browser, duration, events, error, rage))| Session {
                project,
                id: Uuid::new_v4(),
                started_ms: base + i as i64 * HOUR + 1_000,
                duration_ms: *duration,
                events: *events,
                user,
                country,
                device,
                browser,
                entry_url: if i == 2 {
                    "https://shop.example/Pricing?ref=x"
                } else {
                    "https://shop.example/"
                },
                error: *error,
                rage: *rage,
            },
        )
        .collect()
}

fn ids(rows: &[SessionSummary]) -> Vec<String> {
    rows.iter().map(|r| r.session_id.clone()).collect()
}

fn filter(base: i64) -> SessionFilter {
    SessionFilter {
        range: range(base, base + 24 * HOUR),
        user_id: None,
        anonymous_id: None,
        path: None,
        url: None,
        country: None,
        device: None,
        browser: None,
        has_error: None,
        has_rage_click: None,
        has_dead_click: None,
        min_duration_ms: None,
        max_duration_ms: None,
        min_events: None,
        sort: SessionSort::StartedAt,
        descending: true,
        cursor: None,
        limit: 100,
    }
}

async fn session_rows_newest_version_wins(store: &dyn AnalyticsStore) {
    let project = Uuid::new_v4();
    let base = base_ms();
    let s = &sessions(project, base)[0];
    let mut v3 = s.row(3);
    v3.event_count = 33;
    let mut v2 = s.row(2);
    v2.event_count = 22;
    store
        .insert_sessions(&[s.row(1), v3.clone()])
        .await
        .unwrap();
    store.insert_sessions(&[v2]).await.unwrap();
    let rows = store.session_rows(&[(project, s.id)]).await.unwrap();
    assert_eq!(rows, vec![v3], "the highest version is read");
    let summary = store.session(project, s.id).await.unwrap().unwrap();
    assert_eq!(summary.event_count, 33);
    assert_eq!(summary.started_ms, s.started_ms);
    assert_eq!(summary.session_id, s.id.to_string());
    assert!(
        store.session(Uuid::new_v4(), s.id).await.unwrap().is_none(),
        "another project sees nothing"
    );
    assert!(
        store
            .session_rows(&[(project, Uuid::new_v4())])
            .await
            .unwrap()
            .is_empty()
    );
}

async fn lookups_take_a_whole_batch(store: &dyn AnalyticsStore) {
    use gosight_common::backend::analytics::LOOKUP_BATCH;
    let project = Uuid::new_v4();
    let base = base_ms();
    let known = &sessions(project, base)[..2];
    let stored: Vec<EventRow> = (0..3)
        .map(|i| event(project, known[i % 2].id, "click", base + i as i64))
        .collect();
    store.insert_events(&stored).await.unwrap();
    store
        .insert_sessions(&[known[0].row(1), known[1].row(1)])
        .await
        .unwrap();
    // A round's worth of keys in one call, most of them unknown, spread over many sessions.
    let mut keys: Vec<EventKey> = stored.iter().map(EventKey::from).collect();
    keys.extend((keys.len()..LOOKUP_BATCH).map(|i| {
        EventKey::from(&event(
            project,
            Uuid::new_v4(),
            "click",
            base + (i % 1000) as i64,
        ))
    }));
    let mut found = store.stored_event_ids(&keys).await.unwrap();
    found.sort();
    let mut expected: Vec<(Uuid, Uuid, Uuid)> = stored
        .iter()
        .map(|r| (r.project_id, r.session_id, r.event_id))
        .collect();
    expected.sort();
    assert_eq!(found, expected, "exactly the stored events");
    let mut sessions: Vec<(Uuid, Uuid)> = known.iter().map(|s| (project, s.id)).collect();
    sessions.extend((sessions.len()..LOOKUP_BATCH).map(|_| (project, Uuid::new_v4())));
    let mut rows = store.session_rows(&sessions).await.unwrap();
    rows.sort_by_key(|r| r.session_id);
    let mut expected = vec![known[0].row(1), known[1].row(1)];
    expected.sort_by_key(|r| r.session_id);
    assert_eq!(rows, expected, "exactly the stored sessions");
}

async fn events_fold_redelivered_copies_in_order(store: &dyn AnalyticsStore) {
    let (project, session) = (Uuid::new_v4(), Uuid::new_v4());
    let base = base_ms();
    let mut rows: Vec<EventRow> = (0..5)
        .map(|i| {
            let mut row = event(project, session, "click", base + 1000 * (5 - i));
            row.sequence = i as u64;
            row.target_selector = format!("#b{i}").into();
            row.payload = format!("{{\"n\":{i}}}");
            row.error_fingerprint = u64::MAX - i as u64;
            row
        })
        .collect();
    rows[0].metric_value = 1.5;
    store.insert_events(&rows).await.unwrap();
    store.insert_events(&rows[1..3]).await.unwrap();
    let stored = store.session_events(project, session).await.unwrap();
    let mut expected = rows.clone();
    expected.sort_by_key(|r| r.timestamp);
    assert_eq!(
        stored, expected,
        "each event once, in time order, all columns kept"
    );
    let timeline = store.timeline(project, session, 3).await.unwrap();
    assert_eq!(timeline.len(), 3);
    assert_eq!(timeline[0].event_id, expected[0].event_id.to_string());
    assert_eq!(timeline[0].timestamp_ms, base + 1000);
    assert_eq!(timeline[2].target_selector, "#b2");
    assert_eq!(timeline[0].payload, "{\"n\":4}");
}

async fn sessions_list_filters_sorts_and_pages(store: &dyn AnalyticsStore) {
    let project = Uuid::new_v4();
    let base = base_ms();
    let all = sessions(project, base);
    let rows: Vec<SessionRow> = all.iter().map(|s| s.row(1)).collect();
    store.insert_sessions(&rows).await.unwrap();
    // Another project's session in the same range is never listed.
    store
        .insert_sessions(&[sessions(Uuid::new_v4(), base)[0].row(1)])
        .await
        .unwrap();
    let id = |i: usize| all[i].id.to_string();
    let f = filter(base);
    let listed = store.sessions(project, &f).await.unwrap();
    assert_eq!(ids(&listed), [id(4), id(3), id(2), id(1), id(0)]);
    assert_eq!(listed[0].sort_key, all[4].started_ms);
    assert_eq!(listed[0].country_code, "US");
    assert_eq!(listed[0].utm_source, "news");
    let by = |f: SessionFilter| async move { ids(&store.sessions(project, &f).await.unwrap()) };
    let mut g = f.clone();
    g.user_id = Some("alice".into());
    assert_eq!(by(g).await, [id(3), id(0)]);
    let mut g = f.clone();
    g.anonymous_id = Some(format!("anon-{}", id(1)));
    assert_eq!(by(g).await, [id(1)], "one browser");
    let mut g = f.clone();
    g.country = Some("DE".into());
    g.device = Some("tablet".into());
    assert_eq!(by(g).await, [id(2)]);
    let mut g = f.clone();
    g.browser = Some("Chrome".into());
    g.has_error = Some(false);
    assert_eq!(by(g).await, [id(4), id(2)]);
    let mut g = f.clone();
    g.has_rage_click = Some(true);
    assert_eq!(by(g).await, [id(3), id(1)]);
    let mut g = f.clone();
    g.min_duration_ms = Some(20_000);
    g.max_duration_ms = Some(90_000);
    g.min_events = Some(8);
    assert_eq!(by(g).await, [id(4), id(0)]);
    let mut g = f.clone();
    g.url = Some("pricing".into());
    assert_eq!(by(g).await, [id(2)], "entry URL, case-insensitive");
    let mut g = f.clone();
    g.user_id = Some("' OR 1=1 --".into());
    assert!(by(g).await.is_empty(), "filters are bound, not spliced");
    let mut g = f.clone();
    g.range = range(base + HOUR, base + 3 * HOUR);
    assert_eq!(by(g).await, [id(2), id(1)], "by start time, half-open");

    // Sorted by duration ascending, two per page: every session once, in order.
    let mut g = f.clone();
    g.sort = SessionSort::Duration;
    g.descending = false;
    g.limit = 2;
    let mut seen = Vec::new();
    loop {
        let page = store.sessions(project, &g).await.unwrap();
        seen.extend(page.iter().map(|r| (r.sort_key, r.session_id.clone())));
        if page.len() < 2 {
            break;
        }
        let last = page.last().unwrap();
        g.cursor = Some((last.sort_key, Uuid::parse_str(&last.session_id).unwrap()));
    }
    assert_eq!(
        seen,
        [1, 3, 0, 4, 2]
            .iter()
            .map(|&i| (all[i].duration_ms as i64, id(i)))
            .collect::<Vec<_>>()
    );
    let mut g = f.clone();
    g.sort = SessionSort::Events;
    g.limit = 1;
    assert_eq!(by(g).await, [id(2)]);
}

async fn sessions_list_by_visited_path_and_page_url(store: &dyn AnalyticsStore) {
    let project = Uuid::new_v4();
    let base = base_ms();
    let all = sessions(project, base);
    let rows: Vec<SessionRow> = all.iter().map(|s| s.row(1)).collect();
    store.insert_sessions(&rows).await.unwrap();
    let mut view = event(project, all[1].id, "page_view", all[1].started_ms + 500);
    view.path = "/checkout".into();
    view.url = "https://shop.example/Checkout/step-1".into();
    let mut other = event(project, all[3].id, "page_view", all[3].started_ms + 500);
    other.path = "/about".into();
    other.url = "https://shop.example/about".into();
    store.insert_events(&[view, other]).await.unwrap();
    let mut f = filter(base);
    f.path = Some("/checkout".into());
    assert_eq!(
        ids(&store.sessions(project, &f).await.unwrap()),
        [all[1].id.to_string()]
    );
    let mut f = filter(base);
    f.url = Some("CHECKOUT/STEP".into());
    assert_eq!(
        ids(&store.sessions(project, &f).await.unwrap()),
        [all[1].id.to_string()]
    );
}

async fn overview_counts_series_tops_and_vitals(store: &dyn AnalyticsStore) {
    let project = Uuid::new_v4();
    let base = base_ms();
    let all = sessions(project, base);
    let rows: Vec<SessionRow> = all.iter().map(|s| s.row(1)).collect();
    store.insert_sessions(&rows).await.unwrap();
    let mut events = Vec::new();
    for (i, path) in ["/", "/pricing", "/", "/docs", "/pricing", "/"]
        .iter()
        .enumerate()
    {
        let mut e = event(
            project,
            all[i % 5].id,
            "page_view",
            base + i as i64 * 60_000 + 7,
        );
        e.path = (*path).into();
        events.push(e);
    }
    // LCP samples 1..4 in the first hour (p75 3.25), 10 in the third hour.
    for (value, offset) in [
        (1.0, 10),
        (4.0, 20),
        (2.0, 30),
        (3.0, 40),
        (10.0, 2 * HOUR + 5),
    ] {
        let mut e = event(project, all[0].id, "web_vitals", base + offset);
        e.metric_name = "LCP".into();
        e.metric_value = value;
        events.push(e);
    }
    let mut cls = event(project, all[0].id, "web_vitals", base + 50);
    cls.metric_name = "CLS".into();
    cls.metric_value = 0.25;
    events.push(cls);
    store.insert_events(&events).await.unwrap();
    let insight = |kind: &str, ms: i64| InsightRow {
        project_id: project,
        session_id: all[0].id,
        insight_id: Uuid::new_v4(),
        insight_type: kind.into(),
        timestamp: at(ms),
        url: String::new(),
        path: "/".into(),
        x: 0,
        y: 0,
        selector: "#buy".into(),
        details: "{}".into(),
        related_event_ids: vec![],
        country_code: String::new(),
        browser: String::new(),
        device_type: String::new(),
    };
    store
        .insert_insights(&[
            insight("rage_click", base + 100),
            insight("rage_click", base + 200),
            insight("dead_click", base + HOUR + 100),
            insight("thrashed_cursor", base + 4 * HOUR),
        ])
        .await
        .unwrap();

    let o = store
        .overview(project, range(base, base + 24 * HOUR))
        .await
        .unwrap();
    let t = &o.totals;
    assert_eq!(t.bucket_ms, 0);
    assert_eq!((t.sessions, t.users), (5, 4), "alice twice, one anonymous");
    assert_eq!(t.bounces, 1);
    assert_eq!(t.avg_duration_ms, 95_000.0);
    assert_eq!(
        (t.rage_sessions, t.error_sessions, t.dead_sessions),
        (2, 2, 0)
    );
    assert_eq!((t.page_views, t.errors), (10, 2));
    assert_eq!(
        o.series
            .iter()
            .map(|p| (p.bucket_ms, p.sessions))
            .collect::<Vec<_>>(),
        (0..5).map(|i| (base + i * HOUR, 1)).collect::<Vec<_>>()
    );
    assert_eq!(
        o.frustration
            .iter()
            .map(|f| (f.bucket_ms, f.rage_clicks, f.dead_clicks))
            .collect::<Vec<_>>(),
        [(base, 2, 0), (base + HOUR, 0, 1), (base + 4 * HOUR, 0, 0)]
    );
    let count = |key: &str, count: u64| Count {
        key: key.into(),
        count,
    };
    assert_eq!(
        o.countries,
        [count("DE", 2), count("US", 2), count("FR", 1)]
    );
    assert_eq!(
        o.devices,
        [count("desktop", 3), count("mobile", 1), count("tablet", 1)]
    );
    assert_eq!(
        o.browsers,
        [count("Chrome", 3), count("Firefox", 1), count("Safari", 1)]
    );
    assert_eq!(o.referrers, [count("https://search.example/", 5)]);
    assert_eq!(
        o.top_pages,
        [count("/", 3), count("/pricing", 2), count("/docs", 1)]
    );
    let vitals: Vec<(i64, String, f64, u64)> = o
        .vitals
        .iter()
        .map(|v| (v.bucket_ms, v.name.clone(), v.p75, v.samples))
        .collect();
    assert_eq!(
        vitals,
        [(0, "CLS".into(), 0.25, 1), (0, "LCP".into(), 4.0, 5)],
        "p75 of 1, 2, 3, 4, 10"
    );
    let series: Vec<(i64, String, f64)> = o
        .vitals_series
        .iter()
        .map(|v| (v.bucket_ms, v.name.clone(), v.p75))
        .collect();
    assert_eq!(
        series,
        [
            (base, "CLS".into(), 0.25),
            (base, "LCP".into(), 3.25),
            (base + 2 * HOUR, "LCP".into(), 10.0)
        ]
    );
    // A range with nothing in it.
    let empty = store
        .overview(project, range(base - 10 * HOUR, base - 9 * HOUR))
        .await
        .unwrap();
    assert_eq!(empty.totals.sessions, 0);
    assert_eq!(empty.totals.avg_duration_ms, 0.0);
    assert!(empty.series.is_empty() && empty.top_pages.is_empty() && empty.vitals.is_empty());
}

async fn heatmap_grid_depths_and_elements(store: &dyn AnalyticsStore) {
    let (project, s1, s2) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let base = base_ms();
    let click = |session: Uuid, x: i32, page_y: i32, width: u32, selector: &str| {
        let mut e = event(project, session, "click", base + 1_000);
        e.path = "/pricing".into();
        e.x = x;
        e.page_y = page_y;
        e.viewport_width = width;
        e.target_selector = selector.into();
        e.target_text = "Buy".into();
        e
    };
    let scroll = |session: Uuid, depth: u8| {
        let mut e = event(project, session, "scroll", base + 2_000);
        e.path = "/pricing".into();
        e.scroll_depth = depth;
        e
    };
    store
        .insert_events(&[
            click(s1, 640, 105, 1280, "#buy"),
            click(s1, 641, 109, 1280, "#buy"),
            click(s2, 5000, -3, 1280, "#buy"),
            click(s2, 10, 50, 1280, "nav > a"),
            click(s2, 10, 50, 375, "#mobile"),
            scroll(s1, 35),
            scroll(s1, 80),
            scroll(s2, 20),
        ])
        .await
        .unwrap();
    let h = store
        .heatmap(
            project,
            &HeatmapQuery {
                range: range(base, base + HOUR),
                path: "/pricing".into(),
                device: ViewportBucket::Desktop,
            },
        )
        .await
        .unwrap();
    let cell = |grid_x, grid_y, clicks| Cell {
        grid_x,
        grid_y,
        clicks,
    };
    assert_eq!(h.cells, [cell(199, 0, 1), cell(1, 5, 1), cell(100, 10, 2)]);
    assert_eq!(
        h.depths
            .iter()
            .map(|d| (d.depth, d.sessions))
            .collect::<Vec<_>>(),
        [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
            .iter()
            .map(|&d| (d, [80u8, 20].iter().filter(|&&m| m >= d).count() as u64))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        h.elements,
        [
            Element {
                selector: "#buy".into(),
                text: "Buy".into(),
                clicks: 3,
                sessions: 2
            },
            Element {
                selector: "nav > a".into(),
                text: "Buy".into(),
                clicks: 1,
                sessions: 1
            }
        ]
    );
    let mobile = store
        .heatmap(
            project,
            &HeatmapQuery {
                range: range(base, base + HOUR),
                path: "/pricing".into(),
                device: ViewportBucket::Mobile,
            },
        )
        .await
        .unwrap();
    assert_eq!(mobile.cells, [cell(5, 5, 1)]);
    let elsewhere = store
        .heatmap(
            project,
            &HeatmapQuery {
                range: range(base, base + HOUR),
                path: "/nowhere".into(),
                device: ViewportBucket::Desktop,
            },
        )
        .await
        .unwrap();
    assert_eq!(elsewhere, HeatmapData::default());
}

async fn insights_and_errors_are_grouped(store: &dyn AnalyticsStore) {
    let project = Uuid::new_v4();
    let sessions: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
    let base = base_ms();
    let insight = |session: Uuid, kind: &str, path: &str, ms: i64| InsightRow {
        project_id: project,
        session_id: session,
        insight_id: Uuid::new_v4(),
        insight_type: kind.into(),
        timestamp: at(ms),
        url: format!("https://shop.example{path}"),
        path: path.into(),
        x: 10,
        y: 20,
        selector: "#buy".into(),
        details: "{\"clicks\":6}".into(),
        related_event_ids: vec![Uuid::new_v4(), Uuid::new_v4()],
        country_code: "DE".into(),
        browser: "Chrome".into(),
        device_type: "desktop".into(),
    };
    let rows = vec![
        insight(sessions[0], "rage_click", "/pricing", base + 100),
        insight(sessions[1], "rage_click", "/pricing", base + 300),
        insight(sessions[1], "rage_click", "/pricing", base + 200),
        insight(sessions[2], "dead_click", "/", base + 400),
    ];
    store.insert_insights(&rows).await.unwrap();
    store.insert_insights(&rows[..1]).await.unwrap();
    let q = |kind: Option<&str>, path: Option<&str>| InsightQuery {
        range: range(base, base + HOUR),
        insight_type: kind.map(str::to_string),
        path: path.map(str::to_string),
        limit: 50,
    };
    let groups = store.insight_groups(project, &q(None, None)).await.unwrap();
    let mut two = vec![sessions[0].to_string(), sessions[1].to_string()];
    two.sort();
    assert_eq!(
        groups,
        [
            InsightGroup {
                insight_type: "rage_click".into(),
                path: "/pricing".into(),
                selector: "#buy".into(),
                count: 3,
                sessions: 2,
                last_seen_ms: base + 300,
                example_sessions: two,
            },
            InsightGroup {
                insight_type: "dead_click".into(),
                path: "/".into(),
                selector: "#buy".into(),
                count: 1,
                sessions: 1,
                last_seen_ms: base + 400,
                example_sessions: vec![sessions[2].to_string()],
            }
        ]
    );
    assert_eq!(
        store
            .insight_groups(project, &q(Some("dead_click"), None))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .insight_groups(project, &q(Some("rage_click"), Some("/")))
            .await
            .unwrap()
            .is_empty()
    );
    let mine = store.session_insights(project, sessions[1]).await.unwrap();
    assert_eq!(
        mine.iter().map(|i| i.timestamp_ms).collect::<Vec<_>>(),
        [base + 200, base + 300]
    );
    assert_eq!(mine[0].details, "{\"clicks\":6}");
    assert_eq!(mine[0].insight_type, "rage_click");

    let error = |session: Uuid, kind: &'static str, fingerprint: u64, message: &str, ms: i64| {
        let mut e = event(project, session, kind, ms);
        e.error_fingerprint = fingerprint;
        e.error_message = message.into();
        e.error_stack = "at buy (app.js:1:2)".into();
        e
    };
    store
        .insert_events(&[
            error(sessions[0], "js_error", 42, "x is undefined", base + 10),
            error(sessions[1], "js_error", 42, "x is undefined", base + 20),
            error(sessions[1], "js_error", 42, "x is undefined", base + 30),
            error(sessions[2], "network_error", 7, "GET /api 500", base + 40),
            event(project, sessions[2], "click", base + 50),
        ])
        .await
        .unwrap();
    let errors = store
        .error_groups(project, range(base, base + HOUR), 50)
        .await
        .unwrap();
    let mut two = vec![sessions[0].to_string(), sessions[1].to_string()];
    two.sort();
    assert_eq!(
        errors,
        [
            ErrorGroup {
                fingerprint: 42,
                kind: "js_error".into(),
                message: "x is undefined".into(),
                top_stack: "at buy (app.js:1:2)".into(),
                count: 3,
                sessions: 2,
                first_seen_ms: base + 10,
                last_seen_ms: base + 30,
                example_sessions: two,
            },
            ErrorGroup {
                fingerprint: 7,
                kind: "network_error".into(),
                message: "GET /api 500".into(),
                top_stack: "at buy (app.js:1:2)".into(),
                count: 1,
                sessions: 1,
                first_seen_ms: base + 40,
                last_seen_ms: base + 40,
                example_sessions: vec![sessions[2].to_string()],
            }
        ]
    );
    assert_eq!(
        store
            .error_groups(project, range(base, base + HOUR), 1)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn replay_chunks_stream_in_order(store: &dyn AnalyticsStore) {
    let (project, session) = (Uuid::new_v4(), Uuid::new_v4());
    let base = base_ms();
    let chunk = |index: u32, data: &[u8]| ReplayChunkRow {
        project_id: project,
        session_id: session,
        chunk_index: index,
        first_timestamp: at(base + i64::from(index) * 1000),
        last_timestamp: at(base + i64::from(index) * 1000 + 999),
        has_full_snapshot: index.is_multiple_of(10),
        event_count: index + 1,
        encoding: "gzip_json".into(),
        uncompressed_size: 100,
        data: data.to_vec(),
        received_at: at(base),
    };
    // 21 chunks inserted out of order, one of them twice.
    let mut rows: Vec<ReplayChunkRow> = (0..21)
        .rev()
        .map(|i| chunk(i, &[i as u8, 0, 255]))
        .collect();
    rows.push(chunk(3, &[3, 0, 255]));
    store.insert_replay_chunks(&rows).await.unwrap();
    let chunks: Vec<ReplayChunk> = store
        .replay(project, session)
        .await
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(
        chunks.iter().map(|c| c.chunk_index).collect::<Vec<_>>(),
        (0..21).collect::<Vec<_>>()
    );
    assert_eq!(chunks[20].data, [20, 0, 255]);
    assert!(chunks[10].has_full_snapshot && !chunks[11].has_full_snapshot);
    assert_eq!(chunks[4].first_ms, base + 4000);
    assert_eq!(chunks[4].last_ms, base + 4999);
    assert_eq!(
        (chunks[4].event_count, chunks[4].encoding.as_str()),
        (5, "gzip_json")
    );
    let none = store.replay(project, Uuid::new_v4()).await.unwrap();
    assert_eq!(none.count().await, 0);
}

async fn live_sessions_are_active_and_recent(store: &dyn AnalyticsStore) {
    let project = Uuid::new_v4();
    let now = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    let all = sessions(project, now - 10 * 60_000);
    let mut rows: Vec<SessionRow> = all.iter().map(|s| s.row(1)).collect();
    for (i, row) in rows.iter_mut().enumerate() {
        row.is_active = i != 1;
        row.ended_at = at(now - 60_000 * (i as i64 + 1) * 10);
    }
    store.insert_sessions(&rows).await.unwrap();
    let live = store
        .live_sessions(project, now - 35 * 60_000, 10)
        .await
        .unwrap();
    assert_eq!(ids(&live), [all[0].id.to_string(), all[2].id.to_string()]);
    let live = store
        .live_sessions(project, now - 35 * 60_000, 1)
        .await
        .unwrap();
    assert_eq!(live.len(), 1);
}

async fn erasure_removes_a_person_a_browser_or_a_session(store: &dyn AnalyticsStore) {
    let project = Uuid::new_v4();
    let base = base_ms();
    // alice (0 and 3), bob (1), an anonymous visitor who signs in as alice on a later page (2),
    // carol (4).
    let all = sessions(project, base);
    store
        .insert_sessions(&all.iter().map(|s| s.row(1)).collect::<Vec<_>>())
        .await
        .unwrap();
    let mut events = Vec::new();
    let mut insights = Vec::new();
    let mut chunks = Vec::new();
    for (i, s) in all.iter().enumerate() {
        for (kind, offset) in [("page_view", 0), ("click", 500), ("scroll", 900)] {
            let mut e = event(project, s.id, kind, s.started_ms + offset);
            e.path = "/pricing".into();
            e.scroll_depth = 50;
            e.user_id = if i == 2 && kind == "scroll" {
                "alice"
            } else {
                s.user
            }
            .into();
            e.anonymous_id = format!("anon-{}", s.id).into();
            events.push(e);
        }
        insights.push(InsightRow {
            project_id: project,
            session_id: s.id,
            insight_id: Uuid::new_v4(),
            insight_type: "rage_click".into(),
            timestamp: at(s.started_ms + 600),
            url: "https://shop.example/pricing".into(),
            path: "/pricing".into(),
            x: 1,
            y: 2,
            selector: "#buy".into(),
            details: "{}".into(),
            related_event_ids: vec![],
            country_code: "DE".into(),
            browser: "Chrome".into(),
            device_type: "desktop".into(),
        });
        chunks.push(ReplayChunkRow {
            project_id: project,
            session_id: s.id,
            chunk_index: 0,
            first_timestamp: at(s.started_ms),
            last_timestamp: at(s.started_ms + 999),
            has_full_snapshot: true,
            event_count: 1,
            encoding: "gzip_json".into(),
            uncompressed_size: 3,
            data: vec![1, 2, 3],
            received_at: at(s.started_ms),
        });
    }
    store.insert_events(&events).await.unwrap();
    store.insert_insights(&insights).await.unwrap();
    store.insert_replay_chunks(&chunks).await.unwrap();

    let other = Uuid::new_v4();
    assert_eq!(
        store
            .erase(other, &ErasureSubject::User("alice".into()))
            .await
            .unwrap(),
        0,
        "another project has no alice"
    );
    assert_eq!(
        store
            .erase(project, &ErasureSubject::User("alice".into()))
            .await
            .unwrap(),
        3
    );
    let bob_anon = format!("anon-{}", all[1].id);
    assert_eq!(
        store
            .erase(project, &ErasureSubject::Anonymous(bob_anon.clone()))
            .await
            .unwrap(),
        1
    );
    for s in [&all[0], &all[1], &all[2], &all[3]] {
        assert!(store.session(project, s.id).await.unwrap().is_none());
        assert!(
            store
                .session_events(project, s.id)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(store.timeline(project, s.id, 10).await.unwrap().is_empty());
        assert!(
            store
                .session_insights(project, s.id)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.replay(project, s.id).await.unwrap().count().await, 0);
    }
    let left = store.sessions(project, &filter(base)).await.unwrap();
    assert_eq!(ids(&left), [all[4].id.to_string()]);
    let carol = all[4].id;
    assert_eq!(store.session_events(project, carol).await.unwrap().len(), 3);
    assert_eq!(
        store.session_insights(project, carol).await.unwrap().len(),
        1
    );
    let depths = |h: HeatmapData| h.depths.first().map_or(0, |d| d.sessions);
    let pricing = HeatmapQuery {
        range: range(base, base + 6 * HOUR),
        path: "/pricing".into(),
        device: ViewportBucket::Desktop,
    };
    assert_eq!(
        depths(store.heatmap(project, &pricing).await.unwrap()),
        1,
        "only carol's scroll is left in the depths"
    );
    let groups = store
        .insight_groups(
            project,
            &InsightQuery {
                range: range(base, base + 6 * HOUR),
                insight_type: None,
                path: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(groups.iter().map(|g| g.count).sum::<u64>(), 1);

    assert_eq!(
        store
            .erase(project, &ErasureSubject::Session(carol))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .erase(project, &ErasureSubject::Session(carol))
            .await
            .unwrap(),
        0,
        "nothing is left to find"
    );
    assert!(
        store
            .sessions(project, &filter(base))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .session_events(project, carol)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn funnels_count_sessions_doing_the_steps_in_order(store: &dyn AnalyticsStore) {
    let project = Uuid::new_v4();
    let base = base_ms();
    let page = |session: Uuid, path: &str, ms: i64| {
        let mut e = event(project, session, "page_view", base + ms);
        e.path = path.into();
        e
    };
    let signup = |session: Uuid, ms: i64| {
        let mut e = event(project, session, "custom", base + ms);
        e.custom_name = "signup".into();
        e.path = "/pricing".into();
        e
    };
    let [s1, s2, s3, s4, s5, s6] = [(); 6].map(|_| Uuid::new_v4());
    let events = vec![
        page(s1, "/", 0),
        page(s1, "/pricing", 1_000),
        signup(s1, 2_000),
        page(s2, "/", 0),
        page(s2, "/pricing", 1_000),
        // Prices first, then home: only the first step.
        page(s3, "/pricing", 0),
        page(s3, "/", 1_000),
        signup(s4, 0),
        page(s5, "/docs/install", 0),
        // Before the range.
        page(s6, "/", -HOUR),
        page(s6, "/pricing", 1_000),
    ];
    store.insert_events(&events).await.unwrap();
    let query = |steps: Vec<FunnelStep>| FunnelQuery {
        range: range(base, base + HOUR),
        steps,
    };
    let shop = query(vec![
        FunnelStep::Page("/".into()),
        FunnelStep::Page("/pricing".into()),
        FunnelStep::Event("signup".into()),
    ]);
    assert_eq!(
        store.funnel(project, &shop).await.unwrap().sessions,
        [3, 2, 1]
    );
    let docs = query(vec![
        FunnelStep::Page("/docs*".into()),
        FunnelStep::Page("/docs/install".into()),
    ]);
    assert_eq!(store.funnel(project, &docs).await.unwrap().sessions, [1, 1]);
    assert_eq!(
        store.funnel(Uuid::new_v4(), &shop).await.unwrap().sessions,
        [0, 0, 0]
    );
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = gosight_common::backend::SqliteAnalytics::open(
                        &dir.path().join("analytics.db"),
                        gosight_common::backend::Durability::Process,
                    )
                    .await
                    .unwrap();
                    super::$case(&store).await;
                }
            )*
        }
        mod clickhouse {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let engines = gosight_common::testing::Engines::from_env();
                    let config = engines.migrated_clickhouse().await.unwrap();
                    let store = gosight_common::backend::ClickHouseStore::new(&config);
                    super::$case(&store).await;
                    engines.drop_clickhouse_database(&config).await.unwrap();
                }
            )*
        }
    };
}

conformance!(
    session_rows_newest_version_wins,
    lookups_take_a_whole_batch,
    events_fold_redelivered_copies_in_order,
    sessions_list_filters_sorts_and_pages,
    sessions_list_by_visited_path_and_page_url,
    overview_counts_series_tops_and_vitals,
    heatmap_grid_depths_and_elements,
    insights_and_errors_are_grouped,
    replay_chunks_stream_in_order,
    live_sessions_are_active_and_recent,
    erasure_removes_a_person_a_browser_or_a_session,
    funnels_count_sessions_doing_the_steps_in_order,
);
