//! The analytics store: events, sessions, insights and replay chunks, queried by the API.

use std::borrow::Cow;
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::Result;

mod ch;
pub mod model;
pub mod sqlite;

pub use ch::ClickHouseStore;
pub use model::*;
pub use sqlite::SqliteAnalytics;

/// The most keys a caller should pass to one look-up of [`AnalyticsStore::stored_event_ids`] or
/// [`AnalyticsStore::session_rows`]: a shard round's worth (10,000 events), so that a round costs
/// one round trip, not one per thousand.
pub const LOOKUP_BATCH: usize = 10_000;

/// What finds an event in `events`: its ids, and its time (which narrows the search).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventKey {
    pub project_id: Uuid,
    pub session_id: Uuid,
    pub event_id: Uuid,
    pub timestamp: OffsetDateTime,
}

impl From<&EventRow> for EventKey {
    fn from(row: &EventRow) -> Self {
        Self {
            project_id: row.project_id,
            session_id: row.session_id,
            event_id: row.event_id,
            timestamp: row.timestamp,
        }
    }
}

/// One row of the `events` table. `event_type` is the lower-case name of the proto's
/// `EventType` without its prefix (`page_view`, `click`, ...); the materialized views rely on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clickhouse::Row)]
pub struct EventRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub project_id: Uuid,
    #[serde(with = "clickhouse::serde::uuid")]
    pub session_id: Uuid,
    #[serde(with = "clickhouse::serde::uuid")]
    pub event_id: Uuid,
    pub event_type: Cow<'static, str>,
    #[serde(with = "clickhouse::serde::time::datetime64::millis")]
    pub timestamp: OffsetDateTime,
    #[serde(with = "clickhouse::serde::time::datetime64::millis")]
    pub received_at: OffsetDateTime,
    pub sequence: u64,
    pub user_id: Arc<str>,
    pub anonymous_id: Arc<str>,
    pub url: Arc<str>,
    pub path: Arc<str>,
    pub title: Arc<str>,
    pub referrer: Arc<str>,
    pub x: i32,
    pub y: i32,
    pub page_x: i32,
    pub page_y: i32,
    pub viewport_width: u32,
    pub viewport_height: u32,
    pub document_height: u32,
    pub scroll_depth: u8,
    pub target_tag: Arc<str>,
    pub target_selector: Arc<str>,
    pub target_text: Arc<str>,
    pub error_message: String,
    pub error_type: Cow<'static, str>,
    pub error_stack: String,
    pub error_fingerprint: u64,
    pub http_status: u16,
    pub metric_name: Cow<'static, str>,
    pub metric_value: f64,
    pub custom_name: String,
    pub payload: String,
    pub country_code: Arc<str>,
    pub subdivision: Arc<str>,
    pub city: Arc<str>,
    pub browser: Arc<str>,
    pub browser_version: Arc<str>,
    pub os: Arc<str>,
    pub os_version: Arc<str>,
    pub device_type: Cow<'static, str>,
    pub is_bot: bool,
}

impl EventRow {
    /// A row with every optional column empty.
    pub fn new(
        project_id: Uuid,
        session_id: Uuid,
        event_id: Uuid,
        event_type: &'static str,
        timestamp: OffsetDateTime,
    ) -> Self {
        thread_local! {
            static EMPTY: Arc<str> = Arc::from("");
        }
        let empty = EMPTY.with(Arc::clone);
        Self {
            project_id,
            session_id,
            event_id,
            event_type: Cow::Borrowed(event_type),
            timestamp,
            received_at: timestamp,
            sequence: 0,
            user_id: empty.clone(),
            anonymous_id: empty.clone(),
            url: empty.clone(),
            path: empty.clone(),
            title: empty.clone(),
            referrer: empty.clone(),
            x: 0,
            y: 0,
            page_x: 0,
            page_y: 0,
            viewport_width: 0,
            viewport_height: 0,
            document_height: 0,
            scroll_depth: 0,
            target_tag: empty.clone(),
            target_selector: empty.clone(),
            target_text: empty.clone(),
            error_message: String::new(),
            error_type: Cow::Borrowed(""),
            error_stack: String::new(),
            error_fingerprint: 0,
            http_status: 0,
            metric_name: Cow::Borrowed(""),
            metric_value: 0.0,
            custom_name: String::new(),
            payload: String::new(),
            country_code: empty.clone(),
            subdivision: empty.clone(),
            city: empty.clone(),
            browser: empty.clone(),
            browser_version: empty.clone(),
            os: empty.clone(),
            os_version: empty.clone(),
            device_type: Cow::Borrowed(""),
            is_bot: false,
        }
    }
}

/// The analytics store: what the processor writes and the API reads. Every implementation
/// answers each read alike for the same rows (`tests/analytics_conformance.rs`); inserts are
/// idempotent as queries see them (a row inserted twice is read once).
#[async_trait]
pub trait AnalyticsStore: Send + Sync {
    /// Inserts a batch of events; all of them are stored when it returns `Ok`.
    async fn insert_events(&self, rows: &[EventRow]) -> Result<()>;
    /// Inserts session row versions; per session the highest `version` is the one read.
    async fn insert_sessions(&self, rows: &[SessionRow]) -> Result<()>;
    async fn insert_insights(&self, rows: &[InsightRow]) -> Result<()>;
    async fn insert_replay_chunks(&self, rows: &[ReplayChunkRow]) -> Result<()>;

    /// A session's events in time order, each event once however often it was inserted.
    async fn session_events(&self, project_id: Uuid, session_id: Uuid) -> Result<Vec<EventRow>>;
    /// Which of these events are stored, as (project, session, event) ids. Up to
    /// [`LOOKUP_BATCH`] keys are one round trip.
    async fn stored_event_ids(&self, keys: &[EventKey]) -> Result<Vec<(Uuid, Uuid, Uuid)>>;
    /// The newest row of each of these (project, session) pairs that has one. Up to
    /// [`LOOKUP_BATCH`] keys are one round trip.
    async fn session_rows(&self, keys: &[(Uuid, Uuid)]) -> Result<Vec<SessionRow>>;

    /// Counters, series, top lists and web vitals of the sessions started in `range`.
    async fn overview(&self, project: Uuid, range: TimeRange) -> Result<OverviewData>;
    /// At most `filter.limit` sessions in the filter's order.
    async fn sessions(&self, project: Uuid, filter: &SessionFilter) -> Result<Vec<SessionSummary>>;
    async fn session(&self, project: Uuid, session: Uuid) -> Result<Option<SessionSummary>>;
    /// The session's first `limit` events by time, sequence and id.
    async fn timeline(
        &self,
        project: Uuid,
        session: Uuid,
        limit: u32,
    ) -> Result<Vec<TimelineEvent>>;
    /// The session's insights by time.
    async fn session_insights(&self, project: Uuid, session: Uuid) -> Result<Vec<SessionInsight>>;
    /// The session's replay chunks by `chunk_index`, read as the stream is polled.
    async fn replay(
        &self,
        project: Uuid,
        session: Uuid,
    ) -> Result<BoxStream<'static, Result<ReplayChunk>>>;
    async fn heatmap(&self, project: Uuid, query: &HeatmapQuery) -> Result<HeatmapData>;
    /// Sessions doing the query's steps in order within its range, counted per step as
    /// [`funnel_level`] counts them.
    async fn funnel(&self, project: Uuid, query: &FunnelQuery) -> Result<FunnelData>;
    /// Insights grouped by type, path and selector, most frequent first.
    async fn insight_groups(
        &self,
        project: Uuid,
        query: &InsightQuery,
    ) -> Result<Vec<InsightGroup>>;
    /// JS and network errors grouped by fingerprint, most frequent first.
    async fn error_groups(
        &self,
        project: Uuid,
        range: TimeRange,
        limit: u32,
    ) -> Result<Vec<ErrorGroup>>;
    /// Active sessions seen since `since_ms`, most recently seen first.
    async fn live_sessions(
        &self,
        project: Uuid,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<SessionSummary>>;

    /// Removes every stored row of the subject's sessions in `project`: events, session rows,
    /// insights, replay chunks and the per-session page rollups (scroll depth, time on page).
    /// Answers how many sessions it found. Rollups that hold no session or person (heatmap
    /// cells, page views and web vitals per hour and minute) keep their counts. A session
    /// still being recorded goes on with what arrives after.
    async fn erase(&self, project: Uuid, subject: &ErasureSubject) -> Result<u64>;
}

/// One version of a session's row in `sessions` (newest `version` wins). Its text columns are
/// shared (`Arc<str>`): a session writes a version per message, and copying one only counts
/// references.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clickhouse::Row)]
pub struct SessionRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub project_id: Uuid,
    #[serde(with = "clickhouse::serde::uuid")]
    pub session_id: Uuid,
    pub version: u64,
    pub user_id: Arc<str>,
    pub anonymous_id: Arc<str>,
    #[serde(with = "clickhouse::serde::time::datetime64::millis")]
    pub started_at: OffsetDateTime,
    #[serde(with = "clickhouse::serde::time::datetime64::millis")]
    pub ended_at: OffsetDateTime,
    pub duration_ms: u64,
    pub is_active: bool,
    pub entry_url: Arc<str>,
    pub entry_path: Arc<str>,
    pub exit_url: Arc<str>,
    pub exit_path: Arc<str>,
    pub referrer: Arc<str>,
    pub page_count: u32,
    pub event_count: u32,
    pub click_count: u32,
    pub error_count: u32,
    pub max_scroll_depth: u8,
    pub has_error: bool,
    pub has_rage_click: bool,
    pub has_dead_click: bool,
    pub is_bounce: bool,
    pub has_replay: bool,
    pub utm_source: Arc<str>,
    pub utm_medium: Arc<str>,
    pub utm_campaign: Arc<str>,
    pub utm_term: Arc<str>,
    pub utm_content: Arc<str>,
    pub country_code: Arc<str>,
    pub subdivision: Arc<str>,
    pub city: Arc<str>,
    pub browser: Arc<str>,
    pub browser_version: Arc<str>,
    pub os: Arc<str>,
    pub os_version: Arc<str>,
    pub device_type: Arc<str>,
    pub screen_width: u32,
    pub screen_height: u32,
    pub viewport_width: u32,
    pub viewport_height: u32,
    pub language: Arc<str>,
    pub last_partition: i32,
    pub last_offset: i64,
}

/// One row of `insights`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clickhouse::Row)]
pub struct InsightRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub project_id: Uuid,
    #[serde(with = "clickhouse::serde::uuid")]
    pub session_id: Uuid,
    #[serde(with = "clickhouse::serde::uuid")]
    pub insight_id: Uuid,
    pub insight_type: String,
    #[serde(with = "clickhouse::serde::time::datetime64::millis")]
    pub timestamp: OffsetDateTime,
    pub url: String,
    pub path: String,
    pub x: i32,
    pub y: i32,
    pub selector: String,
    pub details: String,
    #[serde(with = "uuid_vec")]
    pub related_event_ids: Vec<Uuid>,
    pub country_code: String,
    pub browser: String,
    pub device_type: String,
}

/// One row of `replay_chunks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clickhouse::Row)]
pub struct ReplayChunkRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub project_id: Uuid,
    #[serde(with = "clickhouse::serde::uuid")]
    pub session_id: Uuid,
    pub chunk_index: u32,
    #[serde(with = "clickhouse::serde::time::datetime64::millis")]
    pub first_timestamp: OffsetDateTime,
    #[serde(with = "clickhouse::serde::time::datetime64::millis")]
    pub last_timestamp: OffsetDateTime,
    pub has_full_snapshot: bool,
    pub event_count: u32,
    pub encoding: String,
    pub uncompressed_size: u64,
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
    #[serde(with = "clickhouse::serde::time::datetime64::millis")]
    pub received_at: OffsetDateTime,
}

/// `Array(UUID)` in RowBinary: each element in ClickHouse's UUID byte order.
mod uuid_vec {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use uuid::Uuid;

    #[derive(Serialize, Deserialize)]
    struct Element(#[serde(with = "clickhouse::serde::uuid")] Uuid);

    pub fn serialize<S: Serializer>(ids: &[Uuid], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(ids.iter().map(|id| Element(*id)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Uuid>, D::Error> {
        Ok(Vec::<Element>::deserialize(deserializer)?
            .into_iter()
            .map(|e| e.0)
            .collect())
    }
}
