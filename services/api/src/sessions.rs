//! Sessions: the filtered, sorted, cursor-paginated list; one session's detail; its replay.

use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Need, require};
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::query::{Range, rfc3339_ms, text_filter};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    pub from: Option<String>,
    pub to: Option<String>,
    pub user_id: Option<String>,
    /// Sessions that visited this path.
    pub path: Option<String>,
    /// Sessions whose URL (entry or any page) contains this text.
    pub url: Option<String>,
    pub country: Option<String>,
    pub device: Option<String>,
    pub browser: Option<String>,
    pub has_error: Option<bool>,
    pub has_rage_click: Option<bool>,
    pub has_dead_click: Option<bool>,
    pub min_duration_ms: Option<u64>,
    pub max_duration_ms: Option<u64>,
    pub min_events: Option<u32>,
    /// `started_at` (default), `duration` or `events`.
    pub sort: Option<String>,
    /// `desc` (default) or `asc`.
    pub order: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// One session in a list.
#[derive(Debug, Clone, Serialize, Deserialize, clickhouse::Row)]
pub struct SessionSummary {
    pub session_id: String,
    pub user_id: String,
    pub anonymous_id: String,
    pub started_ms: i64,
    pub ended_ms: i64,
    pub duration_ms: u64,
    pub is_active: bool,
    pub entry_url: String,
    pub entry_path: String,
    pub exit_path: String,
    pub referrer: String,
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
    pub country_code: String,
    pub city: String,
    pub browser: String,
    pub browser_version: String,
    pub os: String,
    pub device_type: String,
    pub viewport_width: u32,
    pub viewport_height: u32,
    pub utm_source: String,
    pub utm_medium: String,
    pub utm_campaign: String,
    pub sort_key: i64,
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

#[derive(Debug, Serialize)]
struct SessionOut<'a> {
    #[serde(flatten)]
    row: &'a SessionSummary,
    started_at: String,
    ended_at: String,
}

fn out(row: &SessionSummary) -> SessionOut<'_> {
    SessionOut {
        row,
        started_at: rfc3339_ms(row.started_ms),
        ended_at: rfc3339_ms(row.ended_ms),
    }
}

/// Cursor: the last row's sort key and id, `<key>.<uuid>`.
fn parse_cursor(cursor: &str) -> ApiResult<(i64, Uuid)> {
    let bad = || ApiError::invalid("cursor", "not a cursor this API handed out");
    let (key, id) = cursor.split_once('.').ok_or_else(bad)?;
    Ok((
        key.parse().map_err(|_| bad())?,
        Uuid::try_parse(id).map_err(|_| bad())?,
    ))
}

/// `GET /api/v1/projects/{id}/sessions`
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
    params: web::Query<ListParams>,
) -> ApiResult<HttpResponse> {
    let project = path.into_inner();
    require(&state, &user, project, Need::Read).await?;
    let p = params.into_inner();
    let range = Range::parse(p.from.as_deref(), p.to.as_deref())?;
    let limit = state.page_size(p.limit, 50);
    let sort_expr = match p.sort.as_deref().unwrap_or("started_at") {
        "started_at" => "toUnixTimestamp64Milli(started_at)",
        "duration" => "toInt64(duration_ms)",
        "events" => "toInt64(event_count)",
        _ => {
            return Err(ApiError::invalid(
                "sort",
                "one of started_at, duration, events",
            ));
        }
    };
    let desc = match p.order.as_deref().unwrap_or("desc") {
        "desc" => true,
        "asc" => false,
        _ => return Err(ApiError::invalid("order", "asc or desc")),
    };
    let cursor = p.cursor.as_deref().map(parse_cursor).transpose()?;
    let user_id = text_filter("user_id", &p.user_id)?;
    let page_path = text_filter("path", &p.path)?;
    let url = text_filter("url", &p.url)?;
    let country = text_filter("country", &p.country)?;
    let device = text_filter("device", &p.device)?;
    let browser = text_filter("browser", &p.browser)?;

    let mut sql = format!(
        "SELECT {SUMMARY_COLUMNS}, {sort_expr} AS sort_key FROM sessions FINAL
         WHERE project_id = ? AND started_at >= fromUnixTimestamp64Milli(?)
           AND started_at < fromUnixTimestamp64Milli(?)"
    );
    let mut query_text_binds: Vec<String> = Vec::new();
    let mut add = |sql: &mut String, clause: &str, value: Option<String>| {
        if let Some(v) = value {
            sql.push_str(clause);
            query_text_binds.push(v);
        }
    };
    add(&mut sql, " AND user_id = ?", user_id);
    add(&mut sql, " AND country_code = ?", country);
    add(&mut sql, " AND device_type = ?", device);
    add(&mut sql, " AND browser = ?", browser);
    // `page_time` has a row per session, path and day: a primary-key range instead of a scan
    // of the range's events.
    add(
        &mut sql,
        " AND session_id IN (SELECT session_id FROM page_time WHERE project_id = {project:UUID} AND path = ? AND day >= toDate(fromUnixTimestamp64Milli({from_ms:Int64})) AND day <= toDate(fromUnixTimestamp64Milli({to_ms:Int64}) + INTERVAL 1 DAY))",
        page_path,
    );
    add(
        &mut sql,
        " AND (positionCaseInsensitive(entry_url, ?) > 0 OR session_id IN (SELECT session_id FROM events WHERE project_id = {project:UUID} AND timestamp >= fromUnixTimestamp64Milli({from_ms:Int64}) AND timestamp < fromUnixTimestamp64Milli({to_ms:Int64}) + INTERVAL 1 DAY AND event_type = 'page_view' AND positionCaseInsensitive(url, {url:String}) > 0))",
        url.clone(),
    );
    for (flag, value) in [
        ("has_error", p.has_error),
        ("has_rage_click", p.has_rage_click),
        ("has_dead_click", p.has_dead_click),
    ] {
        if let Some(v) = value {
            sql.push_str(&format!(" AND {flag} = {}", u8::from(v)));
        }
    }
    if let Some(v) = p.min_duration_ms {
        sql.push_str(&format!(" AND duration_ms >= {v}"));
    }
    if let Some(v) = p.max_duration_ms {
        sql.push_str(&format!(" AND duration_ms <= {v}"));
    }
    if let Some(v) = p.min_events {
        sql.push_str(&format!(" AND event_count >= {v}"));
    }
    let (cmp, dir) = if desc { ("<", "DESC") } else { (">", "ASC") };
    if cursor.is_some() {
        sql.push_str(&format!(
            " AND ({sort_expr}, session_id) {cmp} ({{cursor_key:Int64}}, {{cursor_id:String}})"
        ));
    }
    sql.push_str(&format!(
        " ORDER BY sort_key {dir}, session_id {dir} LIMIT {}",
        limit + 1
    ));

    let mut query = state
        .clickhouse
        .query(&sql)
        .param("project", project.to_string())
        .param("url", url.unwrap_or_default())
        .param("from_ms", range.from_ms)
        .param("to_ms", range.to_ms)
        .bind(project)
        .bind(range.from_ms)
        .bind(range.to_ms);
    for value in query_text_binds {
        query = query.bind(value);
    }
    if let Some((key, id)) = cursor {
        query = query
            .param("cursor_key", key)
            .param("cursor_id", id.to_string());
    }
    let mut rows = query.fetch_all::<SessionSummary>().await?;
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last()
            .map(|r| format!("{}.{}", r.sort_key, r.session_id))
    } else {
        None
    };
    let sessions: Vec<SessionOut<'_>> = rows.iter().map(out).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "sessions": sessions,
        "next_cursor": next_cursor,
    })))
}

#[derive(Debug, Serialize, Deserialize, clickhouse::Row)]
struct TimelineEvent {
    event_id: String,
    event_type: String,
    timestamp_ms: i64,
    url: String,
    path: String,
    x: i32,
    y: i32,
    target_selector: String,
    target_text: String,
    error_message: String,
    metric_name: String,
    metric_value: f64,
    payload: String,
}

#[derive(Debug, Serialize, Deserialize, clickhouse::Row)]
struct SessionInsight {
    insight_id: String,
    insight_type: String,
    timestamp_ms: i64,
    url: String,
    path: String,
    x: i32,
    y: i32,
    selector: String,
    details: String,
}

/// Most events one detail answer carries; the timeline says when it was cut.
pub const MAX_TIMELINE_EVENTS: u32 = 20_000;

/// `GET /api/v1/projects/{id}/sessions/{session}`: metadata, the event timeline, its insights.
pub async fn detail(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (project, session) = path.into_inner();
    require(&state, &user, project, Need::Read).await?;
    let ch = &state.clickhouse;
    let summary = ch
        .query(&format!(
            "SELECT {SUMMARY_COLUMNS}, toInt64(0) AS sort_key FROM sessions FINAL
             WHERE project_id = ? AND session_id = ?"
        ))
        .bind(project)
        .bind(session)
        .fetch_optional::<SessionSummary>();
    let events = ch
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
        .bind(MAX_TIMELINE_EVENTS + 1)
        .fetch_all::<TimelineEvent>();
    let insights = ch
        .query(
            "SELECT toString(insight_id) AS insight_id, toString(insight_type) AS insight_type,
                    toUnixTimestamp64Milli(timestamp) AS timestamp_ms, url, path, x, y, selector,
                    details
             FROM insights FINAL WHERE project_id = ? AND session_id = ? ORDER BY timestamp",
        )
        .bind(project)
        .bind(session)
        .fetch_all::<SessionInsight>();
    let (summary, events, insights) = futures::try_join!(summary, events, insights)?;
    let Some(summary) = summary else {
        return Err(ApiError::NotFound("session".into()));
    };
    let mut events = events;
    let truncated = events.len() > MAX_TIMELINE_EVENTS as usize;
    events.truncate(MAX_TIMELINE_EVENTS as usize);
    let events: Vec<serde_json::Value> = events
        .into_iter()
        .map(|e| {
            let payload: serde_json::Value =
                serde_json::from_str(&e.payload).unwrap_or(serde_json::Value::Null);
            serde_json::json!({
                "event_id": e.event_id, "type": e.event_type,
                "timestamp": rfc3339_ms(e.timestamp_ms), "timestamp_ms": e.timestamp_ms,
                "url": e.url, "path": e.path, "x": e.x, "y": e.y,
                "selector": e.target_selector, "text": e.target_text,
                "error_message": e.error_message, "metric_name": e.metric_name,
                "metric_value": e.metric_value, "payload": payload,
            })
        })
        .collect();
    let insights: Vec<serde_json::Value> = insights
        .into_iter()
        .map(|i| {
            let details: serde_json::Value =
                serde_json::from_str(&i.details).unwrap_or(serde_json::Value::Null);
            serde_json::json!({
                "insight_id": i.insight_id, "type": i.insight_type,
                "timestamp": rfc3339_ms(i.timestamp_ms), "timestamp_ms": i.timestamp_ms,
                "url": i.url, "path": i.path, "x": i.x, "y": i.y, "selector": i.selector,
                "details": details,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "session": out(&summary),
        "events": events,
        "events_truncated": truncated,
        "insights": insights,
    })))
}

#[derive(Debug, Serialize, Deserialize, clickhouse::Row)]
struct ChunkRow {
    chunk_index: u32,
    first_ms: i64,
    last_ms: i64,
    has_full_snapshot: bool,
    event_count: u32,
    encoding: String,
    #[serde(with = "serde_bytes")]
    data: Vec<u8>,
}

/// `GET /api/v1/projects/{id}/sessions/{session}/replay`: the replay chunks in `chunk_index`
/// order as NDJSON, one chunk per line (`data` base64 as stored, `encoding` `json` or
/// `gzip_json`), streamed as ClickHouse reads them so a player can start on the first one.
pub async fn replay(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (project, session) = path.into_inner();
    require(&state, &user, project, Need::Replay).await?;
    let cursor = state
        .clickhouse
        .query(
            "SELECT chunk_index, toUnixTimestamp64Milli(first_timestamp) AS first_ms,
                    toUnixTimestamp64Milli(last_timestamp) AS last_ms, has_full_snapshot,
                    event_count, toString(encoding) AS encoding, data
             FROM replay_chunks FINAL WHERE project_id = ? AND session_id = ?
             ORDER BY chunk_index",
        )
        .bind(project)
        .bind(session)
        .fetch::<ChunkRow>()?;
    let stream = futures::stream::unfold(Some(cursor), |cursor| async move {
        let mut cursor = cursor?;
        match cursor.next().await {
            Ok(Some(chunk)) => {
                let mut line = serde_json::to_vec(&serde_json::json!({
                    "chunk_index": chunk.chunk_index,
                    "first_timestamp_ms": chunk.first_ms,
                    "last_timestamp_ms": chunk.last_ms,
                    "has_full_snapshot": chunk.has_full_snapshot,
                    "event_count": chunk.event_count,
                    "encoding": chunk.encoding,
                    "data": BASE64.encode(&chunk.data),
                }))
                .unwrap_or_default();
                line.push(b'\n');
                Some((Ok::<_, ApiError>(bytes::Bytes::from(line)), Some(cursor)))
            }
            Ok(None) => None,
            Err(error) => Some((Err(ApiError::from(error)), None)),
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .streaming(stream))
}
