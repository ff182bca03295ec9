//! Alert rules: create, list, read, replace, delete, with validated conditions and channels.
//! Rules are evaluated by the alerts service.

use actix_web::{HttpResponse, web};
use gosight_common::backend::{AlertRule, AlertRuleInput, HistoryQuery};
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

fn rule_of(r: AlertRule) -> Rule {
    Rule {
        id: r.id,
        name: r.name,
        enabled: r.enabled,
        condition: r.condition,
        channels: r.channels,
        cooldown_seconds: r.cooldown_seconds,
        created_at: r.created_at,
        updated_at: r.updated_at,
        last_triggered_at: r.last_triggered_at,
    }
}

fn json<T: Serialize>(value: &T) -> ApiResult<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| ApiError::Internal(e.to_string()))
}

/// What is stored of a validated rule.
fn stored(input: &RuleInput) -> ApiResult<AlertRuleInput> {
    Ok(AlertRuleInput {
        name: input.name.trim().to_string(),
        enabled: input.enabled,
        condition: json(&input.condition)?,
        channels: json(&input.channels)?,
        cooldown_seconds: input.cooldown_seconds,
    })
}

/// `GET /api/v1/projects/{id}/alerts`
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let project = path.into_inner();
    require(&state, &user, project, Need::Read).await?;
    let rules: Vec<Rule> = state
        .meta
        .list_alert_rules(project)
        .await?
        .into_iter()
        .map(rule_of)
        .collect();
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
    let created = state
        .meta
        .create_alert_rule(project, stored(&body)?, Some(user.id))
        .await?;
    Ok(HttpResponse::Created().json(rule_of(created)))
}

/// `GET /api/v1/projects/{id}/alerts/{rule}`
pub async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (project, rule) = path.into_inner();
    require(&state, &user, project, Need::Read).await?;
    let found = state
        .meta
        .find_alert_rule(project, rule)
        .await?
        .ok_or_else(|| ApiError::NotFound("alert rule".into()))?;
    Ok(HttpResponse::Ok().json(rule_of(found)))
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
    let replaced = state
        .meta
        .update_alert_rule(project, rule, stored(&body)?)
        .await?
        .ok_or_else(|| ApiError::NotFound("alert rule".into()))?;
    Ok(HttpResponse::Ok().json(rule_of(replaced)))
}

/// `DELETE /api/v1/projects/{id}/alerts/{rule}`
pub async fn delete(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (project, rule) = path.into_inner();
    require(&state, &user, project, Need::Write).await?;
    if !state.meta.delete_alert_rule(project, rule).await? {
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
    let query = HistoryQuery {
        rule,
        before: params.cursor,
        // One more than asked, to tell whether there is a next page.
        limit: limit as u32 + 1,
    };
    let entries = state.meta.alert_history(project, query).await?;
    let more = entries.len() as i64 > limit;
    let history: Vec<serde_json::Value> = entries
        .into_iter()
        .take(limit as usize)
        .map(|h| {
            serde_json::json!({
                "id": h.id,
                "rule_id": h.rule_id,
                "rule_name": h.rule_name,
                "triggered_at": h.triggered_at
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
                "value": h.value,
                "details": h.details,
                "deliveries": h.deliveries,
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
