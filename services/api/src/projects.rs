//! Projects, their write keys and their members.

use actix_web::{HttpResponse, web};
use gosight_common::backend::{self as meta, MemberChange, ProjectScope, ProjectUpdate};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::access::{Need, ProjectRole, effective_role, require};
use crate::accounts;
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Debug, Serialize)]
pub struct Project {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub allowed_domains: Vec<String>,
    pub settings: serde_json::Value,
    pub role: ProjectRole,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

fn project_of(project: meta::Project, role: ProjectRole) -> Project {
    Project {
        id: project.id,
        name: project.name,
        slug: project.slug,
        allowed_domains: project.allowed_domains,
        settings: project.settings,
        role,
        created_at: project.created_at,
    }
}

/// `GET /api/v1/projects`: the projects the user belongs to (every project for an admin).
pub async fn list(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    let scope = if user.is_admin() {
        ProjectScope::All
    } else {
        ProjectScope::MemberOf
    };
    let projects: Vec<Project> = state
        .meta
        .list_projects(user.id, scope)
        .await?
        .into_iter()
        .filter_map(|access| {
            let role = effective_role(&user, access.role)?;
            Some(project_of(access.project, role))
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "projects": projects })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateProject {
    pub name: String,
}

/// `POST /api/v1/projects`: the caller becomes its owner; answers the first write key once.
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<CreateProject>,
) -> ApiResult<HttpResponse> {
    let email = state
        .meta
        .find_user(user.id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("user no longer exists"))?
        .email;
    let created = accounts::create_project(&*state.meta, &body.name, &email).await?;
    Ok(HttpResponse::Created().json(serde_json::json!({
        "id": created.project_id,
        "slug": created.slug,
        "write_key": created.write_key,
    })))
}

/// `GET /api/v1/projects/{id}`
pub async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let project = path.into_inner();
    let role = require(&state, &user, project, Need::Read).await?;
    let found = state
        .meta
        .find_project(project)
        .await?
        .ok_or_else(|| ApiError::NotFound("project".into()))?;
    Ok(HttpResponse::Ok().json(project_of(found, role)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateProject {
    pub name: Option<String>,
    pub allowed_domains: Option<Vec<String>>,
    pub settings: Option<serde_json::Value>,
}

const REPLAY_MODES: &[&str] = &["always", "on_error", "off"];

/// Checks project settings: `insights` thresholds the processor accepts, `replay` mode and
/// sampling, `retention` days.
pub fn validate_settings(settings: &serde_json::Value) -> ApiResult<()> {
    let Some(map) = settings.as_object() else {
        return Err(ApiError::invalid("settings", "must be a JSON object"));
    };
    for (key, value) in map {
        match key.as_str() {
            "insights" => {
                gosight_processor::thresholds::merge(
                    &gosight_processor::detect::Thresholds::default(),
                    value,
                )
                .map_err(|e| ApiError::invalid("settings.insights", &e))?;
            }
            "replay" => {
                let Some(replay) = value.as_object() else {
                    return Err(ApiError::invalid("settings.replay", "must be an object"));
                };
                for (k, v) in replay {
                    let ok = match k.as_str() {
                        "mode" => v.as_str().is_some_and(|m| REPLAY_MODES.contains(&m)),
                        "sampling" => v.as_f64().is_some_and(|s| (0.0..=1.0).contains(&s)),
                        "viewers_can_watch" => v.is_boolean(),
                        _ => false,
                    };
                    if !ok {
                        return Err(ApiError::invalid(
                            &format!("settings.replay.{k}"),
                            "mode is always|on_error|off, sampling 0..1, viewers_can_watch a boolean; nothing else",
                        ));
                    }
                }
            }
            "retention" => {
                let ok = value.as_object().is_some_and(|r| {
                    r.iter().all(|(k, v)| {
                        matches!(k.as_str(), "events_days" | "replay_days")
                            && v.as_u64().is_some_and(|d| (1..=3650).contains(&d))
                    })
                });
                if !ok {
                    return Err(ApiError::invalid(
                        "settings.retention",
                        "events_days and replay_days, 1 to 3650",
                    ));
                }
            }
            other => {
                return Err(ApiError::invalid(
                    &format!("settings.{other}"),
                    "unknown setting; known: insights, replay, retention",
                ));
            }
        }
    }
    Ok(())
}

fn validate_domains(domains: &[String]) -> ApiResult<()> {
    if domains.len() > 100 {
        return Err(ApiError::invalid("allowed_domains", "at most 100"));
    }
    for domain in domains {
        let ok = !domain.is_empty()
            && domain.len() <= 253
            && domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '*' | ':'));
        if !ok {
            return Err(ApiError::invalid(
                "allowed_domains",
                "each is a host name like shop.example.com or *.example.com",
            ));
        }
    }
    Ok(())
}

/// `PATCH /api/v1/projects/{id}`: admins and owners.
pub async fn update(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
    body: web::Json<UpdateProject>,
) -> ApiResult<HttpResponse> {
    let project = path.into_inner();
    let role = require(&state, &user, project, Need::Manage).await?;
    if let Some(name) = &body.name
        && (name.trim().is_empty() || name.chars().count() > 200)
    {
        return Err(ApiError::invalid("name", "must be 1 to 200 characters"));
    }
    if let Some(domains) = &body.allowed_domains {
        validate_domains(domains)?;
    }
    if let Some(settings) = &body.settings {
        validate_settings(settings)?;
    }
    let body = body.into_inner();
    let update = ProjectUpdate {
        name: body.name.map(|n| n.trim().to_string()),
        allowed_domains: body.allowed_domains,
        settings: body.settings,
    };
    let updated = state
        .meta
        .update_project(project, update)
        .await?
        .ok_or_else(|| ApiError::NotFound("project".into()))?;
    Ok(HttpResponse::Ok().json(project_of(updated, role)))
}

/// `DELETE /api/v1/projects/{id}`: owners only.
pub async fn delete(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let project = path.into_inner();
    let role = require(&state, &user, project, Need::Manage).await?;
    if role != ProjectRole::Owner {
        return Err(ApiError::Forbidden(
            "only an owner deletes a project".into(),
        ));
    }
    state.meta.delete_project(project).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Serialize)]
pub struct ApiKey {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub permissions: Vec<String>,
    pub rate_limit: i32,
    pub rate_burst: i32,
    pub active: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

/// `GET /api/v1/projects/{id}/keys`: prefixes only; a key is shown once, at creation.
pub async fn list_keys(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let project = path.into_inner();
    require(&state, &user, project, Need::Manage).await?;
    let now = OffsetDateTime::now_utc();
    let keys: Vec<ApiKey> = state
        .meta
        .list_api_keys(project)
        .await?
        .into_iter()
        .map(|k| ApiKey {
            active: k.is_usable(now),
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            permissions: k.permissions,
            rate_limit: k.rate_limit,
            rate_burst: k.rate_burst,
            expires_at: k.expires_at,
            created_at: k.created_at,
            revoked_at: k.revoked_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "keys": keys })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    #[serde(default)]
    pub name: String,
    pub rate_limit: Option<i32>,
    pub rate_burst: Option<i32>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

/// `POST /api/v1/projects/{id}/keys`: answers the key itself, once.
pub async fn create_key(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
    body: web::Json<CreateKey>,
) -> ApiResult<HttpResponse> {
    let project = path.into_inner();
    require(&state, &user, project, Need::Manage).await?;
    if body.name.chars().count() > 100 {
        return Err(ApiError::invalid("name", "at most 100 characters"));
    }
    let rate_limit = body.rate_limit.unwrap_or(1000);
    let rate_burst = body.rate_burst.unwrap_or(rate_limit.saturating_mul(5));
    if rate_limit < 1 || rate_burst < 1 {
        return Err(ApiError::invalid(
            "rate_limit",
            "limit and burst must be at least 1",
        ));
    }
    if body
        .expires_at
        .is_some_and(|at| at <= OffsetDateTime::now_utc())
    {
        return Err(ApiError::invalid("expires_at", "must be in the future"));
    }
    let key = accounts::new_api_key();
    let record = meta::NewApiKey {
        rate_limit,
        rate_burst,
        expires_at: body.expires_at,
        ..accounts::new_key_record(&key, &body.name, Some(user.id))
    };
    let created = state.meta.create_api_key(project, record).await?;
    Ok(HttpResponse::Created().json(serde_json::json!({
        "id": created.id,
        "key": key,
        "prefix": created.prefix,
    })))
}

/// `DELETE /api/v1/projects/{id}/keys/{key_id}`: revokes; the ingest stops taking it within its
/// key cache's TTL.
pub async fn revoke_key(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (project, key) = path.into_inner();
    require(&state, &user, project, Need::Manage).await?;
    if !state.meta.revoke_api_key(project, key).await? {
        return Err(ApiError::NotFound("key".into()));
    }
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Serialize)]
pub struct Member {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub role: ProjectRole,
}

/// `GET /api/v1/projects/{id}/members`
pub async fn list_members(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let project = path.into_inner();
    require(&state, &user, project, Need::Read).await?;
    let members: Vec<Member> = state
        .meta
        .list_members(project)
        .await?
        .into_iter()
        .map(|m| Member {
            user_id: m.user_id,
            email: m.email,
            name: m.name,
            role: m.role,
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "members": members })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutMember {
    pub email: String,
    pub role: ProjectRole,
}

/// `PUT /api/v1/projects/{id}/members`: adds a user by email or changes their role. Only an
/// owner grants or takes away `owner`; the last owner stays.
pub async fn put_member(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
    body: web::Json<PutMember>,
) -> ApiResult<HttpResponse> {
    let project = path.into_inner();
    let role = require(&state, &user, project, Need::Manage).await?;
    let target = state
        .meta
        .find_user_by_email(&body.email)
        .await?
        .ok_or_else(|| ApiError::invalid("email", "no user has this email"))?
        .id;
    let change = state
        .meta
        .set_member_role(project, target, body.role, role == ProjectRole::Owner)
        .await?;
    membership_answer(change, "only an owner grants or removes `owner`")?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "user_id": target, "role": body.role })))
}

/// The error a refused membership change answers; `owner_only` is the 403's message.
fn membership_answer(change: MemberChange, owner_only: &str) -> ApiResult<()> {
    match change {
        MemberChange::Applied => Ok(()),
        MemberChange::NotMember => Err(ApiError::NotFound("member".into())),
        MemberChange::OwnerRequired => Err(ApiError::Forbidden(owner_only.into())),
        MemberChange::LastOwner => Err(ApiError::Conflict(
            "a project keeps at least one owner".into(),
        )),
    }
}

/// `DELETE /api/v1/projects/{id}/members/{user_id}`
pub async fn remove_member(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (project, target) = path.into_inner();
    let role = require(&state, &user, project, Need::Manage).await?;
    let change = state
        .meta
        .remove_member(project, target, role == ProjectRole::Owner)
        .await?;
    membership_answer(change, "only an owner removes an owner")?;
    Ok(HttpResponse::NoContent().finish())
}
