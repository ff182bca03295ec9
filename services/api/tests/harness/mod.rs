#![allow(clippy::unwrap_used, dead_code)]
//! A real API on 127.0.0.1:0 with its own PostgreSQL and ClickHouse databases.

use std::sync::Arc;

use gosight_api::accounts::{self, UserRole};
use gosight_api::{ApiConfig, Dependencies};
use gosight_common::backend::{PostgresMetadata, RedisFanout};
use gosight_common::clickhouse::ClickHouseConfig;
use gosight_common::health::Health;
use gosight_common::postgres::PostgresConfig;
use gosight_common::testing::Engines;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub struct Harness {
    pub engines: Engines,
    pub postgres: PostgresConfig,
    pub clickhouse: ClickHouseConfig,
    pub pool: deadpool_postgres::Pool,
    pub base: String,
    pub http: reqwest::Client,
    pub shutdown: CancellationToken,
}

impl Harness {
    pub async fn start() -> Self {
        Self::with_config(ApiConfig::default()).await
    }

    pub async fn with_config(mut config: ApiConfig) -> Self {
        let _ = tracing_subscriber::fmt().with_test_writer().try_init();
        let engines = Engines::from_env();
        let postgres = engines.migrated_postgres().await.unwrap();
        let pool = postgres.pool().unwrap();
        let clickhouse = engines.migrated_clickhouse().await.unwrap();
        let live = RedisFanout::connect(&engines.redis).await.unwrap();
        config.listen = "127.0.0.1:0".into();
        config.workers = 1;
        let shutdown = CancellationToken::new();
        let server = gosight_api::start(
            config,
            Dependencies {
                meta: Arc::new(PostgresMetadata::new(pool.clone())),
                analytics: Arc::new(gosight_common::backend::ClickHouseStore::new(&clickhouse)),
                live: Some(Arc::new(live)),
            },
            Health::default(),
            shutdown.clone(),
        )
        .await
        .unwrap();
        Self {
            base: format!("http://{}", server.addr),
            engines,
            postgres,
            clickhouse,
            pool,
            http: reqwest::Client::new(),
            shutdown,
        }
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.engines
            .drop_clickhouse_database(&self.clickhouse)
            .await
            .unwrap();
        self.engines
            .drop_postgres_database(&self.postgres)
            .await
            .unwrap();
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A user with `role`, signed in; answers its access token.
    pub async fn user(&self, email: &str, role: UserRole) -> String {
        accounts::create_user(
            &PostgresMetadata::new(self.pool.clone()),
            email,
            "",
            "correct horse battery",
            role,
        )
        .await
        .unwrap();
        self.login(email).await["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn login(&self, email: &str) -> Value {
        let response = self
            .http
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({"email": email, "password": "correct horse battery"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// `POST /api/v1/auth/refresh` with `token`.
    pub async fn refresh(&self, token: String) -> (u16, Value) {
        self.call(
            reqwest::Method::POST,
            "/api/v1/auth/refresh",
            "",
            Some(json!({"refresh_token": token})),
        )
        .await
    }

    /// `POST /api/v1/auth/logout` with refresh token `token`; answers the status.
    pub async fn logout(&self, token: &str) -> u16 {
        self.call(
            reqwest::Method::POST,
            "/api/v1/auth/logout",
            "",
            Some(json!({"refresh_token": token})),
        )
        .await
        .0
    }

    /// `method path` with `token`; answers the status and the JSON body (`null` if none).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, token, None).await
    }

    /// A project created through the API by the holder of `token`.
    pub async fn project(&self, token: &str, name: &str) -> Uuid {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                "/api/v1/projects",
                token,
                Some(json!({"name": name})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().parse().unwrap()
    }

    pub async fn ch(&self, sql: &str) {
        self.clickhouse.client().query(sql).execute().await.unwrap();
    }
}
