//! Projects, their write keys and their members.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::access::{Need, ProjectRole, effective_role, require};
use crate::accounts::{self, KEY_PREFIX_LEN};
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

const PROJECT_COLUMNS: &str = "p.id, p.name, p.slug, p.allowed_domains, p.settings, p.created_at";

fn project_of(row: &tokio_postgres::Row, role: ProjectRole) -> Project {
    Project {
        id: row.get(0),
        name: row.get(1),
        slug: row.get(2),
        allowed_domains: row.get(3),
        settings: row.get(4),
        role,
        created_at: row.get(5),
    }
}

/// `GET /api/v1/projects`: the projects the user belongs to (every project for an admin).
pub async fn list(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    let client = state.pg.get().await?;
    let rows = client
        .query(
            &format!(
                "SELECT {PROJECT_COLUMNS}, m.role::text FROM projects p
                 LEFT JOIN project_members m ON m.project_id = p.id AND m.user_id = $1
                 WHERE m.user_id IS NOT NULL OR $2
                 ORDER BY p.name, p.id"
            ),
            &[&user.id, &user.is_admin()],
        )
        .await?;
    let projects: Vec<Project> = rows
        .iter()
        .filter_map(|row| Some(project_of(row, effective_role(&user, row.get(6))?)))
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
    let client = state.pg.get().await?;
    let email: String = client
        .query_opt("SELECT email FROM users WHERE id = $1", &[&user.id])
        .await?
        .ok_or_else(|| ApiError::unauthorized("user no longer exists"))?
        .get(0);
    drop(client);
    let created = accounts::create_project(&state.pg, &body.name, &email).await?;
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
    let client = state.pg.get().await?;
    let row = client
        .query_one(
            &format!("SELECT {PROJECT_COLUMNS} FROM projects p WHERE p.id = $1"),
            &[&project],
        )
        .await?;
    Ok(HttpResponse::Ok().json(project_of(&row, role)))
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
    let client = state.pg.get().await?;
    let row = client
        .query_one(
            &format!(
                "UPDATE projects p SET name = coalesce($2, name),
                        allowed_domains = coalesce($3, allowed_domains),
                        settings = coalesce($4, settings), updated_at = now()
                 WHERE id = $1 RETURNING {PROJECT_COLUMNS}"
            ),
            &[
                &project,
                &body.name.as_deref().map(str::trim),
                &body.allowed_domains,
                &body.settings,
            ],
        )
        .await?;
    Ok(HttpResponse::Ok().json(project_of(&row, role)))
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
    let client = state.pg.get().await?;
    client
        .execute("DELETE FROM projects WHERE id = $1", &[&project])
        .await?;
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
    let client = state.pg.get().await?;
    let rows = client
        .query(
            "SELECT id, name, key_prefix, permissions, rate_limit, rate_burst,
                    is_active AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()),
                    expires_at, created_at, revoked_at
             FROM api_keys WHERE project_id = $1 ORDER BY created_at, id",
            &[&project],
        )
        .await?;
    let keys: Vec<ApiKey> = rows
        .iter()
        .map(|r| ApiKey {
            id: r.get(0),
            name: r.get(1),
            prefix: r.get(2),
            permissions: r.get(3),
            rate_limit: r.get(4),
            rate_burst: r.get(5),
            active: r.get(6),
            expires_at: r.get(7),
            created_at: r.get(8),
            revoked_at: r.get(9),
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
    let hash = gosight_common::backend::hash_api_key(&key);
    let client = state.pg.get().await?;
    let id: Uuid = client
        .query_one(
            "INSERT INTO api_keys (project_id, name, key_prefix, key_hash, rate_limit, rate_burst,
                                   expires_at, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            &[
                &project,
                &body.name,
                &&key[..KEY_PREFIX_LEN],
                &hash.as_slice(),
                &rate_limit,
                &rate_burst,
                &body.expires_at,
                &user.id,
            ],
        )
        .await?
        .get(0);
    Ok(HttpResponse::Created().json(serde_json::json!({
        "id": id,
        "key": key,
        "prefix": &key[..KEY_PREFIX_LEN],
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
    let client = state.pg.get().await?;
    let changed = client
        .execute(
            "UPDATE api_keys SET is_active = false, revoked_at = coalesce(revoked_at, now())
             WHERE id = $1 AND project_id = $2",
            &[&key, &project],
        )
        .await?;
    if changed == 0 {
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
    let client = state.pg.get().await?;
    let rows = client
        .query(
            "SELECT u.id, u.email, u.name, m.role::text FROM project_members m
             JOIN users u ON u.id = m.user_id WHERE m.project_id = $1 ORDER BY u.email",
            &[&project],
        )
        .await?;
    let members: Vec<Member> = rows
        .iter()
        .map(|r| Member {
            user_id: r.get(0),
            email: r.get(1),
            name: r.get(2),
            role: ProjectRole::parse(r.get(3)).unwrap_or(ProjectRole::Viewer),
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
    let mut client = state.pg.get().await?;
    let tx = client.transaction().await?;
    let target: Uuid = tx
        .query_opt(
            "SELECT id FROM users WHERE lower(email) = lower($1)",
            &[&body.email],
        )
        .await?
        .ok_or_else(|| ApiError::invalid("email", "no user has this email"))?
        .get(0);
    let current: Option<String> = tx
        .query_opt(
            "SELECT role::text FROM project_members WHERE project_id = $1 AND user_id = $2 FOR UPDATE",
            &[&project, &target],
        )
        .await?
        .map(|r| r.get(0));
    let touches_owner = body.role == ProjectRole::Owner || current.as_deref() == Some("owner");
    if touches_owner && role != ProjectRole::Owner {
        return Err(ApiError::Forbidden(
            "only an owner grants or removes `owner`".into(),
        ));
    }
    if current.as_deref() == Some("owner") && body.role != ProjectRole::Owner {
        ensure_another_owner(&tx, project, target).await?;
    }
    tx.execute(
        "INSERT INTO project_members (project_id, user_id, role) VALUES ($1, $2, $3::text::member_role)
         ON CONFLICT (project_id, user_id) DO UPDATE SET role = EXCLUDED.role",
        &[&project, &target, &body.role.as_str()],
    )
    .await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "user_id": target, "role": body.role })))
}

async fn ensure_another_owner(
    tx: &deadpool_postgres::Transaction<'_>,
    project: Uuid,
    leaving: Uuid,
) -> ApiResult<()> {
    let owners: i64 = tx
        .query_one(
            "SELECT count(*) FROM project_members
             WHERE project_id = $1 AND role = 'owner' AND user_id <> $2",
            &[&project, &leaving],
        )
        .await?
        .get(0);
    if owners == 0 {
        return Err(ApiError::Conflict(
            "a project keeps at least one owner".into(),
        ));
    }
    Ok(())
}

/// `DELETE /api/v1/projects/{id}/members/{user_id}`
pub async fn remove_member(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (project, target) = path.into_inner();
    let role = require(&state, &user, project, Need::Manage).await?;
    let mut client = state.pg.get().await?;
    let tx = client.transaction().await?;
    let current: Option<String> = tx
        .query_opt(
            "SELECT role::text FROM project_members WHERE project_id = $1 AND user_id = $2 FOR UPDATE",
            &[&project, &target],
        )
        .await?
        .map(|r| r.get(0));
    let Some(current) = current else {
        return Err(ApiError::NotFound("member".into()));
    };
    if current == "owner" {
        if role != ProjectRole::Owner {
            return Err(ApiError::Forbidden("only an owner removes an owner".into()));
        }
        ensure_another_owner(&tx, project, target).await?;
    }
    tx.execute(
        "DELETE FROM project_members WHERE project_id = $1 AND user_id = $2",
        &[&project, &target],
    )
    .await?;
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
