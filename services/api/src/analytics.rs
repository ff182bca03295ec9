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
use crate::query::{Range, RangeParams, rfc3339_ms, text_filter};
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, clickhouse::Row)]
struct Totals {
    sessions: u64,
    users: u64,
    bounces: u64,
    avg_duration_ms: f64,
    rage_sessions: u64,
    dead_sessions: u64,
    error_sessions: u64,
}

#[derive(Debug, Serialize, Deserialize, clickhouse::Row)]
struct EventTotals {
    page_views: u64,
    errors: u64,
    rage_clicks: u64,
    dead_clicks: u64,
}

#[derive(Debug, Serialize, Deserialize, clickhouse::Row)]
struct Count {
    key: String,
    count: u64,
}

#[derive(Debug, Serialize, Deserialize, clickhouse::Row)]
struct Point {
    bucket_ms: i64,
    sessions: u64,
    page_views: u64,
    errors: u64,
}

#[derive(Debug, Serialize, Deserialize, clickhouse::Row)]
struct Vital {
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

const ERROR_TYPES: &str = "'js_error', 'network_error'";

async fn top(
    state: &AppState,
    project: Uuid,
    range: Range,
    column: &str,
    from_sessions: bool,
) -> ApiResult<Vec<Count>> {
    let sql = if from_sessions {
        format!(
            "SELECT toString({column}) AS key, count() AS count {SESSIONS_IN_RANGE}
             GROUP BY key ORDER BY count DESC, key LIMIT 10"
        )
    } else {
        format!(
            "SELECT toString({column}) AS key, count() AS count FROM {}
             GROUP BY key ORDER BY count DESC, key LIMIT 10",
            events_in_range(column, "'page_view'")
        )
    };
    Ok(state
        .clickhouse
        .query(&sql)
        .bind(project)
        .bind(range.from_ms)
        .bind(range.to_ms)
        .fetch_all::<Count>()
        .await?)
}

fn rate(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// `GET /api/v1/projects/{id}/overview?from&to`
pub async fn overview(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
    params: web::Query<RangeParams>,
) -> ApiResult<HttpResponse> {
    let project = path.into_inner();
    require(&state, &user, project, Need::Read).await?;
    let range = Range::parse(params.from.as_deref(), params.to.as_deref())?;
    let ch = &state.clickhouse;
    let bind3 = |q: clickhouse::query::Query| q.bind(project).bind(range.from_ms).bind(range.to_ms);
    let totals = bind3(ch.query(&format!(
        "SELECT count() AS sessions,
                uniqExact(if(user_id != '', user_id, anonymous_id)) AS users,
                countIf(is_bounce) AS bounces, ifNotFinite(avg(duration_ms), 0) AS avg_duration_ms,
                countIf(has_rage_click) AS rage_sessions, countIf(has_dead_click) AS dead_sessions,
                countIf(has_error) AS error_sessions {SESSIONS_IN_RANGE}"
    )))
    .fetch_one::<Totals>();
    // Page views and errors come from the session rows (their counters), not an events scan.
    let events = bind3(ch.query(&format!(
        "SELECT sum(page_count) AS page_views, sum(error_count) AS errors,
                toUInt64(0) AS rage_clicks, toUInt64(0) AS dead_clicks {SESSIONS_IN_RANGE}"
    )))
    .fetch_one::<EventTotals>();
    let frustration = bind3(ch.query(
        "SELECT toUInt64(0) AS page_views, toUInt64(0) AS errors,
                countIf(insight_type = 'rage_click') AS rage_clicks,
                countIf(insight_type = 'dead_click') AS dead_clicks
         FROM insights FINAL WHERE project_id = ?
           AND timestamp >= fromUnixTimestamp64Milli(?) AND timestamp < fromUnixTimestamp64Milli(?)",
    ))
    .fetch_one::<EventTotals>();
    let bucket = range.bucket_seconds();
    let series = bind3(ch.query(&format!(
        "SELECT toUnixTimestamp64Milli(toDateTime64(toStartOfInterval(started_at, INTERVAL {bucket} SECOND), 3)) AS bucket_ms,
                count() AS sessions, sum(page_count) AS page_views, sum(error_count) AS errors
         {SESSIONS_IN_RANGE} GROUP BY bucket_ms ORDER BY bucket_ms"
    )))
    .fetch_all::<Point>();
    let vitals = bind3(ch.query(&format!(
        "SELECT toString(metric_name) AS name, quantile(0.75)(metric_value) AS p75, count() AS samples
         FROM {} WHERE metric_name != ''
         GROUP BY name ORDER BY name",
        events_in_range("metric_name, metric_value", "'web_vitals'")
    )))
    .fetch_all::<Vital>();
    let (totals, events, frustration, series, vitals) =
        futures::try_join!(totals, events, frustration, series, vitals)?;
    let (pages, referrers, countries, devices, browsers) = futures::try_join!(
        top(&state, project, range, "path", false),
        top(&state, project, range, "referrer", true),
        top(&state, project, range, "country_code", true),
        top(&state, project, range, "device_type", true),
        top(&state, project, range, "browser", true),
    )?;
    let series: Vec<serde_json::Value> = series
        .iter()
        .map(|p| {
            serde_json::json!({
                "at": rfc3339_ms(p.bucket_ms), "sessions": p.sessions,
                "page_views": p.page_views, "errors": p.errors,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "range": { "from": rfc3339_ms(range.from_ms), "to": rfc3339_ms(range.to_ms), "bucket_seconds": bucket },
        "sessions": totals.sessions,
        "users": totals.users,
        "page_views": events.page_views,
        "bounce_rate": rate(totals.bounces, totals.sessions),
        "avg_duration_ms": totals.avg_duration_ms,
        "errors": events.errors,
        "error_session_rate": rate(totals.error_sessions, totals.sessions),
        "rage_clicks": frustration.rage_clicks,
        "dead_clicks": frustration.dead_clicks,
        "rage_click_session_rate": rate(totals.rage_sessions, totals.sessions),
        "dead_click_session_rate": rate(totals.dead_sessions, totals.sessions),
        "web_vitals": vitals,
        "top_pages": pages,
        "referrers": referrers,
        "countries": countries,
        "devices": devices,
        "browsers": browsers,
        "series": series,
    })))
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
