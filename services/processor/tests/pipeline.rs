//! A processor shard against the real broker, ClickHouse and Redis: scripted sessions give
//! exactly the expected rows and insights.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gosight_common::backend::{
    AnalyticsStore, BusRecord, ClickHouseStore, EventBus, KafkaBus, LiveFanout, RedisFanout,
    SessionRow,
};
use gosight_common::clickhouse::ClickHouseConfig;
use gosight_common::kafka::KafkaConfig;
use gosight_common::testing::{Engines, unique_name};
use gosight_processor::{ProcessorConfig, Shard};
use gosight_proto::event::Payload;
use gosight_proto::*;
use prost::Message;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

struct Env {
    engines: Engines,
    kafka: KafkaConfig,
    clickhouse: ClickHouseConfig,
    bus: KafkaBus,
    project: Uuid,
    /// Project settings, for the tests that need them.
    postgres: Option<gosight_common::postgres::PostgresConfig>,
}

async fn env() -> Env {
    let engines = Engines::from_env();
    let clickhouse = engines.migrated_clickhouse().await.unwrap();
    let kafka = engines.kafka_with_topics(3).await.unwrap();
    let bus = KafkaBus::new(&kafka).unwrap();
    Env {
        engines,
        kafka,
        clickhouse,
        bus,
        project: Uuid::new_v4(),
        postgres: None,
    }
}

impl Env {
    async fn cleanup(&self) {
        self.engines
            .drop_clickhouse_database(&self.clickhouse)
            .await
            .unwrap();
        self.kafka
            .delete_topics(&self.kafka.topics.all())
            .await
            .unwrap();
    }
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

fn envelope(
    project: Uuid,
    session: Uuid,
    at_ms: i64,
    url: &str,
    payload: Payload,
    ty: EventType,
) -> EventEnvelope {
    EventEnvelope {
        project_id: project.to_string(),
        session: Some(SessionMeta {
            session_id: session.to_string(),
            user_id: "u-1".into(),
            ..Default::default()
        }),
        received_at: Some(Timestamp { unix_ms: at_ms }),
        user_agent: Some(UserAgentInfo {
            browser: "Chrome".into(),
            device_type: DeviceType::Desktop as i32,
            ..Default::default()
        }),
        geo: Some(Geo {
            country_code: "GB".into(),
            ..Default::default()
        }),
        event: Some(Event {
            event_id: Uuid::new_v4().to_string(),
            r#type: ty as i32,
            timestamp: Some(Timestamp { unix_ms: at_ms }),
            page: Some(Page {
                url: url.into(),
                path: url::Url::parse(url).unwrap().path().into(),
                ..Default::default()
            }),
            sequence: 0,
            payload: Some(payload),
        }),
        client_ip: String::new(),
        events: Vec::new(),
    }
}

fn view(p: Uuid, s: Uuid, at: i64, url: &str) -> EventEnvelope {
    envelope(
        p,
        s,
        at,
        url,
        Payload::PageView(PageViewPayload::default()),
        EventType::PageView,
    )
}

fn click(p: Uuid, s: Uuid, at: i64, url: &str, x: i32, y: i32) -> EventEnvelope {
    envelope(
        p,
        s,
        at,
        url,
        Payload::Click(ClickPayload {
            x,
            y,
            page_x: x,
            page_y: y,
            viewport_width: 1280,
            ..Default::default()
        }),
        EventType::Click,
    )
}

/// Publishes the events as the ingest does: consecutive events of one session go out as one
/// batch message, `per_message` events at most. With 1, one event per message (in `event`), as
/// older ingests wrote them.
async fn send_batched(env: &Env, envelopes: &[EventEnvelope], per_message: usize) {
    let mut runs: Vec<Vec<&EventEnvelope>> = Vec::new();
    for e in envelopes {
        match runs.last_mut() {
            Some(run)
                if run.len() < per_message
                    && run[0].project_id == e.project_id
                    && run[0].session == e.session =>
            {
                run.push(e)
            }
            _ => runs.push(vec![e]),
        }
    }
    for run in runs {
        let key = format!(
            "{}:{}",
            run[0].project_id,
            run[0].session.as_ref().unwrap().session_id
        );
        let message = if per_message == 1 {
            run[0].clone()
        } else {
            EventEnvelope {
                event: None,
                events: run.iter().filter_map(|e| e.event.clone()).collect(),
                ..run[0].clone()
            }
        };
        env.bus
            .publish(BusRecord {
                topic: env.kafka.topics.events_raw.clone(),
                key,
                payload: Bytes::from(message.encode_to_vec()),
                headers: vec![],
            })
            .await
            .unwrap();
    }
}

async fn send(env: &Env, envelopes: &[EventEnvelope]) {
    send_batched(env, envelopes, 3).await
}

fn shard(
    env: &Env,
    shard_id: &str,
    group: &str,
    timeout_secs: u64,
    stop: CancellationToken,
    live: Option<Arc<dyn LiveFanout>>,
) -> Shard {
    let config = ProcessorConfig {
        shard_id: shard_id.into(),
        group_id: group.into(),
        flush_interval_ms: 200,
        session_timeout_secs: timeout_secs,
        ..Default::default()
    };
    let insights: Arc<dyn EventBus> = Arc::new(env.bus.clone());
    let source =
        Box::new(gosight_processor::source::KafkaSource::new(&config, &env.kafka).unwrap());
    let store = Arc::new(gosight_common::backend::ClickHouseStore::new(
        &env.clickhouse,
    ));
    Shard::new(
        config,
        env.kafka.topics.clone(),
        source,
        store,
        Some(insights),
        live,
        env.postgres.as_ref().map(|p| {
            let store = gosight_common::backend::PostgresMetadata::new(p.pool().unwrap());
            Arc::new(store) as Arc<dyn gosight_common::backend::MetadataStore>
        }),
        stop,
    )
    .unwrap()
}

async fn wait_for<T: PartialEq + std::fmt::Debug>(
    what: &str,
    expected: T,
    mut probe: impl AsyncFnMut() -> T,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let value = probe().await;
        if value == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: still {value:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn count(env: &Env, sql: &str) -> u64 {
    env.clickhouse
        .client()
        .query(sql)
        .fetch_one::<u64>()
        .await
        .unwrap()
}

async fn session_row(env: &Env, session: Uuid) -> SessionRow {
    env.clickhouse
        .client()
        .query("SELECT ?fields FROM sessions FINAL WHERE session_id = ?")
        .bind(session)
        .fetch_one::<SessionRow>()
        .await
        .unwrap()
}

#[actix_rt::test]
async fn scripted_sessions_give_expected_rows_and_insights() {
    let env = env().await;
    let (p, s1, s2) = (env.project, Uuid::new_v4(), Uuid::new_v4());
    let t = now_ms() - 60_000;
    let home = "https://shop.example/?utm_source=news&utm_campaign=fall";
    let cart = "https://shop.example/cart";
    let mut script = vec![view(p, s1, t, home)];
    // Rage: 7 clicks on one spot within 1.2 s.
    script.extend((0..7).map(|i| click(p, s1, t + 1_000 + i * 200, home, 400, 300)));
    // Error click: a click then a JS error 300 ms later.
    script.push(click(p, s1, t + 5_000, home, 10, 10));
    script.push(envelope(
        p,
        s1,
        t + 5_300,
        home,
        Payload::JsError(JsErrorPayload {
            message: "boom".into(),
            ..Default::default()
        }),
        EventType::JsError,
    ));
    // Dead click: a click whose outcome shows no response.
    let dead = click(p, s1, t + 8_000, cart, 50, 60);
    let dead_id = dead.event.as_ref().unwrap().event_id.clone();
    script.push(view(p, s1, t + 7_000, cart));
    script.push(dead.clone());
    script.push(envelope(
        p,
        s1,
        t + 9_000,
        cart,
        Payload::ClickOutcome(ClickOutcomePayload {
            click_event_id: dead_id,
            observed_ms: 1000,
            ..Default::default()
        }),
        EventType::ClickOutcome,
    ));
    // Quick back: home again 2 s after reaching the cart... after the dead click.
    script.push(view(p, s1, t + 9_500, home));
    // A plain second session: one page, two slow clicks.
    script.push(view(p, s2, t, cart));
    script.push(click(p, s2, t + 3_000, cart, 1, 1));
    script.push(click(p, s2, t + 9_000, cart, 900, 500));
    // The same event sent twice by an SDK counts once.
    script.push(script.last().unwrap().clone());
    send(&env, &script).await;

    let live_fanout: Arc<dyn LiveFanout> =
        Arc::new(RedisFanout::connect(&env.engines.redis).await.unwrap());
    let mut updates = live_fanout
        .subscribe(&format!("gosight:live:{p}"))
        .await
        .unwrap();
    let stop = CancellationToken::new();
    let running = actix_rt::spawn(
        shard(
            &env,
            "",
            &unique_name("g"),
            2,
            stop.clone(),
            Some(live_fanout.clone()),
        )
        .run(),
    );

    wait_for("events", 17, async || {
        count(
            &env,
            &format!("SELECT count() FROM events FINAL WHERE project_id = '{p}'"),
        )
        .await
    })
    .await;
    // Both sessions end after 2 s without events: their final rows are written.
    wait_for("ended sessions", 2, async || {
        count(
            &env,
            &format!(
                "SELECT count() FROM sessions FINAL WHERE project_id = '{p}' AND NOT is_active"
            ),
        )
        .await
    })
    .await;
    let insights: Vec<(String, String)> = env
        .clickhouse
        .client()
        .query("SELECT insight_type, toString(session_id) FROM insights FINAL WHERE project_id = ? ORDER BY insight_type")
        .bind(p)
        .fetch_all()
        .await
        .unwrap();
    let s1s = s1.to_string();
    assert_eq!(
        insights,
        vec![
            ("dead_click".to_string(), s1s.clone()),
            ("error_click".to_string(), s1s.clone()),
            ("quick_back".to_string(), s1s.clone()),
            ("rage_click".to_string(), s1s.clone()),
        ]
    );
    let first = session_row(&env, s1).await;
    assert_eq!(
        (
            first.page_count,
            first.click_count,
            first.error_count,
            first.event_count
        ),
        (3, 9, 1, 14)
    );
    assert!(first.has_rage_click && first.has_dead_click && first.has_error && !first.is_bounce);
    assert_eq!((&*first.utm_source, &*first.utm_campaign), ("news", "fall"));
    assert_eq!(&*first.entry_path, "/");
    assert_eq!(&*first.exit_url, home);
    assert_eq!(first.duration_ms, 9_500);
    assert_eq!(
        (&*first.country_code, &*first.device_type, &*first.browser),
        ("GB", "desktop", "Chrome")
    );
    let second = session_row(&env, s2).await;
    assert_eq!(
        (second.page_count, second.click_count, second.event_count),
        (1, 2, 3)
    );
    assert!(second.is_bounce && !second.has_rage_click && !second.has_error);

    // The dashboard's live channel saw the sessions start and end.
    let mut kinds = Vec::new();
    while let Ok(Some(message)) =
        tokio::time::timeout(Duration::from_millis(500), updates.next()).await
    {
        let value: serde_json::Value = serde_json::from_slice(&message).unwrap();
        kinds.push(value["type"].as_str().unwrap().to_string());
    }
    assert_eq!(
        kinds.iter().filter(|k| *k == "started").count(),
        2,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| *k == "ended").count(),
        2,
        "{kinds:?}"
    );
    assert!(kinds.iter().any(|k| k == "insight"));

    stop.cancel();
    running.await.unwrap().unwrap();
    env.cleanup().await;
}

#[actix_rt::test]
async fn insight_thresholds_follow_project_settings() {
    let mut env = env().await;
    let postgres = env.engines.migrated_postgres().await.unwrap();
    let pool = postgres.pool().unwrap();
    let (strict, default) = (Uuid::new_v4(), Uuid::new_v4());
    let client = pool.get().await.unwrap();
    client
        .execute(
            "INSERT INTO projects (id, name, slug, settings) VALUES
             ($1, 'Strict', 'strict', '{\"insights\": {\"rage_min_clicks\": 3}}'),
             ($2, 'Default', 'default', '{}')",
            &[&strict, &default],
        )
        .await
        .unwrap();
    drop(client);
    env.postgres = Some(postgres.clone());

    // Four quick clicks on one spot in each project: rage only where the project says 3 suffice.
    let t = now_ms() - 60_000;
    let url = "https://shop.example/";
    let mut script = Vec::new();
    for project in [strict, default] {
        let session = Uuid::new_v4();
        script.push(view(project, session, t, url));
        script.extend((0..4).map(|i| click(project, session, t + 100 + i * 150, url, 300, 300)));
    }
    // One event per message, as older ingests wrote them: still read.
    send_batched(&env, &script, 1).await;
    let stop = CancellationToken::new();
    let running = actix_rt::spawn(shard(&env, "", &unique_name("g"), 2, stop.clone(), None).run());
    wait_for("ended sessions", 2, async || {
        count(&env, &format!("SELECT count() FROM sessions FINAL WHERE project_id IN ('{strict}', '{default}') AND NOT is_active")).await
    })
    .await;
    let rage = |project: Uuid| {
        format!(
            "SELECT count() FROM insights FINAL WHERE project_id = '{project}' AND insight_type = 'rage_click'"
        )
    };
    assert_eq!(count(&env, &rage(strict)).await, 1);
    assert_eq!(count(&env, &rage(default)).await, 0);

    stop.cancel();
    running.await.unwrap().unwrap();
    pool.close();
    env.engines.drop_postgres_database(&postgres).await.unwrap();
    env.cleanup().await;
}

/// An earlier owner of the partition stored a round's event rows and stopped before the session
/// row that counts them. The next owner counts those events in the session and does not write
/// them again, so the tables filled on insert into `events` see each event once.
#[actix_rt::test]
async fn events_an_earlier_owner_stored_are_counted_not_written_again() {
    let env = env().await;
    let session = Uuid::new_v4();
    let t = now_ms() - 60_000;
    let (pricing, thanks) = (
        "https://shop.example/pricing",
        "https://shop.example/thanks",
    );
    let script = vec![
        view(env.project, session, t, pricing),
        click(env.project, session, t + 1_000, pricing, 100, 200),
        click(env.project, session, t + 2_000, pricing, 400, 200),
        view(env.project, session, t + 3_000, thanks),
    ];
    let stored: Vec<_> = script[..2]
        .iter()
        .flat_map(gosight_processor::convert::event_rows)
        .collect();
    ClickHouseStore::new(&env.clickhouse)
        .insert_events(&stored)
        .await
        .unwrap();
    send(&env, &script).await;

    let stop = CancellationToken::new();
    let running = actix_rt::spawn(shard(&env, "", &unique_name("g"), 60, stop.clone(), None).run());
    wait_for("events", 4, async || {
        count(
            &env,
            &format!("SELECT count() FROM events FINAL WHERE session_id = '{session}'"),
        )
        .await
    })
    .await;
    wait_for("session events", 4, async || {
        count(
            &env,
            &format!(
                "SELECT toUInt64(max(event_count)) FROM sessions FINAL WHERE session_id = '{session}'"
            ),
        )
        .await
    })
    .await;
    stop.cancel();
    running.await.unwrap().unwrap();

    let row = session_row(&env, session).await;
    assert_eq!((row.page_count, row.click_count), (2, 2));
    let raw = count(
        &env,
        &format!("SELECT count() FROM events WHERE session_id = '{session}'"),
    )
    .await;
    assert_eq!(raw, 4, "no row written twice, even before merges");
    let project = env.project;
    let views = count(
        &env,
        &format!("SELECT sum(views) FROM page_views_minutely WHERE project_id = '{project}'"),
    )
    .await;
    let clicks = count(
        &env,
        &format!("SELECT sum(clicks) FROM heatmap_clicks WHERE project_id = '{project}'"),
    )
    .await;
    assert_eq!((views, clicks), (2, 2));
    env.cleanup().await;
}
