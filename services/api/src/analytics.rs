//! The overview, heatmaps, insights and grouped errors, read from the analytics store.

use actix_web::{HttpRequest, HttpResponse, web};
use gosight_common::backend::analytics::{
    Frustration, FunnelQuery, FunnelStep, HeatmapQuery, InsightQuery, MAX_FUNNEL_STEPS,
    SessionCounters, ViewportBucket, Vital,
};
use serde::Deserialize;
use uuid::Uuid;

use crate::access::{Need, require};
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::query::{RangeParams, parse_range, rfc3339_ms, text_filter};
use crate::state::AppState;

fn rate(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// `GET /api/v1/projects/{id}/overview?from&to`: totals and counters, the time series (every
/// counter and rate has a point per bucket), the four top lists, top pages, web vitals p75 for
/// the range and per bucket, frustration counts per bucket.
pub async fn overview(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
    params: web::Query<RangeParams>,
) -> ApiResult<HttpResponse> {
    let project = path.into_inner();
    require(&state, &user, project, Need::Read).await?;
    let range = parse_range(params.from.as_deref(), params.to.as_deref())?;
    let bucket = range.bucket_seconds();
    let data = state.analytics.overview(project, range).await?;
    let totals = &data.totals;
    let series = series_points(&data.series, &data.frustration, &data.vitals_series);
    let (rage_clicks, dead_clicks) = data
        .frustration
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
        "web_vitals": data.vitals.iter().map(|v| serde_json::json!({
            "name": v.name, "p75": v.p75, "samples": v.samples,
        })).collect::<Vec<_>>(),
        "top_pages": data.top_pages,
        "referrers": data.referrers,
        "countries": data.countries,
        "devices": data.devices,
        "browsers": data.browsers,
        "series": series,
    })))
}

/// One point per bucket that has sessions, insights or vitals: the overview's counters and rates,
/// and `web_vitals` as metric name to p75.
fn series_points(
    sessions: &[SessionCounters],
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
    let range = parse_range(p.from.as_deref(), p.to.as_deref())?;
    let page = text_filter("path", &Some(p.path.clone()))?.unwrap_or_default();
    let bucket = ViewportBucket::parse(p.device.as_deref().unwrap_or("desktop"))
        .ok_or_else(|| ApiError::invalid("device", "mobile, tablet or desktop"))?;
    let data = state
        .analytics
        .heatmap(
            project,
            &HeatmapQuery {
                range,
                path: page.clone(),
                device: bucket,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "path": page,
        "device": bucket.as_str(),
        "grid": { "columns": 200, "row_px": 10, "cells": data.cells },
        "scroll_depth": data.depths,
        "elements": data.elements,
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
    let range = parse_range(p.from.as_deref(), p.to.as_deref())?;
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
        .analytics
        .insight_groups(
            project,
            &InsightQuery {
                range,
                insight_type: p.insight_type,
                path: page,
                limit,
            },
        )
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
    let range = parse_range(p.from.as_deref(), p.to.as_deref())?;
    let limit = state.page_size(p.limit, 50);
    let groups = state.analytics.error_groups(project, range, limit).await?;
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

/// The steps of `GET …/funnel`: `step=page:/path` (a trailing `*` matches every path it
/// starts) or `step=event:name`, two to [`MAX_FUNNEL_STEPS`] of them, in order; and the range.
pub fn funnel_params(query: &str) -> ApiResult<(Option<String>, Option<String>, Vec<FunnelStep>)> {
    let (mut from, mut to, mut steps) = (None, None, Vec::new());
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "from" => from = Some(value.into_owned()),
            "to" => to = Some(value.into_owned()),
            "step" => {
                let value = text_filter("step", &Some(value.into_owned()))?.unwrap_or_default();
                let step = match value.split_once(':') {
                    Some(("page", path)) if path.starts_with('/') => {
                        FunnelStep::Page(path.to_string())
                    }
                    Some(("event", name)) if !name.is_empty() => {
                        FunnelStep::Event(name.to_string())
                    }
                    _ => {
                        return Err(ApiError::invalid(
                            "step",
                            "page:/path (a trailing * matches every path it starts) or event:name",
                        ));
                    }
                };
                steps.push(step);
            }
            other => {
                return Err(ApiError::invalid(
                    other,
                    "unknown parameter; this takes from, to and step",
                ));
            }
        }
    }
    if !(2..=MAX_FUNNEL_STEPS).contains(&steps.len()) {
        return Err(ApiError::invalid(
            "step",
            &format!("a funnel has 2 to {MAX_FUNNEL_STEPS} steps"),
        ));
    }
    Ok((from, to, steps))
}

/// `GET /api/v1/projects/{id}/funnel?step=…&step=…&from&to`: per step, the sessions that did
/// every step up to it in order within the range, their share of the first step's and of the
/// step before's.
pub async fn funnel(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
    request: HttpRequest,
) -> ApiResult<HttpResponse> {
    let project = path.into_inner();
    require(&state, &user, project, Need::Read).await?;
    let (from, to, steps) = funnel_params(request.query_string())?;
    let range = parse_range(from.as_deref(), to.as_deref())?;
    let data = state
        .analytics
        .funnel(
            project,
            &FunnelQuery {
                range,
                steps: steps.clone(),
            },
        )
        .await?;
    /// A step as the query named it (`type`, `value`) and what it counted.
    #[derive(serde::Serialize)]
    struct StepOut<'a> {
        #[serde(flatten)]
        step: &'a FunnelStep,
        sessions: u64,
        conversion: f64,
        from_previous: f64,
    }
    let first = data.sessions.first().copied().unwrap_or(0);
    let out: Vec<StepOut> = steps
        .iter()
        .zip(&data.sessions)
        .enumerate()
        .map(|(i, (step, &sessions))| {
            let before = if i == 0 { first } else { data.sessions[i - 1] };
            StepOut {
                step,
                sessions,
                conversion: rate(sessions, first),
                from_previous: rate(sessions, before),
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "from": rfc3339_ms(range.from_ms), "to": rfc3339_ms(range.to_ms), "steps": out,
    })))
}
