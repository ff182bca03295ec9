//! `GET /api/v1/projects/{id}/live`: a WebSocket of the project's live sessions.
//!
//! On connect it sends `{"type": "snapshot", "sessions": [...]}` with the sessions active in the
//! last 30 minutes, then relays every live update the processor publishes on the project's Redis
//! channel (`started`, `page`, `action`, `insight`, `ended`), as it arrives. Browsers pass the
//! access token as `?access_token=`. A client that reconnects gets a fresh snapshot, so nothing
//! it missed while away stays missing. Pings are answered; the server pings every 20 s and closes
//! a connection silent for 60 s.

use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::Message;
use uuid::Uuid;

use crate::access::{Need, require};
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::query::rfc3339_ms;
use crate::state::AppState;

/// Most sessions in a snapshot.
pub const SNAPSHOT_LIMIT: u32 = 500;

async fn snapshot(state: &AppState, project: Uuid) -> ApiResult<serde_json::Value> {
    let since_ms =
        (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64 - 30 * 60_000;
    let rows = state
        .analytics
        .live_sessions(project, since_ms, SNAPSHOT_LIMIT)
        .await?;
    let sessions: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "session_id": r.session_id, "user_id": r.user_id,
                "started_at": rfc3339_ms(r.started_ms), "last_seen_at": rfc3339_ms(r.ended_ms),
                "url": r.exit_path, "entry_url": r.entry_url, "page_count": r.page_count,
                "event_count": r.event_count, "country": r.country_code,
                "device": r.device_type, "browser": r.browser,
                "has_error": r.has_error, "has_rage_click": r.has_rage_click,
            })
        })
        .collect();
    Ok(serde_json::json!({ "type": "snapshot", "sessions": sessions }))
}

pub async fn socket(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
    req: HttpRequest,
    body: web::Payload,
) -> ApiResult<HttpResponse> {
    let project = path.into_inner();
    require(&state, &user, project, Need::Read).await?;
    let Some(live) = state.live.clone() else {
        return Err(ApiError::Storage(gosight_common::Error::Invalid(
            "live updates need Redis, which is not configured".into(),
        )));
    };
    // Subscribe before reading the snapshot so no update falls between the two.
    let mut updates = live
        .subscribe(&gosight_processor::live::channel(project))
        .await?;
    let first = snapshot(&state, project).await?;
    let (response, mut session, mut incoming) =
        actix_ws::handle(&req, body).map_err(|e| ApiError::invalid("upgrade", &e.to_string()))?;
    actix_web::rt::spawn(async move {
        if session.text(first.to_string()).await.is_err() {
            return;
        }
        let period = Duration::from_secs(20);
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        let mut last_heard = Instant::now();
        loop {
            tokio::select! {
                update = updates.next() => {
                    let Some(update) = update else { break };
                    let text = String::from_utf8_lossy(&update).into_owned();
                    if session.text(text).await.is_err() {
                        return;
                    }
                }
                message = incoming.recv() => {
                    last_heard = Instant::now();
                    match message {
                        Some(Ok(Message::Ping(bytes))) => {
                            if session.pong(&bytes).await.is_err() {
                                return;
                            }
                        }
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                        Some(Ok(_)) => {}
                    }
                }
                _ = ping.tick() => {
                    if last_heard.elapsed() > Duration::from_secs(60) {
                        break;
                    }
                    if session.ping(b"").await.is_err() {
                        return;
                    }
                }
            }
        }
        let _ = session.close(None).await;
    });
    Ok(response)
}
