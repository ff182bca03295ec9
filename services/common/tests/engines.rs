//! GoSight's own client code against the real engines that `scripts/services.sh start` runs.
//! Each test makes its own topic or database, so they run in parallel.

#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use gosight_common::backend::{
    AnalyticsStore, BusRecord, ClickHouseStore, EventBus, EventRow, KafkaBus, KafkaBusConsumer,
    LiveFanout, MetadataStore, PostgresMetadata, RedisFanout, hash_api_key,
};
use gosight_common::migrate::{self, ClickHouseTarget, Migration, PostgresTarget};
use gosight_common::retention::{DeploymentMode, RetentionConfig};
use gosight_common::testing::{Engines, unique_name};
use time::OffsetDateTime;
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn kafka_keyed_produce_and_group_consume_with_committed_offsets() {
    let engines = Engines::from_env();
    let topic = engines.kafka_topic(4).await.unwrap();
    let bus = KafkaBus::new(&engines.kafka).unwrap();

    // Three sessions, five events each: one key always lands on one partition, in order.
    let mut partition_of_key = std::collections::HashMap::new();
    for seq in 0..5 {
        for session in ["s-a", "s-b", "s-c"] {
            let delivery = bus
                .publish(BusRecord {
                    topic: topic.clone(),
                    key: format!("project:{session}"),
                    payload: Bytes::from(format!("{session}/{seq}")),
                    headers: vec![("traceparent".into(), b"00-abc-def-01".to_vec())],
                })
                .await
                .unwrap();
            let first = *partition_of_key
                .entry(session)
                .or_insert(delivery.partition);
            assert_eq!(first, delivery.partition, "{session} moved partitions");
        }
    }

    let group = unique_name("group");
    let consumer = KafkaBusConsumer::new(&engines.kafka, &group, None, &[&topic]).unwrap();
    let mut seen = Vec::new();
    while seen.len() < 15 {
        let message = tokio::time::timeout(WAIT, consumer.recv())
            .await
            .expect("timed out waiting for messages")
            .unwrap();
        assert_eq!(message.headers[0].0, "traceparent");
        seen.push(message);
    }
    for session in ["s-a", "s-b", "s-c"] {
        let order: Vec<String> = seen
            .iter()
            .map(|m| String::from_utf8(m.payload.to_vec()).unwrap())
            .filter(|p| p.starts_with(session))
            .collect();
        let expected: Vec<String> = (0..5).map(|s| format!("{session}/{s}")).collect();
        assert_eq!(order, expected, "per-key order");
    }
    let refs: Vec<&_> = seen.iter().collect();
    consumer.commit(&refs).await.unwrap();

    let committed = consumer.committed(&topic, 4).unwrap();
    let total: i64 = committed.iter().filter_map(|(_, o)| *o).sum();
    assert_eq!(
        total, 15,
        "committed offsets cover every message: {committed:?}"
    );
    drop(consumer);

    // A new member of the same group starts after the committed offsets: it sees only new data.
    bus.publish(BusRecord {
        topic: topic.clone(),
        key: "project:s-a".into(),
        payload: Bytes::from_static(b"after-commit"),
        headers: vec![],
    })
    .await
    .unwrap();
    let consumer = KafkaBusConsumer::new(&engines.kafka, &group, None, &[&topic]).unwrap();
    let next = tokio::time::timeout(WAIT, consumer.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.payload.as_ref(), b"after-commit");
    drop(consumer);
    engines.kafka.delete_topics(&[&topic]).await.unwrap();
}

#[tokio::test]
async fn kafka_topics_are_created_with_the_configured_retention() {
    use rdkafka::admin::{AdminOptions, ResourceSpecifier};

    let engines = Engines::from_env();
    let mut kafka = engines.kafka.clone();
    kafka.retention_ms = Some(3_600_000);
    kafka.segment_ms = Some(60_000);
    let topic = unique_name("test");
    kafka.ensure_topics(&[&topic], 2).await.unwrap();

    let admin = kafka.admin().unwrap();
    let described = admin
        .describe_configs(
            &[ResourceSpecifier::Topic(&topic)],
            &AdminOptions::new().request_timeout(Some(WAIT)),
        )
        .await
        .unwrap();
    let resource = described.into_iter().next().unwrap().unwrap();
    let value = |name: &str| {
        resource
            .get(name)
            .and_then(|entry| entry.value.clone())
            .unwrap_or_default()
    };
    assert_eq!(value("retention.ms"), "3600000");
    assert_eq!(value("segment.ms"), "60000");
    assert_eq!(
        value("max.message.bytes"),
        kafka.message_max_bytes.to_string()
    );
    kafka.delete_topics(&[&topic]).await.unwrap();
}

fn clickhouse_tables() -> &'static [&'static str] {
    &[
        "events",
        "sessions",
        "insights",
        "replay_chunks",
        "heatmap_clicks",
        "heatmap_clicks_mv",
        "scroll_depth",
        "scroll_depth_mv",
        "page_time",
        "page_time_mv",
        "page_views_hourly",
        "page_views_hourly_mv",
        "web_vitals_hourly",
        "web_vitals_hourly_mv",
        "page_views_minutely",
        "page_views_minutely_mv",
        "web_vitals_minutely",
        "web_vitals_minutely_mv",
        "schema_migrations",
    ]
}

async fn table_names(client: &clickhouse::Client) -> HashSet<String> {
    client
        .query("SELECT name FROM system.tables WHERE database = currentDatabase()")
        .fetch_all::<String>()
        .await
        .unwrap()
        .into_iter()
        .collect()
}

#[tokio::test]
async fn clickhouse_migrations_apply_once_then_rowbinary_round_trip() {
    let engines = Engines::from_env();
    let mut config = engines.clickhouse.clone();
    // The runner creates the database itself.
    config.database = unique_name("test");
    let target = ClickHouseTarget::new(config.clone());
    let migrations = migrate::embedded("clickhouse").unwrap();
    let retention = RetentionConfig::default();

    let first = migrate::run(&target, &migrations, &retention)
        .await
        .unwrap();
    assert_eq!(first.applied.len(), migrations.len());
    let again = migrate::run(&target, &migrations, &retention)
        .await
        .unwrap();
    assert!(
        again.applied.is_empty(),
        "re-run applied {:?}",
        again.applied
    );
    assert_eq!(again.already_applied, migrations.len());

    let client = config.client();
    let tables = table_names(&client).await;
    for table in clickhouse_tables() {
        assert!(tables.contains(*table), "missing {table}: {tables:?}");
    }
    let ttl: String = client
        .query("SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'replay_chunks'")
        .fetch_one()
        .await
        .unwrap();
    assert!(ttl.contains("toIntervalDay(90)"), "{ttl}");

    // RowBinary batch insert and read-back; a redelivered copy is folded by FINAL.
    let store = ClickHouseStore::new(&config);
    let project = Uuid::new_v4();
    let session = Uuid::new_v4();
    // Recent, or the TTL drops the rows at insert; whole milliseconds, as DateTime64(3) stores.
    let now_ms = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000 * 1_000_000;
    let t0 = OffsetDateTime::from_unix_timestamp_nanos(now_ms).unwrap() - Duration::from_secs(60);
    let rows: Vec<EventRow> = (0..1000)
        .map(|i| {
            let mut row = EventRow::new(
                project,
                session,
                Uuid::new_v4(),
                if i % 2 == 0 { "click" } else { "scroll" },
                t0 + Duration::from_millis(i),
            );
            row.sequence = i;
            row.path = "/pricing".into();
            row.x = 640;
            row.page_y = 1234;
            row.viewport_width = 1280;
            row.scroll_depth = (i % 100) as u8;
            row.target_text = "Käufen 🛒".into();
            row
        })
        .collect();
    store.insert_events(&rows).await.unwrap();
    store.insert_events(&rows[..10]).await.unwrap();
    let back = store.session_events(project, session).await.unwrap();
    assert_eq!(back.len(), rows.len());
    assert_eq!(back, rows);

    // The heatmap view saw the 500 clicks of the first insert in one 10 px row, mid-screen.
    let (grid_x, clicks): (u16, u64) = client
        .query(
            "SELECT grid_x, sum(clicks) FROM heatmap_clicks WHERE project_id = ? GROUP BY grid_x",
        )
        .bind(project)
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(grid_x, 100);
    assert!(clicks >= 500, "{clicks}");
    let depth: u8 = client
        .query("SELECT max(max_depth) FROM scroll_depth WHERE project_id = ?")
        .bind(project)
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(depth, 99);

    engines.drop_clickhouse_database(&config).await.unwrap();
}

#[tokio::test]
async fn clickhouse_analytics_only_mode_has_no_replay_tables() {
    let engines = Engines::from_env();
    let mut config = engines.clickhouse.clone();
    config.database = unique_name("test");
    let target = ClickHouseTarget::new(config.clone());
    let migrations = migrate::embedded("clickhouse").unwrap();
    let analytics_only = RetentionConfig {
        mode: DeploymentMode::AnalyticsOnly,
        ..Default::default()
    };
    let report = migrate::run(&target, &migrations, &analytics_only)
        .await
        .unwrap();
    assert_eq!(report.skipped, vec!["0004_replay_chunks.sql".to_string()]);
    let tables = table_names(&config.client()).await;
    assert!(!tables.contains("replay_chunks"));
    assert!(tables.contains("events"));

    // Switching to replay-optimized later creates the replay table with its shorter TTL.
    let optimized = RetentionConfig {
        mode: DeploymentMode::ReplayOptimized,
        replay_days: Some(7),
        ..Default::default()
    };
    let report = migrate::run(&target, &migrations, &optimized)
        .await
        .unwrap();
    assert_eq!(report.applied, vec!["0004_replay_chunks.sql".to_string()]);
    let ttl: String = config
        .client()
        .query("SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'replay_chunks'")
        .fetch_one()
        .await
        .unwrap();
    assert!(ttl.contains("toIntervalDay(7)"), "{ttl}");
    engines.drop_clickhouse_database(&config).await.unwrap();
}

fn broken(version: u32, sql: &str) -> Migration {
    let dir = tempfile::tempdir().unwrap();
    let file = format!("{version:04}_broken.sql");
    std::fs::write(dir.path().join(&file), sql).unwrap();
    migrate::from_dir(dir.path()).unwrap().remove(0)
}

#[tokio::test]
async fn clickhouse_broken_migration_names_file_and_records_nothing() {
    let engines = Engines::from_env();
    let mut config = engines.clickhouse.clone();
    config.database = unique_name("test");
    let target = ClickHouseTarget::new(config.clone());
    let mut migrations = migrate::embedded("clickhouse").unwrap();
    migrations.push(broken(
        900,
        "CREATE TABLE nope (x NoSuchType) ENGINE = Memory",
    ));

    let err = migrate::run(&target, &migrations, &RetentionConfig::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("0900_broken.sql"), "{err}");
    assert!(err.contains("NoSuchType"), "server message missing: {err}");
    let applied: Vec<u32> = config
        .client()
        .query("SELECT version FROM schema_migrations FINAL ORDER BY version")
        .fetch_all()
        .await
        .unwrap();
    assert!(!applied.contains(&900));
    assert_eq!(applied.len(), migrations.len() - 1);
    engines.drop_clickhouse_database(&config).await.unwrap();
}

#[tokio::test]
async fn postgres_migrations_apply_once_and_key_lookup_works() {
    let engines = Engines::from_env();
    let config = engines.postgres_database().await.unwrap();
    let pool = config.pool().unwrap();
    let target = PostgresTarget::new(pool.clone());
    let migrations = migrate::embedded("postgres").unwrap();
    let retention = RetentionConfig::default();

    let first = migrate::run(&target, &migrations, &retention)
        .await
        .unwrap();
    assert_eq!(first.applied.len(), migrations.len());
    let again = migrate::run(&target, &migrations, &retention)
        .await
        .unwrap();
    assert!(again.applied.is_empty());

    let client = pool.get().await.unwrap();
    let tables: Vec<String> = client
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for table in [
        "users",
        "projects",
        "api_keys",
        "project_members",
        "alert_rules",
        "alert_history",
        "refresh_tokens",
    ] {
        assert!(
            tables.iter().any(|t| t == table),
            "missing {table}: {tables:?}"
        );
    }
    let roles: Vec<String> = client
        .query("SELECT unnest(enum_range(NULL::member_role))::text", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(roles, ["owner", "admin", "member", "viewer"]);

    // A key is found by its hash only, with its project's settings.
    let project: Uuid = client
        .query_one(
            "INSERT INTO projects (name, slug, allowed_domains) VALUES ('Shop', 'shop', '{shop.example}') RETURNING id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let key = "gs_live_0123456789abcdef";
    client
        .execute(
            "INSERT INTO api_keys (project_id, key_prefix, key_hash, rate_limit) VALUES ($1, 'gs_live_0123', $2, 250)",
            &[&project, &hash_api_key(key).as_slice()],
        )
        .await
        .unwrap();
    let metadata = PostgresMetadata::new(pool.clone());
    let found = metadata
        .find_api_key(&hash_api_key(key))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.project_id, project);
    assert_eq!(found.rate_limit, 250);
    assert_eq!(found.allowed_domains, ["shop.example"]);
    assert!(found.is_usable(OffsetDateTime::now_utc()));
    assert!(
        metadata
            .find_api_key(&hash_api_key("gs_live_other"))
            .await
            .unwrap()
            .is_none()
    );

    client
        .execute("UPDATE api_keys SET revoked_at = now()", &[])
        .await
        .unwrap();
    let revoked = metadata
        .find_api_key(&hash_api_key(key))
        .await
        .unwrap()
        .unwrap();
    assert!(!revoked.is_usable(OffsetDateTime::now_utc()));

    drop(client);
    pool.close();
    engines.drop_postgres_database(&config).await.unwrap();
}

#[tokio::test]
async fn postgres_broken_migration_rolls_back_and_records_nothing() {
    let engines = Engines::from_env();
    let config = engines.postgres_database().await.unwrap();
    let pool = config.pool().unwrap();
    let target = PostgresTarget::new(pool.clone());
    let mut migrations = migrate::embedded("postgres").unwrap();
    migrations.push(broken(
        900,
        "CREATE TABLE half_done (id int);\nALTER TABLE no_such_table ADD COLUMN x int;",
    ));

    let err = migrate::run(&target, &migrations, &RetentionConfig::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("0900_broken.sql"), "{err}");
    assert!(
        err.contains("no_such_table"),
        "server message missing: {err}"
    );

    let client = pool.get().await.unwrap();
    let recorded: i64 = client
        .query_one(
            "SELECT count(*) FROM gosight_schema_migrations WHERE version = 900",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(recorded, 0);
    let half_done: i64 = client
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'half_done'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        half_done, 0,
        "the failed file's first statement was rolled back"
    );
    drop(client);
    pool.close();
    engines.drop_postgres_database(&config).await.unwrap();
}

#[tokio::test]
async fn redis_pubsub_round_trip() {
    let engines = Engines::from_env();
    let fanout = RedisFanout::connect(&engines.redis).await.unwrap();
    let channel = unique_name("live");
    let other = unique_name("live");
    let mut subscription = fanout.subscribe(&channel).await.unwrap();
    let mut other_subscription = fanout.subscribe(&other).await.unwrap();

    for i in 0..3 {
        let receivers = fanout
            .publish(&channel, Bytes::from(format!("update-{i}")))
            .await
            .unwrap();
        assert_eq!(receivers, 1);
    }
    fanout
        .publish(&other, Bytes::from_static(b"elsewhere"))
        .await
        .unwrap();
    for i in 0..3 {
        let message = tokio::time::timeout(WAIT, subscription.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(message, Bytes::from(format!("update-{i}")));
    }
    let message = tokio::time::timeout(WAIT, other_subscription.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(message.as_ref(), b"elsewhere");
}
