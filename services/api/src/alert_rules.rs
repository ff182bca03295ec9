//! Alert rules: create, list, read, replace, delete, with validated conditions and channels.
//! Rules are evaluated by the alerts service.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::access::{Need, require};
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// What a rule watches.
pub const METRICS: &[&str] = &[
    "js_errors",
    "network_errors",
    "rage_clicks",
    "dead_clicks",
    "error_clicks",
    "sessions",
    "error_session_rate",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub metric: String,
    /// `>`, `>=`, `<` or `<=`.
    pub op: String,
    pub threshold: f64,
    /// The window the metric is counted over, 60 s to 1 day.
    pub window_s: u32,
    /// Only events on this path, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Channel {
    Telegram { chat_id: String },
    Webhook { url: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    pub condition: Condition,
    #[serde(default)]
    pub channels: Vec<Channel>,
    #[serde(default = "default_cooldown")]
    pub cooldown_seconds: i32,
}

fn yes() -> bool {
    true
}

fn default_cooldown() -> i32 {
    900
}

fn validate(input: &RuleInput) -> ApiResult<()> {
    if input.name.trim().is_empty() || input.name.chars().count() > 200 {
        return Err(ApiError::invalid("name", "must be 1 to 200 characters"));
    }
    let c = &input.condition;
    if !METRICS.contains(&c.metric.as_str()) {
        return Err(ApiError::invalid(
            "condition.metric",
            &format!("one of {}", METRICS.join(", ")),
        ));
    }
    if !matches!(c.op.as_str(), ">" | ">=" | "<" | "<=") {
        return Err(ApiError::invalid("condition.op", "one of >, >=, <, <="));
    }
    if !c.threshold.is_finite() || c.threshold < 0.0 {
        return Err(ApiError::invalid(
            "condition.threshold",
            "a finite number, at least 0",
        ));
    }
    if c.metric == "error_session_rate" && c.threshold > 1.0 {
        return Err(ApiError::invalid(
            "condition.threshold",
            "a rate is between 0 and 1",
        ));
    }
    if !(60..=86_400).contains(&c.window_s) {
        return Err(ApiError::invalid(
            "condition.window_s",
            "60 to 86400 seconds",
        ));
    }
    if c.path.as_ref().is_some_and(|p| p.len() > 2048) {
        return Err(ApiError::invalid("condition.path", "at most 2048 bytes"));
    }
    if input.channels.len() > 10 {
        return Err(ApiError::invalid("channels", "at most 10"));
    }
    for channel in &input.channels {
        match channel {
            Channel::Telegram { chat_id } => {
                let ok = !chat_id.is_empty()
                    && chat_id.len() <= 64
                    && (chat_id.starts_with('@')
                        || chat_id
                            .trim_start_matches('-')
                            .chars()
                            .all(|c| c.is_ascii_digit()));
                if !ok {
                    return Err(ApiError::invalid(
                        "channels.chat_id",
                        "a numeric chat id or @channel",
                    ));
                }
            }
            Channel::Webhook { url } => {
                let ok = url::Url::parse(url)
                    .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
                if !ok || url.len() > 2048 {
                    return Err(ApiError::invalid("channels.url", "an http(s) URL"));
                }
            }
        }
    }
    if !(0..=7 * 86_400).contains(&input.cooldown_seconds) {
        return Err(ApiError::invalid("cooldown_seconds", "0 to 604800 seconds"));
    }
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct Rule {
    pub id: Uuid,
    pub name: String,
    pub enabled: bool,
    pub condition: serde_json::Value,
    pub channels: serde_json::Value,
    pub cooldown_seconds: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_triggered_at: Option<OffsetDateTime>,
}

const COLUMNS: &str = "id, name, enabled, condition, channels, cooldown_seconds, created_at, updated_at, last_triggered_at";

fn rule_of(r: &tokio_postgres::Row) -> Rule {
    Rule {
        id: r.get(0),
        name: r.get(1),
        enabled: r.get(2),
        condition: r.get(3),
        channels: r.get(4),
        cooldown_seconds: r.get(5),
        created_at: r.get(6),
        updated_at: r.get(7),
        last_triggered_at: r.get(8),
    }
}

fn json<T: Serialize>(value: &T) -> ApiResult<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| ApiError::Internal(e.to_string()))
}

/// `GET /api/v1/projects/{id}/alerts`
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let project = path.into_inner();
    require(&state, &user, project, Need::Read).await?;
    let client = state.pg.get().await?;
    let rows = client
        .query(
            &format!("SELECT {COLUMNS} FROM alert_rules WHERE project_id = $1 ORDER BY name, id"),
            &[&project],
        )
        .await?;
    let rules: Vec<Rule> = rows.iter().map(rule_of).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "rules": rules })))
}

/// `POST /api/v1/projects/{id}/alerts`: members and up.
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
    body: web::Json<RuleInput>,
) -> ApiResult<HttpResponse> {
    let project = path.into_inner();
    require(&state, &user, project, Need::Write).await?;
    validate(&body)?;
    let client = state.pg.get().await?;
    let row = client
        .query_one(
            &format!(
                "INSERT INTO alert_rules (project_id, name, enabled, condition, channels,
                                          cooldown_seconds, created_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
            ),
            &[
                &project,
                &body.name.trim(),
                &body.enabled,
                &json(&body.condition)?,
                &json(&body.channels)?,
                &body.cooldown_seconds,
                &user.id,
            ],
        )
        .await?;
    Ok(HttpResponse::Created().json(rule_of(&row)))
}

/// `GET /api/v1/projects/{id}/alerts/{rule}`
pub async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (project, rule) = path.into_inner();
    require(&state, &user, project, Need::Read).await?;
    let client = state.pg.get().await?;
    let row = client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM alert_rules WHERE id = $1 AND project_id = $2"),
            &[&rule, &project],
        )
        .await?
        .ok_or_else(|| ApiError::NotFound("alert rule".into()))?;
    Ok(HttpResponse::Ok().json(rule_of(&row)))
}

/// `PUT /api/v1/projects/{id}/alerts/{rule}`: replaces the rule.
pub async fn update(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<RuleInput>,
) -> ApiResult<HttpResponse> {
    let (project, rule) = path.into_inner();
    require(&state, &user, project, Need::Write).await?;
    validate(&body)?;
    let client = state.pg.get().await?;
    let row = client
        .query_opt(
            &format!(
                "UPDATE alert_rules SET name = $3, enabled = $4, condition = $5, channels = $6,
                        cooldown_seconds = $7, updated_at = now()
                 WHERE id = $1 AND project_id = $2 RETURNING {COLUMNS}"
            ),
            &[
                &rule,
                &project,
                &body.name.trim(),
                &body.enabled,
                &json(&body.condition)?,
                &json(&body.channels)?,
                &body.cooldown_seconds,
            ],
        )
        .await?
        .ok_or_else(|| ApiError::NotFound("alert rule".into()))?;
    Ok(HttpResponse::Ok().json(rule_of(&row)))
}

/// `DELETE /api/v1/projects/{id}/alerts/{rule}`
pub async fn delete(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (project, rule) = path.into_inner();
    require(&state, &user, project, Need::Write).await?;
    let client = state.pg.get().await?;
    let deleted = client
        .execute(
            "DELETE FROM alert_rules WHERE id = $1 AND project_id = $2",
            &[&rule, &project],
        )
        .await?;
    if deleted == 0 {
        return Err(ApiError::NotFound("alert rule".into()));
    }
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryParams {
    /// Only this rule's alerts.
    pub rule: Option<String>,
    /// At most this many (1 to 200, default 50).
    pub limit: Option<i64>,
    /// The previous page's `next_cursor`: alerts older than it.
    pub cursor: Option<i64>,
}

/// `GET /api/v1/projects/{id}/alerts/history?rule&limit&cursor`: alerts sent, newest first,
/// with the rule's name, the measured value, the evidence and each channel's delivery.
pub async fn history(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
    params: web::Query<HistoryParams>,
) -> ApiResult<HttpResponse> {
    let project = path.into_inner();
    require(&state, &user, project, Need::Read).await?;
    let rule = params
        .rule
        .as_deref()
        .map(|r| Uuid::parse_str(r).map_err(|_| ApiError::invalid("rule", "not a UUID")))
        .transpose()?;
    let limit = params.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid("limit", "between 1 and 200"));
    }
    let client = state.pg.get().await?;
    let rows = client
        .query(
            "SELECT h.id, h.rule_id, r.name, h.triggered_at, h.value, h.details, h.deliveries
             FROM alert_history h JOIN alert_rules r ON r.id = h.rule_id
             WHERE h.project_id = $1 AND ($2::uuid IS NULL OR h.rule_id = $2)
               AND ($3::bigint IS NULL OR h.id < $3)
             ORDER BY h.id DESC LIMIT $4",
            &[&project, &rule, &params.cursor, &(limit + 1)],
        )
        .await?;
    let more = rows.len() as i64 > limit;
    let history: Vec<serde_json::Value> = rows
        .iter()
        .take(limit as usize)
        .map(|r| {
            serde_json::json!({
                "id": r.get::<_, i64>(0),
                "rule_id": r.get::<_, Uuid>(1),
                "rule_name": r.get::<_, String>(2),
                "triggered_at": r.get::<_, OffsetDateTime>(3)
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
                "value": r.get::<_, f64>(4),
                "details": r.get::<_, serde_json::Value>(5),
                "deliveries": r.get::<_, serde_json::Value>(6),
            })
        })
        .collect();
    let next_cursor = if more {
        history.last().map(|h| h["id"].clone())
    } else {
        None
    };
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({ "history": history, "next_cursor": next_cursor })))
}
