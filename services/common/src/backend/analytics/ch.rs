//! [`AnalyticsStore`] on ClickHouse: RowBinary inserts; reads from the tables, their `FINAL`
//! merges and the rollups the materialized views keep (`sql/clickhouse`).
//!
//! Every query is scoped to one project with values bound as parameters. Events are read with
//! `LIMIT 1 BY event_id` where a redelivered copy could still be unmerged.

use std::collections::HashSet;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use uuid::Uuid;

use super::model::*;
use super::{AnalyticsStore, EventKey, EventRow, InsightRow, ReplayChunkRow, SessionRow};
use crate::clickhouse::ClickHouseConfig;
use crate::error::Result;

/// [`AnalyticsStore`] on ClickHouse.
#[derive(Clone)]
pub struct ClickHouseStore {
    client: clickhouse::Client,
}

impl std::fmt::Debug for ClickHouseStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouseStore").finish_non_exhaustive()
    }
}

impl ClickHouseStore {
    pub fn new(config: &ClickHouseConfig) -> Self {
        Self::from_client(config.client())
    }

    pub fn from_client(client: clickhouse::Client) -> Self {
        Self { client }
    }

    pub fn client(&self) -> &clickhouse::Client {
        &self.client
    }

    async fn insert<R>(&self, table: &str, rows: &[R]) -> Result<()>
    where
        R: clickhouse::RowOwned + clickhouse::RowWrite,
        for<'a> R: clickhouse::Row<Value<'a> = R>,
    {
        if rows.is_empty() {
            return Ok(());
        }
        // Duplicates are folded by merges and by `FINAL` / `LIMIT 1 BY` on read; folding them
        // again inside every insert only costs the server a sort. The tables filled on insert
        // into `events` are filled side by side rather than one after the other.
        let mut insert = self
            .client
            .insert::<R>(table)
            .await?
            .with_setting("optimize_on_insert", "0")
            .with_setting("parallel_view_processing", "1");
        for row in rows {
            insert.write(row).await?;
        }
        insert.end().await?;
        Ok(())
    }
}

pub(crate) const SUMMARY_COLUMNS: &str =
    "toString(session_id) AS session_id, user_id, anonymous_id,
    toUnixTimestamp64Milli(started_at) AS started_ms, toUnixTimestamp64Milli(ended_at) AS ended_ms,
    duration_ms, is_active, entry_url, entry_path, exit_path, referrer, page_count, event_count,
    click_count, error_count, max_scroll_depth, has_error, has_rage_click, has_dead_click,
    is_bounce, has_replay, toString(country_code) AS country_code, city,
    toString(browser) AS browser, toString(browser_version) AS browser_version,
    toString(os) AS os, toString(device_type) AS device_type, viewport_width, viewport_height,
    utm_source, utm_medium, utm_campaign";

#[derive(Debug, serde::Deserialize, clickhouse::Row)]
struct ListedCount {
    list: String,
    key: String,
    count: u64,
}

/// Sessions in the range, one row per session (the newest version).
const SESSIONS_IN_RANGE: &str = "FROM sessions FINAL WHERE project_id = ?
    AND started_at >= fromUnixTimestamp64Milli(?) AND started_at < fromUnixTimestamp64Milli(?)";

/// Events in the range of the given types with only `columns` read, redelivered copies folded
/// (`LIMIT 1 BY event_id` over the few columns needed, after the type filter).
fn events_in_range(columns: &str, types: &str) -> String {
    format!(
        "(SELECT event_id, {columns} FROM events WHERE project_id = ?
          AND timestamp >= fromUnixTimestamp64Milli(?) AND timestamp < fromUnixTimestamp64Milli(?)
          AND event_type IN ({types}) LIMIT 1 BY event_id)"
    )
}

/// Where a part of a [`RollupSplit`] is read from.
#[derive(Clone, Copy)]
enum Source {
    Hourly,
    Minutely,
    Raw,
}

impl Source {
    /// The part's time column.
    fn column(self) -> &'static str {
        match self {
            Source::Hourly => "hour",
            Source::Minutely => "minute",
            Source::Raw => "timestamp",
        }
    }

    fn rollup(self) -> &'static str {
        match self {
            Source::Hourly => "hourly",
            _ => "minutely",
        }
    }
}

/// A `UNION ALL` over the parts of `split`; `part(source, condition)` gives each part's SELECT,
/// where `condition` holds the part's time column to its ranges. Returns the SQL and its binds,
/// in order; the project is the named parameter `{project:UUID}`.
fn rollup_union(split: &RollupSplit, part: impl Fn(Source, &str) -> String) -> (String, Vec<i64>) {
    let mut binds = Vec::new();
    let mut parts = Vec::new();
    let hours: Vec<TimeRange> = split.hours.into_iter().collect();
    for (source, ranges) in [
        (Source::Hourly, &hours),
        (Source::Minutely, &split.minutes),
        (Source::Raw, &split.raw),
    ] {
        if ranges.is_empty() {
            continue;
        }
        let column = source.column();
        let one = format!(
            "({column} >= fromUnixTimestamp64Milli(?) AND {column} < fromUnixTimestamp64Milli(?))"
        );
        binds.extend(ranges.iter().flat_map(|r| [r.from_ms, r.to_ms]));
        parts.push(part(source, &vec![one; ranges.len()].join(" OR ")));
    }
    (parts.join(" UNION ALL "), binds)
}

/// De-duplicated raw events of the given type with `columns`, inside `condition`.
fn raw_events(columns: &str, event_type: &str, condition: &str) -> String {
    format!(
        "(SELECT event_id, {columns} FROM events WHERE project_id = {{project:UUID}} AND ({condition})
          AND event_type = '{event_type}' LIMIT 1 BY event_id)"
    )
}

/// Page views per path from the rollups (`page_views_hourly`, `page_views_minutely`) and the raw
/// partial minutes.
fn top_pages_sql(split: &RollupSplit) -> (String, Vec<i64>) {
    let (sql, binds) = rollup_union(split, |source, condition| match source {
        Source::Hourly | Source::Minutely => format!(
            "SELECT path AS page, sum(views) AS views FROM page_views_{} WHERE project_id = {{project:UUID}} AND ({condition}) GROUP BY page",
            source.rollup()
        ),
        Source::Raw => format!(
            "SELECT path AS page, count() AS views FROM {} GROUP BY page",
            raw_events("path", "page_view", condition)
        ),
    });
    (
        format!(
            "SELECT page AS key, sum(views) AS count FROM ({sql})
             GROUP BY key ORDER BY count DESC, key LIMIT 10"
        ),
        binds,
    )
}

/// The series bucket of a time column, as Unix milliseconds.
fn bucket_of(column: &str, bucket_seconds: u32) -> String {
    format!(
        "toUnixTimestamp64Milli(toDateTime64(toStartOfInterval({column}, INTERVAL {bucket_seconds} SECOND), 3))"
    )
}

/// Web vitals p75 over the whole range, or per series bucket (buckets are whole hours, so a
/// rollup row falls in one bucket), merging the rollups' quantile states with the raw partial
/// minutes'.
fn vitals_sql(split: &RollupSplit, bucket_seconds: Option<u32>) -> (String, Vec<i64>) {
    let (sql, binds) = rollup_union(split, |source, condition| {
        let bucket = bucket_seconds.map_or("toInt64(0)".into(), |s| bucket_of(source.column(), s));
        match source {
            Source::Hourly | Source::Minutely => format!(
                "SELECT {bucket} AS bucket_ms, metric_name AS metric, value AS state, toUInt64(samples) AS n
                 FROM web_vitals_{} WHERE project_id = {{project:UUID}} AND ({condition})",
                source.rollup()
            ),
            Source::Raw => format!(
                "SELECT {bucket} AS bucket_ms, metric_name AS metric,
                        quantileState(0.75)(metric_value) AS state, count() AS n
                 FROM {} WHERE metric_name != '' GROUP BY bucket_ms, metric",
                raw_events("timestamp, metric_name, metric_value", "web_vitals", condition)
            ),
        }
    });
    (
        format!(
            "SELECT bucket_ms, toString(metric) AS name, quantileMerge(0.75)(state) AS p75, sum(n) AS samples
             FROM ({sql}) GROUP BY bucket_ms, name ORDER BY bucket_ms, name"
        ),
        binds,
    )
}

/// The session-row counters over the whole range (one row, `bucket_ms` 0), or per series bucket.
/// Users are counted exactly over 64-bit hashes of their ids (a set of integers is several times
/// cheaper than one of strings; a collision among millions of ids is vanishingly unlikely).
fn session_counters_sql(bucket_seconds: Option<u32>) -> String {
    let (bucket, group) = match bucket_seconds {
        Some(s) => (
            bucket_of("started_at", s),
            " GROUP BY bucket_ms ORDER BY bucket_ms",
        ),
        None => ("toInt64(0)".into(), ""),
    };
    format!(
        "SELECT {bucket} AS bucket_ms, count() AS sessions,
                uniqExact(sipHash64(if(user_id != '', user_id, anonymous_id))) AS users,
                countIf(is_bounce) AS bounces, ifNotFinite(avg(duration_ms), 0) AS avg_duration_ms,
                countIf(has_rage_click) AS rage_sessions, countIf(has_dead_click) AS dead_sessions,
                countIf(has_error) AS error_sessions,
                sum(page_count) AS page_views, sum(error_count) AS errors
         {SESSIONS_IN_RANGE}{group}"
    )
}

/// The four top lists over the session rows, in one pass: `list` is `referrer`, `country`,
/// `device` or `browser`.
fn session_tops_sql() -> String {
    format!(
        "SELECT multiIf(grouping(referrer) = 0, 'referrer', grouping(country_code) = 0, 'country',
                        grouping(device_type) = 0, 'device', 'browser') AS list,
                toString(multiIf(list = 'referrer', referrer, list = 'country', toString(country_code),
                                 list = 'device', toString(device_type), toString(browser))) AS key,
                count() AS count
         {SESSIONS_IN_RANGE}
         GROUP BY GROUPING SETS ((referrer), (country_code), (device_type), (browser))
         ORDER BY count DESC, key LIMIT 10 BY list"
    )
}

/// Room for the id lists of a look-up of [`super::LOOKUP_BATCH`] keys (about 40 bytes each, two
/// lists), above ClickHouse's default of 256 KiB for a query's text.
const LOOKUP_QUERY_SIZE: &str = "4194304";

const ERROR_TYPES: &str = "'js_error', 'network_error'";

#[async_trait]
impl AnalyticsStore for ClickHouseStore {
    async fn insert_events(&self, rows: &[EventRow]) -> Result<()> {
        self.insert("events", rows).await
    }

    async fn insert_sessions(&self, rows: &[SessionRow]) -> Result<()> {
        self.insert("sessions", rows).await
    }

    async fn insert_insights(&self, rows: &[InsightRow]) -> Result<()> {
        self.insert("insights", rows).await
    }

    async fn insert_replay_chunks(&self, rows: &[ReplayChunkRow]) -> Result<()> {
        self.insert("replay_chunks", rows).await
    }

    async fn session_events(&self, project_id: Uuid, session_id: Uuid) -> Result<Vec<EventRow>> {
        Ok(self
            .client
            .query(
                "SELECT ?fields FROM events FINAL
                 WHERE project_id = ? AND session_id = ?
                 ORDER BY timestamp, sequence, event_id",
            )
            .bind(project_id)
            .bind(session_id)
            .fetch_all::<EventRow>()
            .await?)
    }

    async fn stored_event_ids(&self, rows: &[EventKey]) -> Result<Vec<(Uuid, Uuid, Uuid)>> {
        #[derive(Debug, serde::Deserialize, clickhouse::Row)]
        struct Stored {
            #[serde(with = "clickhouse::serde::uuid")]
            project_id: Uuid,
            #[serde(with = "clickhouse::serde::uuid")]
            session_id: Uuid,
            #[serde(with = "clickhouse::serde::uuid")]
            event_id: Uuid,
        }
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ms = |row: &EventKey| (row.timestamp.unix_timestamp_nanos() / 1_000_000) as i64;
        let (from, to) = rows
            .iter()
            .map(ms)
            .fold((i64::MAX, i64::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)));
        let projects: HashSet<Uuid> = rows.iter().map(|r| r.project_id).collect();
        let sessions: HashSet<Uuid> = rows.iter().map(|r| r.session_id).collect();
        let projects: Vec<Uuid> = projects.into_iter().collect();
        let sessions: Vec<Uuid> = sessions.into_iter().collect();
        let events: Vec<Uuid> = rows.iter().map(|r| r.event_id).collect();
        let found = self
            .client
            .query(
                "SELECT DISTINCT project_id, session_id, event_id FROM events
                 WHERE project_id IN ? AND session_id IN ? AND event_id IN ?
                   AND timestamp >= fromUnixTimestamp64Milli(?)
                   AND timestamp <= fromUnixTimestamp64Milli(?)",
            )
            .bind(&projects)
            .bind(&sessions)
            .bind(&events)
            .bind(from)
            .bind(to)
            .with_setting("max_query_size", LOOKUP_QUERY_SIZE)
            .fetch_all::<Stored>()
            .await?;
        Ok(found
            .into_iter()
            .map(|s| (s.project_id, s.session_id, s.event_id))
            .collect())
    }

    async fn session_rows(&self, keys: &[(Uuid, Uuid)]) -> Result<Vec<SessionRow>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let projects: HashSet<Uuid> = keys.iter().map(|(p, _)| *p).collect();
        let projects: Vec<Uuid> = projects.into_iter().collect();
        let ids: Vec<Uuid> = keys.iter().map(|(_, s)| *s).collect();
        let mut rows = self
            .client
            .query("SELECT ?fields FROM sessions FINAL WHERE project_id IN ? AND session_id IN ?")
            .bind(&projects)
            .bind(&ids)
            .with_setting("max_query_size", LOOKUP_QUERY_SIZE)
            .fetch_all::<SessionRow>()
            .await?;
        let wanted: HashSet<(Uuid, Uuid)> = keys.iter().copied().collect();
        rows.retain(|r| wanted.contains(&(r.project_id, r.session_id)));
        Ok(rows)
    }

    async fn overview(&self, project: Uuid, range: TimeRange) -> Result<OverviewData> {
        let split = range.rollup_split();
        let ch = &self.client;
        let bind3 =
            |q: clickhouse::query::Query| q.bind(project).bind(range.from_ms).bind(range.to_ms);
        let rollup = |(sql, binds): (String, Vec<i64>)| {
            binds.into_iter().fold(
                ch.query(&sql).param("project", project.to_string()),
                |query, bind| query.bind(bind),
            )
        };
        let bucket = range.bucket_seconds();
        let totals = bind3(ch.query(&session_counters_sql(None))).fetch_one::<SessionCounters>();
        let frustration = bind3(ch.query(&format!(
            "SELECT {} AS bucket_ms, countIf(insight_type = 'rage_click') AS rage_clicks,
                    countIf(insight_type = 'dead_click') AS dead_clicks
             FROM insights FINAL WHERE project_id = ?
               AND timestamp >= fromUnixTimestamp64Milli(?) AND timestamp < fromUnixTimestamp64Milli(?)
             GROUP BY bucket_ms ORDER BY bucket_ms",
            bucket_of("timestamp", bucket)
        )))
        .fetch_all::<Frustration>();
        let series =
            bind3(ch.query(&session_counters_sql(Some(bucket)))).fetch_all::<SessionCounters>();
        let tops = bind3(ch.query(&session_tops_sql())).fetch_all::<ListedCount>();
        let vitals = rollup(vitals_sql(&split, None)).fetch_all::<Vital>();
        let vitals_series = rollup(vitals_sql(&split, Some(bucket))).fetch_all::<Vital>();
        let pages = rollup(top_pages_sql(&split)).fetch_all::<Count>();
        let (totals, frustration, series, tops, vitals, vitals_series, top_pages) = futures::try_join!(
            totals,
            frustration,
            series,
            tops,
            vitals,
            vitals_series,
            pages
        )?;
        let list = |name: &str| -> Vec<Count> {
            tops.iter()
                .filter(|row| row.list == name)
                .map(|row| Count {
                    key: row.key.clone(),
                    count: row.count,
                })
                .collect()
        };
        Ok(OverviewData {
            totals,
            series,
            frustration,
            referrers: list("referrer"),
            countries: list("country"),
            devices: list("device"),
            browsers: list("browser"),
            top_pages,
            vitals,
            vitals_series,
        })
    }

    async fn sessions(&self, project: Uuid, filter: &SessionFilter) -> Result<Vec<SessionSummary>> {
        let sort_expr = match filter.sort {
            SessionSort::StartedAt => "toUnixTimestamp64Milli(started_at)",
            SessionSort::Duration => "toInt64(duration_ms)",
            SessionSort::Events => "toInt64(event_count)",
        };
        let range = filter.range;
        let mut sql = format!(
            "SELECT {SUMMARY_COLUMNS}, {sort_expr} AS sort_key FROM sessions FINAL
             WHERE project_id = ? AND started_at >= fromUnixTimestamp64Milli(?)
               AND started_at < fromUnixTimestamp64Milli(?)"
        );
        let mut text_binds: Vec<String> = Vec::new();
        let mut add = |sql: &mut String, clause: &str, value: &Option<String>| {
            if let Some(v) = value {
                sql.push_str(clause);
                text_binds.push(v.clone());
            }
        };
        add(&mut sql, " AND user_id = ?", &filter.user_id);
        add(&mut sql, " AND anonymous_id = ?", &filter.anonymous_id);
        add(&mut sql, " AND country_code = ?", &filter.country);
        add(&mut sql, " AND device_type = ?", &filter.device);
        add(&mut sql, " AND browser = ?", &filter.browser);
        // `page_time` has a row per session, path and day: a primary-key range instead of a scan
        // of the range's events.
        add(
            &mut sql,
            " AND session_id IN (SELECT session_id FROM page_time WHERE project_id = {project:UUID} AND path = ? AND day >= toDate(fromUnixTimestamp64Milli({from_ms:Int64})) AND day <= toDate(fromUnixTimestamp64Milli({to_ms:Int64}) + INTERVAL 1 DAY))",
            &filter.path,
        );
        add(
            &mut sql,
            " AND (positionCaseInsensitive(entry_url, ?) > 0 OR session_id IN (SELECT session_id FROM events WHERE project_id = {project:UUID} AND timestamp >= fromUnixTimestamp64Milli({from_ms:Int64}) AND timestamp < fromUnixTimestamp64Milli({to_ms:Int64}) + INTERVAL 1 DAY AND event_type = 'page_view' AND positionCaseInsensitive(url, {url:String}) > 0))",
            &filter.url,
        );
        for (flag, value) in [
            ("has_error", filter.has_error),
            ("has_rage_click", filter.has_rage_click),
            ("has_dead_click", filter.has_dead_click),
        ] {
            if let Some(v) = value {
                sql.push_str(&format!(" AND {flag} = {}", u8::from(v)));
            }
        }
        if let Some(v) = filter.min_duration_ms {
            sql.push_str(&format!(" AND duration_ms >= {v}"));
        }
        if let Some(v) = filter.max_duration_ms {
            sql.push_str(&format!(" AND duration_ms <= {v}"));
        }
        if let Some(v) = filter.min_events {
            sql.push_str(&format!(" AND event_count >= {v}"));
        }
        let (cmp, dir) = if filter.descending {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        if filter.cursor.is_some() {
            sql.push_str(&format!(
                " AND ({sort_expr}, session_id) {cmp} ({{cursor_key:Int64}}, {{cursor_id:String}})"
            ));
        }
        sql.push_str(&format!(
            " ORDER BY sort_key {dir}, session_id {dir} LIMIT {}",
            filter.limit
        ));
        let mut query = self
            .client
            .query(&sql)
            .param("project", project.to_string())
            .param("url", filter.url.clone().unwrap_or_default())
            .param("from_ms", range.from_ms)
            .param("to_ms", range.to_ms)
            .bind(project)
            .bind(range.from_ms)
            .bind(range.to_ms);
        for value in text_binds {
            query = query.bind(value);
        }
        if let Some((key, id)) = filter.cursor {
            query = query
                .param("cursor_key", key)
                .param("cursor_id", id.to_string());
        }
        Ok(query.fetch_all::<SessionSummary>().await?)
    }

    async fn session(&self, project: Uuid, session: Uuid) -> Result<Option<SessionSummary>> {
        Ok(self
            .client
            .query(&format!(
                "SELECT {SUMMARY_COLUMNS}, toInt64(0) AS sort_key FROM sessions FINAL
                 WHERE project_id = ? AND session_id = ?"
            ))
            .bind(project)
            .bind(session)
            .fetch_optional::<SessionSummary>()
            .await?)
    }

    async fn timeline(
        &self,
        project: Uuid,
        session: Uuid,
        limit: u32,
    ) -> Result<Vec<TimelineEvent>> {
        Ok(self
            .client
            .query(
                "SELECT toString(event_id) AS event_id, toString(event_type) AS event_type,
                        toUnixTimestamp64Milli(timestamp) AS timestamp_ms, url, path, x, y,
                        target_selector, target_text, error_message,
                        toString(metric_name) AS metric_name, metric_value, payload
                 FROM events WHERE project_id = ? AND session_id = ?
                 ORDER BY timestamp, sequence, event_id LIMIT 1 BY event_id LIMIT ?",
            )
            .bind(project)
            .bind(session)
            .bind(limit)
            .fetch_all::<TimelineEvent>()
            .await?)
    }

    async fn session_insights(&self, project: Uuid, session: Uuid) -> Result<Vec<SessionInsight>> {
        Ok(self
            .client
            .query(
                "SELECT toString(insight_id) AS insight_id, toString(insight_type) AS insight_type,
                        toUnixTimestamp64Milli(timestamp) AS timestamp_ms, url, path, x, y, selector,
                        details
                 FROM insights FINAL WHERE project_id = ? AND session_id = ?
                 ORDER BY timestamp, insight_id",
            )
            .bind(project)
            .bind(session)
            .fetch_all::<SessionInsight>()
            .await?)
    }

    async fn replay(
        &self,
        project: Uuid,
        session: Uuid,
    ) -> Result<BoxStream<'static, Result<ReplayChunk>>> {
        let cursor = self
            .client
            .query(
                "SELECT chunk_index, toUnixTimestamp64Milli(first_timestamp) AS first_ms,
                        toUnixTimestamp64Milli(last_timestamp) AS last_ms, has_full_snapshot,
                        event_count, toString(encoding) AS encoding, data
                 FROM replay_chunks FINAL WHERE project_id = ? AND session_id = ?
                 ORDER BY chunk_index",
            )
            .bind(project)
            .bind(session)
            .fetch::<ReplayChunk>()?;
        Ok(futures::stream::unfold(Some(cursor), |cursor| async move {
            let mut cursor = cursor?;
            match cursor.next().await {
                Ok(Some(chunk)) => Some((Ok(chunk), Some(cursor))),
                Ok(None) => None,
                Err(error) => Some((Err(error.into()), None)),
            }
        })
        .boxed())
    }

    async fn heatmap(&self, project: Uuid, query: &HeatmapQuery) -> Result<HeatmapData> {
        let range = query.range;
        let (min_w, max_w) = query.device.widths();
        let ch = &self.client;
        let cells = ch
            .query(
                "SELECT grid_x, grid_y, sum(clicks) AS clicks FROM heatmap_clicks
                 WHERE project_id = ? AND path = ? AND viewport_bucket = ?
                   AND day >= toDate(fromUnixTimestamp64Milli(?)) AND day <= toDate(fromUnixTimestamp64Milli(?))
                 GROUP BY grid_x, grid_y ORDER BY grid_y, grid_x LIMIT 100000",
            )
            .bind(project)
            .bind(&query.path)
            .bind(query.device.as_str())
            .bind(range.from_ms)
            .bind(range.to_ms)
            .fetch_all::<Cell>();
        let depths = ch
            .query(
                "SELECT toUInt8(d * 10) AS depth, countIf(m >= d * 10) AS sessions
                 FROM (SELECT session_id, max(max_depth) AS m FROM scroll_depth
                       WHERE project_id = ? AND path = ?
                         AND day >= toDate(fromUnixTimestamp64Milli(?)) AND day <= toDate(fromUnixTimestamp64Milli(?))
                       GROUP BY session_id)
                 ARRAY JOIN range(0, 11) AS d GROUP BY depth ORDER BY depth",
            )
            .bind(project)
            .bind(&query.path)
            .bind(range.from_ms)
            .bind(range.to_ms)
            .fetch_all::<Depth>();
        let elements = ch
            .query(&format!(
                "SELECT target_selector AS selector, any(target_text) AS text, count() AS clicks,
                        uniqExact(session_id) AS sessions
                 FROM {}
                 WHERE path = ? AND target_selector != ''
                   AND viewport_width >= ? AND viewport_width < ?
                 GROUP BY selector ORDER BY clicks DESC, selector LIMIT 20",
                events_in_range(
                    "session_id, path, target_selector, target_text, viewport_width",
                    "'click'"
                )
            ))
            .bind(project)
            .bind(range.from_ms)
            .bind(range.to_ms)
            .bind(&query.path)
            .bind(min_w)
            .bind(max_w)
            .fetch_all::<Element>();
        let (cells, depths, elements) = futures::try_join!(cells, depths, elements)?;
        Ok(HeatmapData {
            cells,
            depths,
            elements,
        })
    }

    async fn insight_groups(
        &self,
        project: Uuid,
        query: &InsightQuery,
    ) -> Result<Vec<InsightGroup>> {
        let range = query.range;
        Ok(self
            .client
            .query(&format!(
                "SELECT toString(insight_type) AS insight_type, path, selector, count() AS count,
                        uniqExact(session_id) AS sessions,
                        toUnixTimestamp64Milli(max(timestamp)) AS last_seen_ms,
                        arraySort(arrayMap(s -> toString(s), groupUniqArray(5)(session_id))) AS example_sessions
                 FROM insights FINAL WHERE project_id = ?
                   AND timestamp >= fromUnixTimestamp64Milli(?) AND timestamp < fromUnixTimestamp64Milli(?)
                   AND (? = '' OR insight_type = ?) AND (? = '' OR path = ?)
                 GROUP BY insight_type, path, selector ORDER BY count DESC, insight_type, path, selector
                 LIMIT {}",
                query.limit
            ))
            .bind(project)
            .bind(range.from_ms)
            .bind(range.to_ms)
            .bind(query.insight_type.clone().unwrap_or_default())
            .bind(query.insight_type.clone().unwrap_or_default())
            .bind(query.path.clone().unwrap_or_default())
            .bind(query.path.clone().unwrap_or_default())
            .fetch_all::<InsightGroup>()
            .await?)
    }

    async fn error_groups(
        &self,
        project: Uuid,
        range: TimeRange,
        limit: u32,
    ) -> Result<Vec<ErrorGroup>> {
        Ok(self
            .client
            .query(&format!(
                "SELECT error_fingerprint AS fingerprint, toString(any(event_type)) AS kind,
                        any(error_message) AS message, substring(any(error_stack), 1, 4096) AS top_stack,
                        count() AS count, uniqExact(session_id) AS sessions,
                        toUnixTimestamp64Milli(min(timestamp)) AS first_seen_ms,
                        toUnixTimestamp64Milli(max(timestamp)) AS last_seen_ms,
                        arraySort(arrayMap(s -> toString(s), groupUniqArray(5)(session_id))) AS example_sessions
                 FROM {}
                 GROUP BY fingerprint ORDER BY count DESC, fingerprint LIMIT {limit}",
                events_in_range(
                    "session_id, event_type, error_fingerprint, error_message, error_stack, timestamp",
                    ERROR_TYPES
                )
            ))
            .bind(project)
            .bind(range.from_ms)
            .bind(range.to_ms)
            .fetch_all::<ErrorGroup>()
            .await?)
    }

    async fn live_sessions(
        &self,
        project: Uuid,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<SessionSummary>> {
        Ok(self
            .client
            .query(&format!(
                "SELECT {SUMMARY_COLUMNS}, toInt64(0) AS sort_key FROM sessions FINAL
                 WHERE project_id = ? AND is_active AND ended_at >= fromUnixTimestamp64Milli(?)
                 ORDER BY ended_at DESC, session_id LIMIT {limit}"
            ))
            .bind(project)
            .bind(since_ms)
            .fetch_all::<SessionSummary>()
            .await?)
    }

    async fn funnel(&self, project: Uuid, query: &FunnelQuery) -> Result<FunnelData> {
        #[derive(Debug, serde::Deserialize, clickhouse::Row)]
        struct Level {
            level: u8,
            sessions: u64,
        }
        if query.steps.is_empty() {
            return Ok(FunnelData::from_levels(0, []));
        }
        let conditions: Vec<&str> = query
            .steps
            .iter()
            .map(|step| match step {
                FunnelStep::Page(p) if p.ends_with('*') => {
                    "(event_type = 'page_view' AND startsWith(path, ?))"
                }
                FunnelStep::Page(_) => "(event_type = 'page_view' AND path = ?)",
                FunnelStep::Event(_) => "(event_type = 'custom' AND custom_name = ?)",
            })
            .collect();
        // A window as long as the range: only the order counts.
        let window = (query.range.to_ms - query.range.from_ms).max(1);
        let mut sql = self.client.query(&format!(
            "SELECT level, count() AS sessions FROM (
                 SELECT windowFunnel({window})(toUInt64(toUnixTimestamp64Milli(timestamp)), {})
                        AS level
                 FROM events
                 WHERE project_id = ? AND event_type IN ('page_view', 'custom')
                   AND timestamp >= fromUnixTimestamp64Milli(?)
                   AND timestamp < fromUnixTimestamp64Milli(?)
                 GROUP BY session_id)
             WHERE level > 0 GROUP BY level",
            conditions.join(", ")
        ));
        for step in &query.steps {
            sql = sql.bind(match step {
                FunnelStep::Page(p) => p.strip_suffix('*').unwrap_or(p),
                FunnelStep::Event(name) => name.as_str(),
            });
        }
        let levels = sql
            .bind(project)
            .bind(query.range.from_ms)
            .bind(query.range.to_ms)
            .fetch_all::<Level>()
            .await?;
        Ok(FunnelData::from_levels(
            query.steps.len(),
            levels
                .into_iter()
                .map(|l| (usize::from(l.level), l.sessions)),
        ))
    }

    async fn erase(&self, project: Uuid, subject: &ErasureSubject) -> Result<u64> {
        #[derive(Debug, serde::Deserialize, clickhouse::Row)]
        struct Found {
            #[serde(with = "clickhouse::serde::uuid")]
            session_id: Uuid,
        }
        let column = subject.column();
        let mut find = self.client.query(&format!(
            "SELECT DISTINCT session_id FROM (
                 SELECT session_id FROM sessions WHERE project_id = ? AND {column} = ?
                 UNION ALL
                 SELECT session_id FROM events WHERE project_id = ? AND {column} = ?)"
        ));
        for _ in 0..2 {
            find = match subject {
                ErasureSubject::Session(id) => find.bind(project).bind(id),
                ErasureSubject::User(id) | ErasureSubject::Anonymous(id) => {
                    find.bind(project).bind(id.as_str())
                }
            };
        }
        let sessions: Vec<Uuid> = find
            .fetch_all::<Found>()
            .await?
            .into_iter()
            .map(|found| found.session_id)
            .collect();
        // Lightweight deletes: the rows are gone from every read once each statement returns,
        // and from disk as their parts merge.
        for batch in sessions.chunks(ERASE_BATCH) {
            for table in ERASED_TABLES {
                self.client
                    .query(&format!(
                        "DELETE FROM {table} WHERE project_id = ? AND session_id IN ?"
                    ))
                    .bind(project)
                    .bind(batch)
                    .with_setting("max_query_size", LOOKUP_QUERY_SIZE)
                    .execute()
                    .await?;
            }
        }
        Ok(sessions.len() as u64)
    }
}

/// Session ids erased per statement.
const ERASE_BATCH: usize = 1_000;

/// Every table holding rows of a session (`sql/clickhouse`), the session rows last: while an
/// erasure is under way its sessions stay listed, so it can be asked again.
const ERASED_TABLES: [&str; 6] = [
    "events",
    "insights",
    "replay_chunks",
    "scroll_depth",
    "page_time",
    "sessions",
];
