//! The `gosight` binary as an operator runs it: config, and migrate against the real engines.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

use gosight_common::testing::{Engines, unique_name};

fn gosight(args: &[&str], env: &[(&str, &str)], dir: &Path) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gosight"));
    command.args(args).current_dir(dir).env_clear();
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn config_print_shows_effective_values_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let output = gosight(
        &["config", "print"],
        &[
            ("DATABASE_URL", "postgres://gosight:s3cret@db:5432/gosight"),
            ("GOSIGHT_KAFKA__LINGER_MS", "25"),
        ],
        dir.path(),
    );
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("linger_ms: 25"), "{stdout}");
    assert!(stdout.contains("db:5432"), "{stdout}");
    assert!(!stdout.contains("s3cret"), "{stdout}");
}

#[test]
fn invalid_config_exits_non_zero_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("gosight.yaml"),
        "ingest:\n  http_listen: 12\n  grpc_listen: [1]\n",
    )
    .unwrap();
    let output = gosight(&["config", "check"], &[], dir.path());
    assert!(!output.status.success());
    let message = text(&output);
    assert!(message.contains("ingest."), "{message}");

    std::fs::remove_file(dir.path().join("gosight.yaml")).unwrap();
    let output = gosight(
        &["config", "check"],
        &[("GOSIGHT_KAFKA__COMPRESSION", "brotli")],
        dir.path(),
    );
    assert!(!output.status.success());
    assert!(
        text(&output).contains("kafka.compression"),
        "{}",
        text(&output)
    );
}

#[tokio::test]
async fn migrate_is_idempotent_and_a_broken_file_fails_by_name() {
    let engines = Engines::from_env();
    let postgres = engines.postgres_database().await.unwrap();
    let database = unique_name("test");
    let prefix = format!("{}.", unique_name("t"));
    let env = [
        ("KAFKA_BROKERS", engines.kafka.brokers.as_str()),
        ("CLICKHOUSE_URL", engines.clickhouse.url.as_str()),
        ("GOSIGHT_CLICKHOUSE__DATABASE", database.as_str()),
        ("DATABASE_URL", postgres.url.as_str()),
        ("GOSIGHT_KAFKA__PARTITIONS", "3"),
    ];
    let topics = gosight_common::kafka::Topics::prefixed(&prefix);
    let topic_env: Vec<(String, String)> = [
        ("EVENTS_RAW", &topics.events_raw),
        ("REPLAY_CHUNKS", &topics.replay_chunks),
        ("EVENTS_ERRORS", &topics.events_errors),
        ("INSIGHTS", &topics.insights),
    ]
    .iter()
    .map(|(k, v)| (format!("GOSIGHT_KAFKA__TOPICS__{k}"), v.to_string()))
    .collect();
    let mut all_env: Vec<(&str, &str)> = env.to_vec();
    all_env.extend(topic_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let dir = tempfile::tempdir().unwrap();

    let first = gosight(&["migrate"], &all_env, dir.path());
    assert!(first.status.success(), "{}", text(&first));
    let clickhouse_files = gosight_common::migrate::embedded("clickhouse")
        .unwrap()
        .len();
    let postgres_files = gosight_common::migrate::embedded("postgres").unwrap().len();
    let applied = format!("clickhouse: {clickhouse_files} applied");
    assert!(text(&first).contains(&applied), "{}", text(&first));
    let second = gosight(&["migrate"], &all_env, dir.path());
    assert!(second.status.success(), "{}", text(&second));
    for noop in [
        format!("clickhouse: 0 applied, {clickhouse_files} already applied"),
        format!("postgres: 0 applied, {postgres_files} already applied"),
    ] {
        assert!(text(&second).contains(&noop), "{}", text(&second));
    }

    // A copy of the shipped migrations plus a broken one, in a directory of the operator's.
    let sql = dir.path().join("sql");
    for engine in ["clickhouse", "postgres"] {
        std::fs::create_dir_all(sql.join(engine)).unwrap();
        for m in gosight_common::migrate::embedded(engine).unwrap() {
            std::fs::write(sql.join(engine).join(&m.file), &m.sql).unwrap();
        }
    }
    std::fs::write(
        sql.join("postgres").join("0999_broken.sql"),
        "ALTER TABLE users ADD COLUMN nickname text;\nSELECT * FROM missing_table;\n",
    )
    .unwrap();
    let sql_dir = sql.to_str().unwrap();
    let broken = gosight(
        &["migrate", "--only", "postgres", "--dir", sql_dir],
        &all_env,
        dir.path(),
    );
    assert!(!broken.status.success());
    let message = text(&broken);
    assert!(message.contains("0999_broken.sql"), "{message}");
    assert!(message.contains("missing_table"), "{message}");

    let pool = postgres.pool().unwrap();
    let client = pool.get().await.unwrap();
    let recorded: i64 = client
        .query_one(
            "SELECT count(*) FROM gosight_schema_migrations WHERE version = 999",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(recorded, 0);
    let nickname: i64 = client
        .query_one(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'nickname'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(nickname, 0, "the failing file was rolled back");
    drop(client);
    pool.close();

    let mut clickhouse = engines.clickhouse.clone();
    clickhouse.database = database.clone();
    engines.drop_clickhouse_database(&clickhouse).await.unwrap();
    engines.drop_postgres_database(&postgres).await.unwrap();
    engines.kafka.delete_topics(&topics.all()).await.unwrap();
}

#[tokio::test]
async fn user_and_project_create_print_a_working_key() {
    use std::io::Write;
    use std::process::Stdio;

    use gosight_common::backend::{MetadataStore, PostgresMetadata, hash_api_key};

    let engines = Engines::from_env();
    let postgres = engines.postgres_database().await.unwrap();
    let env = [("DATABASE_URL", postgres.url.as_str())];
    let dir = tempfile::tempdir().unwrap();
    let migrated = gosight(&["migrate", "--only", "postgres"], &env, dir.path());
    assert!(migrated.status.success(), "{}", text(&migrated));

    let mut child = Command::new(env!("CARGO_BIN_EXE_gosight"))
        .args([
            "user",
            "create",
            "--email",
            "Admin@Example.com",
            "--password-stdin",
            "--role",
            "admin",
        ])
        .env_clear()
        .env("DATABASE_URL", &postgres.url)
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse battery\n")
        .unwrap();
    let created = child.wait_with_output().unwrap();
    assert!(created.status.success(), "{}", text(&created));

    let again = gosight(
        &[
            "user",
            "create",
            "--email",
            "admin@example.com",
            "--password",
            "another-password",
        ],
        &env,
        dir.path(),
    );
    assert!(
        !again.status.success(),
        "emails are unique regardless of case"
    );
    let short = gosight(
        &[
            "user",
            "create",
            "--email",
            "b@example.com",
            "--password",
            "short",
        ],
        &env,
        dir.path(),
    );
    assert!(text(&short).contains("password"), "{}", text(&short));

    let project = gosight(
        &[
            "project",
            "create",
            "--name",
            "My Shop",
            "--owner",
            "admin@example.com",
        ],
        &env,
        dir.path(),
    );
    assert!(project.status.success(), "{}", text(&project));
    let stdout = String::from_utf8(project.stdout).unwrap();
    let key = stdout
        .lines()
        .find_map(|l| l.strip_prefix("write_key: "))
        .unwrap()
        .to_string();
    let pool = postgres.pool().unwrap();
    let record = PostgresMetadata::new(pool.clone())
        .find_api_key(&hash_api_key(&key))
        .await
        .unwrap()
        .unwrap();
    assert!(stdout.contains(&record.project_id.to_string()));
    let stored: String = pool
        .get()
        .await
        .unwrap()
        .query_one("SELECT password_hash FROM users", &[])
        .await
        .unwrap()
        .get(0);
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    pool.close();
    engines.drop_postgres_database(&postgres).await.unwrap();
}
