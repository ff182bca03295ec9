//! Sessions: the filtered, sorted, cursor-paginated list; one session's detail; its replay.

use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures::StreamExt;
use gosight_common::backend::analytics::{ErasureSubject, SessionFilter, SessionSort};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Need, require};
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::query::{parse_range, rfc3339_ms, text_filter};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    pub from: Option<String>,
    pub to: Option<String>,
    pub user_id: Option<String>,
    /// One browser's sessions.
    pub anonymous_id: Option<String>,
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

pub use gosight_common::backend::analytics::SessionSummary;

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
    let range = parse_range(p.from.as_deref(), p.to.as_deref())?;
    let limit = state.page_size(p.limit, 50);
    let sort = match p.sort.as_deref().unwrap_or("started_at") {
        "started_at" => SessionSort::StartedAt,
        "duration" => SessionSort::Duration,
        "events" => SessionSort::Events,
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
    let anonymous_id = text_filter("anonymous_id", &p.anonymous_id)?;
    let page_path = text_filter("path", &p.path)?;
    let url = text_filter("url", &p.url)?;
    let country = text_filter("country", &p.country)?;
    let device = text_filter("device", &p.device)?;
    let browser = text_filter("browser", &p.browser)?;

    let filter = SessionFilter {
        range,
        user_id,
        anonymous_id,
        path: page_path,
        url,
        country,
        device,
        browser,
        has_error: p.has_error,
        has_rage_click: p.has_rage_click,
        has_dead_click: p.has_dead_click,
        min_duration_ms: p.min_duration_ms,
        max_duration_ms: p.max_duration_ms,
        min_events: p.min_events,
        sort,
        descending: desc,
        cursor,
        limit: limit + 1,
    };
    let mut rows = state.analytics.sessions(project, &filter).await?;
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
    let store = &state.analytics;
    let (summary, events, insights) = futures::try_join!(
        store.session(project, session),
        store.timeline(project, session, MAX_TIMELINE_EVENTS + 1),
        store.session_insights(project, session),
    )?;
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

/// `GET /api/v1/projects/{id}/sessions/{session}/replay`: the replay chunks in `chunk_index`
/// order as NDJSON, one chunk per line (`data` base64 as stored, `encoding` `json` or
/// `gzip_json`), streamed as the store reads them so a player can start on the first one.
pub async fn replay(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (project, session) = path.into_inner();
    require(&state, &user, project, Need::Replay).await?;
    let chunks = state.analytics.replay(project, session).await?;
    let stream = chunks.map(|chunk| {
        let chunk = chunk?;
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
        Ok::<_, ApiError>(bytes::Bytes::from(line))
    });
    Ok(HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .streaming(stream))
}

/// `DELETE /api/v1/projects/{id}/sessions/{session}`: the session's events, replay and
/// insights are removed; 404 when nothing of it is stored.
pub async fn delete(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (project, session) = path.into_inner();
    require(&state, &user, project, Need::Manage).await?;
    let erased = state
        .analytics
        .erase(project, &ErasureSubject::Session(session))
        .await?;
    if erased == 0 {
        return Err(ApiError::NotFound("session".into()));
    }
    tracing::info!(%project, %session, by = %user.id, "session deleted");
    Ok(HttpResponse::NoContent().finish())
}

/// Whose data `POST …/erasure` removes: one of the two ids.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErasureRequest {
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
}

/// Longest id accepted, as the SDK limits them.
const MAX_ID_LEN: usize = 256;

/// `POST /api/v1/projects/{id}/erasure`: every session of a person (`user_id`, as the site
/// identified them) or of a browser (`anonymous_id`) is removed, for a request to erase their
/// data; answers how many sessions that was.
pub async fn erase(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
    body: web::Json<ErasureRequest>,
) -> ApiResult<HttpResponse> {
    let project = path.into_inner();
    require(&state, &user, project, Need::Manage).await?;
    // Ids are matched exactly as stored; only an all-blank one is taken for none.
    fn given(id: &Option<String>) -> Option<&str> {
        id.as_deref().filter(|id| !id.trim().is_empty())
    }
    let subject = match (given(&body.user_id), given(&body.anonymous_id)) {
        (Some(id), None) if id.len() <= MAX_ID_LEN => ErasureSubject::User(id.to_string()),
        (None, Some(id)) if id.len() <= MAX_ID_LEN => ErasureSubject::Anonymous(id.to_string()),
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "anonymous_id",
                "give a user_id or an anonymous_id, not both",
            ));
        }
        (None, None) => {
            return Err(ApiError::invalid(
                "user_id",
                "give the user_id or the anonymous_id whose data is to be erased",
            ));
        }
        (user_id, _) => {
            let field = if user_id.is_some() {
                "user_id"
            } else {
                "anonymous_id"
            };
            return Err(ApiError::invalid(field, "longer than 256 bytes"));
        }
    };
    let erased = state.analytics.erase(project, &subject).await?;
    // Who asked and how much, not whose data it was.
    tracing::info!(%project, by = %user.id, sessions = erased, "data erased on request");
    Ok(HttpResponse::Ok().json(serde_json::json!({ "sessions_erased": erased })))
}
