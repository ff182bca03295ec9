//! Aggregates over ClickHouse: the overview, heatmaps, insights and grouped errors.
//!
//! Every query is scoped to one project and a time range, with values bound as parameters.
//! Events are read with `LIMIT 1 BY event_id` where a redelivered copy could still be unmerged.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Need, require};
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::query::{Range, RangeParams, RollupSplit, rfc3339_ms, text_filter};
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, clickhouse::Row)]
struct Frustration {
    bucket_ms: i64,
    rage_clicks: u64,
    dead_clicks: u64,
}

#[derive(Debug, Serialize, Deserialize, clickhouse::Row)]
struct Count {
    key: String,
    count: u64,
}

#[derive(Debug, Deserialize, clickhouse::Row)]
struct ListedCount {
    list: String,
    key: String,
    count: u64,
}

#[derive(Debug, Serialize, Deserialize, clickhouse::Row)]
struct Point {
    bucket_ms: i64,
    sessions: u64,
    users: u64,
    bounces: u64,
    avg_duration_ms: f64,
    rage_sessions: u64,
    dead_sessions: u64,
    error_sessions: u64,
    page_views: u64,
    errors: u64,
}

#[derive(Debug, Serialize, Deserialize, clickhouse::Row)]
struct Vital {
    /// The series bucket; 0 for the whole range.
    bucket_ms: i64,
    name: String,
    p75: f64,
    samples: u64,
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
}

/// A `UNION ALL` over the parts of `split`; `part(source, condition)` gives each part's SELECT,
/// where `condition` holds the part's time column to its ranges. Returns the SQL and its binds,
/// in order; the project is the named parameter `{project:UUID}`.
fn rollup_union(split: &RollupSplit, part: impl Fn(Source, &str) -> String) -> (String, Vec<i64>) {
    let mut binds = Vec::new();
    let mut parts = Vec::new();
    let hours: Vec<Range> = split.hours.into_iter().collect();
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

/// Runs a [`rollup_union`] query.
fn rollup_query(
    ch: &clickhouse::Client,
    project: Uuid,
    (sql, binds): (String, Vec<i64>),
) -> clickhouse::query::Query {
    binds.into_iter().fold(
        ch.query(&sql).param("project", project.to_string()),
        |query, bind| query.bind(bind),
    )
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
            if matches!(source, Source::Hourly) {
                "hourly"
            } else {
                "minutely"
            }
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
                if matches!(source, Source::Hourly) { "hourly" } else { "minutely" }
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

const ERROR_TYPES: &str = "'js_error', 'network_error'";

fn rate(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// `GET /api/v1/projects/{id}/overview?from&to`
///
/// Seven queries at once: totals and counters, the time series and the four top lists over the
/// session rows; frustration counts per bucket from insights; top pages and web vitals (for the
/// range and per bucket) from the hourly and minutely rollups plus the partial minutes at the
/// range's ends from events. Every counter and rate has a series point per bucket.
pub async fn overview(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
    params: web::Query<RangeParams>,
) -> ApiResult<HttpResponse> {
    let project = path.into_inner();
    require(&state, &user, project, Need::Read).await?;
    let range = Range::parse(params.from.as_deref(), params.to.as_deref())?;
    let split = range.rollup_split();
    let ch = &state.clickhouse;
    let bind3 = |q: clickhouse::query::Query| q.bind(project).bind(range.from_ms).bind(range.to_ms);
    let bucket = range.bucket_seconds();
    let totals = bind3(ch.query(&session_counters_sql(None))).fetch_one::<Point>();
    let frustration = bind3(ch.query(&format!(
        "SELECT {} AS bucket_ms, countIf(insight_type = 'rage_click') AS rage_clicks,
                countIf(insight_type = 'dead_click') AS dead_clicks
         FROM insights FINAL WHERE project_id = ?
           AND timestamp >= fromUnixTimestamp64Milli(?) AND timestamp < fromUnixTimestamp64Milli(?)
         GROUP BY bucket_ms",
        bucket_of("timestamp", bucket)
    )))
    .fetch_all::<Frustration>();
    let series = bind3(ch.query(&session_counters_sql(Some(bucket)))).fetch_all::<Point>();
    let tops = bind3(ch.query(&session_tops_sql())).fetch_all::<ListedCount>();
    let vitals = rollup_query(ch, project, vitals_sql(&split, None)).fetch_all::<Vital>();
    let vitals_series =
        rollup_query(ch, project, vitals_sql(&split, Some(bucket))).fetch_all::<Vital>();
    let pages = rollup_query(ch, project, top_pages_sql(&split)).fetch_all::<Count>();
    let (totals, frustration, series, tops, vitals, vitals_series, pages) = futures::try_join!(
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
    let series = series_points(&series, &frustration, &vitals_series);
    let (rage_clicks, dead_clicks) = frustration
        .iter()
        .fold((0, 0), |(r, d), f| (r + f.rage_clicks, d + f.dead_clicks));
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "range": { "from": rfc3339_ms(range.from_ms), "to": rfc3339_ms(range.to_ms), "bucket_seconds": bucket },
        "sessions": totals.sessions,
        "users": totals.users,
        "page_views": totals.page_views,
        "bounce_rate": rate(totals.bounces, totals.sessions),
        "avg_duration_ms": totals.avg_duration_ms,
        "errors": totals.errors,
        "error_session_rate": rate(totals.error_sessions, totals.sessions),
        "rage_clicks": rage_clicks,
        "dead_clicks": dead_clicks,
        "rage_click_session_rate": rate(totals.rage_sessions, totals.sessions),
        "dead_click_session_rate": rate(totals.dead_sessions, totals.sessions),
        "web_vitals": vitals.iter().map(|v| serde_json::json!({
            "name": v.name, "p75": v.p75, "samples": v.samples,
        })).collect::<Vec<_>>(),
        "top_pages": pages,
        "referrers": list("referrer"),
        "countries": list("country"),
        "devices": list("device"),
        "browsers": list("browser"),
        "series": series,
    })))
}

/// One point per bucket that has sessions, insights or vitals: the overview's counters and rates,
/// and `web_vitals` as metric name to p75.
fn series_points(
    sessions: &[Point],
    frustration: &[Frustration],
    vitals: &[Vital],
) -> Vec<serde_json::Value> {
    type Points = std::collections::BTreeMap<i64, serde_json::Value>;
    fn point(points: &mut Points, bucket_ms: i64) -> &mut serde_json::Value {
        points.entry(bucket_ms).or_insert_with(|| {
            serde_json::json!({
                "at": rfc3339_ms(bucket_ms), "sessions": 0, "users": 0, "page_views": 0,
                "errors": 0, "bounce_rate": 0.0, "avg_duration_ms": 0.0, "error_session_rate": 0.0,
                "rage_click_session_rate": 0.0, "dead_click_session_rate": 0.0,
                "rage_clicks": 0, "dead_clicks": 0, "web_vitals": {},
            })
        })
    }
    let mut points = Points::new();
    for p in sessions {
        let entry = point(&mut points, p.bucket_ms);
        entry["sessions"] = p.sessions.into();
        entry["users"] = p.users.into();
        entry["page_views"] = p.page_views.into();
        entry["errors"] = p.errors.into();
        entry["bounce_rate"] = rate(p.bounces, p.sessions).into();
        entry["avg_duration_ms"] = p.avg_duration_ms.into();
        entry["error_session_rate"] = rate(p.error_sessions, p.sessions).into();
        entry["rage_click_session_rate"] = rate(p.rage_sessions, p.sessions).into();
        entry["dead_click_session_rate"] = rate(p.dead_sessions, p.sessions).into();
    }
    for f in frustration {
        let entry = point(&mut points, f.bucket_ms);
        entry["rage_clicks"] = f.rage_clicks.into();
        entry["dead_clicks"] = f.dead_clicks.into();
    }
    for v in vitals {
        point(&mut points, v.bucket_ms)["web_vitals"][v.name.as_str()] = v.p75.into();
    }
    points.into_values().collect()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeatmapParams {
    pub from: Option<String>,
    pub to: Option<String>,
    pub path: String,
    /// `mobile` (< 768 px), `tablet` (< 1024 px) or `desktop` (default).
    pub device: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, clickhouse::Row)]
struct Cell {
    grid_x: u16,
    grid_y: u32,
    clicks: u64,
}

#[derive(Debug, Serialize, Deserialize, clickhouse::Row)]
struct Depth {
    depth: u8,
    sessions: u64,
}

#[derive(Debug, Serialize, Deserialize, clickhouse::Row)]
struct Element {
    selector: String,
    text: String,
    clicks: u64,
    sessions: u64,
}

/// `GET /api/v1/projects/{id}/heatmap?path&device&from&to`: the click grid (x in 200 columns of
/// the viewport width, y in 10 px rows of the page), the scroll-depth distribution (sessions that
/// reached at least each 10 %), the most clicked elements.
pub async fn heatmap(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
    params: web::Query<HeatmapParams>,
) -> ApiResult<HttpResponse> {
    let project = path.into_inner();
    require(&state, &user, project, Need::Read).await?;
    let p = params.into_inner();
    let range = Range::parse(p.from.as_deref(), p.to.as_deref())?;
    let page = text_filter("path", &Some(p.path.clone()))?.unwrap_or_default();
    let device = p.device.unwrap_or_else(|| "desktop".into());
    if !["mobile", "tablet", "desktop"].contains(&device.as_str()) {
        return Err(ApiError::invalid("device", "mobile, tablet or desktop"));
    }
    let (min_w, max_w) = match device.as_str() {
        "mobile" => (0, 768),
        "tablet" => (768, 1024),
        _ => (1024, u32::MAX),
    };
    let ch = &state.clickhouse;
    let cells = ch
        .query(
            "SELECT grid_x, grid_y, sum(clicks) AS clicks FROM heatmap_clicks
             WHERE project_id = ? AND path = ? AND viewport_bucket = ?
               AND day >= toDate(fromUnixTimestamp64Milli(?)) AND day <= toDate(fromUnixTimestamp64Milli(?))
             GROUP BY grid_x, grid_y ORDER BY grid_y, grid_x LIMIT 100000",
        )
        .bind(project)
        .bind(&page)
        .bind(&device)
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
        .bind(&page)
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
        .bind(&page)
        .bind(min_w)
        .bind(max_w)
        .fetch_all::<Element>();
    let (cells, depths, elements) = futures::try_join!(cells, depths, elements)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "path": page,
        "device": device,
        "grid": { "columns": 200, "row_px": 10, "cells": cells },
        "scroll_depth": depths,
        "elements": elements,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InsightParams {
    pub from: Option<String>,
    pub to: Option<String>,
    #[serde(rename = "type")]
    pub insight_type: Option<String>,
    pub path: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, clickhouse::Row)]
struct InsightGroup {
    insight_type: String,
    path: String,
    selector: String,
    count: u64,
    sessions: u64,
    last_seen_ms: i64,
    example_sessions: Vec<String>,
}

const INSIGHT_TYPES: &[&str] = &[
    "rage_click",
    "dead_click",
    "thrashed_cursor",
    "error_click",
    "excessive_scrolling",
    "quick_back",
];

/// `GET /api/v1/projects/{id}/insights?type&path&from&to`: grouped by type, path and selector.
pub async fn insights(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
    params: web::Query<InsightParams>,
) -> ApiResult<HttpResponse> {
    let project = path.into_inner();
    require(&state, &user, project, Need::Read).await?;
    let p = params.into_inner();
    let range = Range::parse(p.from.as_deref(), p.to.as_deref())?;
    if let Some(t) = &p.insight_type
        && !INSIGHT_TYPES.contains(&t.as_str())
    {
        return Err(ApiError::invalid(
            "type",
            "one of rage_click, dead_click, thrashed_cursor, error_click, excessive_scrolling, quick_back",
        ));
    }
    let page = text_filter("path", &p.path)?;
    let limit = state.page_size(p.limit, 50);
    let groups = state
        .clickhouse
        .query(&format!(
            "SELECT toString(insight_type) AS insight_type, path, selector, count() AS count,
                    uniqExact(session_id) AS sessions,
                    toUnixTimestamp64Milli(max(timestamp)) AS last_seen_ms,
                    arrayMap(s -> toString(s), groupUniqArray(5)(session_id)) AS example_sessions
             FROM insights FINAL WHERE project_id = ?
               AND timestamp >= fromUnixTimestamp64Milli(?) AND timestamp < fromUnixTimestamp64Milli(?)
               AND (? = '' OR insight_type = ?) AND (? = '' OR path = ?)
             GROUP BY insight_type, path, selector ORDER BY count DESC, insight_type, path, selector
             LIMIT {limit}"
        ))
        .bind(project)
        .bind(range.from_ms)
        .bind(range.to_ms)
        .bind(p.insight_type.clone().unwrap_or_default())
        .bind(p.insight_type.unwrap_or_default())
        .bind(page.clone().unwrap_or_default())
        .bind(page.unwrap_or_default())
        .fetch_all::<InsightGroup>()
        .await?;
    let groups: Vec<serde_json::Value> = groups
        .into_iter()
        .map(|g| {
            serde_json::json!({
                "type": g.insight_type, "path": g.path, "selector": g.selector,
                "count": g.count, "sessions": g.sessions, "last_seen": rfc3339_ms(g.last_seen_ms),
                "example_sessions": g.example_sessions,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "insights": groups })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorParams {
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, clickhouse::Row)]
struct ErrorGroup {
    fingerprint: u64,
    kind: String,
    message: String,
    top_stack: String,
    count: u64,
    sessions: u64,
    first_seen_ms: i64,
    last_seen_ms: i64,
    example_sessions: Vec<String>,
}

/// `GET /api/v1/projects/{id}/errors?from&to`: JS and network errors grouped by fingerprint
/// (message and top frame, computed by the processor).
pub async fn errors(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
    params: web::Query<ErrorParams>,
) -> ApiResult<HttpResponse> {
    let project = path.into_inner();
    require(&state, &user, project, Need::Read).await?;
    let p = params.into_inner();
    let range = Range::parse(p.from.as_deref(), p.to.as_deref())?;
    let limit = state.page_size(p.limit, 50);
    let groups = state
        .clickhouse
        .query(&format!(
            "SELECT error_fingerprint AS fingerprint, toString(any(event_type)) AS kind,
                    any(error_message) AS message, substring(any(error_stack), 1, 4096) AS top_stack,
                    count() AS count, uniqExact(session_id) AS sessions,
                    toUnixTimestamp64Milli(min(timestamp)) AS first_seen_ms,
                    toUnixTimestamp64Milli(max(timestamp)) AS last_seen_ms,
                    arrayMap(s -> toString(s), groupUniqArray(5)(session_id)) AS example_sessions
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
        .await?;
    let groups: Vec<serde_json::Value> = groups
        .into_iter()
        .map(|g| {
            serde_json::json!({
                "fingerprint": g.fingerprint.to_string(), "type": g.kind,
                "message": g.message, "stack": g.top_stack, "count": g.count, "sessions": g.sessions,
                "first_seen": rfc3339_ms(g.first_seen_ms), "last_seen": rfc3339_ms(g.last_seen_ms),
                "example_sessions": g.example_sessions,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "errors": groups })))
}
