//! Sign-in: argon2id password checks, short-lived JWT access tokens, rotating refresh tokens.
//!
//! Refresh tokens are random, shown to the client once and stored as sha256. Every use rotates
//! the token: the old one is revoked and points at its replacement. Tokens rotated from one login
//! share a family; presenting an already rotated token (a stolen copy) revokes the whole family.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use argon2::{Argon2, PasswordHash, PasswordVerifier};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::accounts::{self, UserRole};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Keys signing and checking access tokens (HS256).
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(<redacted>)")
    }
}

impl TokenKeys {
    /// From the configured secret, or a random one when it is empty.
    pub fn new(secret: &str) -> Self {
        let secret: Vec<u8> = if secret.is_empty() {
            rand::random::<[u8; 32]>().to_vec()
        } else {
            secret.as_bytes().to_vec()
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
            validation,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: Uuid,
    role: UserRole,
    exp: i64,
    iat: i64,
}

/// The signed-in user of a request, from `Authorization: Bearer <access token>`.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    pub id: Uuid,
    pub role: UserRole,
}

impl AuthUser {
    pub fn is_admin(&self) -> bool {
        self.role == UserRole::Admin
    }
}

fn decode_token(state: &AppState, token: &str) -> ApiResult<AuthUser> {
    let data =
        jsonwebtoken::decode::<Claims>(token, &state.tokens.decoding, &state.tokens.validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    ApiError::unauthorized("access token expired; refresh it")
                }
                _ => ApiError::unauthorized("invalid access token"),
            })?;
    Ok(AuthUser {
        id: data.claims.sub,
        role: data.claims.role,
    })
}

/// The access token of a request: the bearer header, or `access_token=` in the query for the
/// WebSocket (browsers cannot set headers on it).
fn token_of(req: &HttpRequest) -> Option<String> {
    if let Some(value) = req.headers().get(actix_web::http::header::AUTHORIZATION) {
        return value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_string);
    }
    web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.get("access_token").cloned())
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let Some(state) = req.app_data::<web::Data<AppState>>() else {
            return ready(Err(ApiError::Internal("app state missing".into())));
        };
        ready(match token_of(req) {
            Some(token) => decode_token(state, &token),
            None => Err(ApiError::unauthorized(
                "sign in first: send `Authorization: Bearer <access token>`",
            )),
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub refresh_token: String,
    pub user: UserInfo,
}

#[derive(Debug, Serialize)]
pub struct UserInfo {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: UserRole,
}

fn sha256(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// `gsr_` and 64 hex characters (256 random bits).
fn new_refresh_token() -> String {
    accounts::random_token::<32>("gsr_")
}

fn access_token(state: &AppState, user: Uuid, role: UserRole) -> ApiResult<String> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let claims = Claims {
        sub: user,
        role,
        iat: now,
        exp: now + state.config.access_token_ttl_seconds as i64,
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &state.tokens.encoding,
    )
    .map_err(|e| ApiError::Internal(format!("signing token: {e}")))
}

/// Issues an access token and a refresh token in `family`.
async fn issue(
    state: &AppState,
    client: &deadpool_postgres::Object,
    user: UserInfo,
    family: Uuid,
) -> ApiResult<(TokenResponse, Uuid)> {
    let refresh = new_refresh_token();
    let expires = OffsetDateTime::now_utc()
        + time::Duration::days(state.config.refresh_token_ttl_days as i64);
    let id: Uuid = client
        .query_one(
            "INSERT INTO refresh_tokens (user_id, token_hash, family_id, expires_at)
             VALUES ($1, $2, $3, $4) RETURNING id",
            &[&user.id, &sha256(&refresh), &family, &expires],
        )
        .await?
        .get(0);
    let response = TokenResponse {
        access_token: access_token(state, user.id, user.role)?,
        token_type: "Bearer",
        expires_in: state.config.access_token_ttl_seconds,
        refresh_token: refresh,
        user,
    };
    Ok((response, id))
}

fn parse_role(role: &str) -> UserRole {
    if role == "admin" {
        UserRole::Admin
    } else {
        UserRole::User
    }
}

/// `POST /api/v1/auth/login`
pub async fn login(
    state: web::Data<AppState>,
    body: web::Json<LoginRequest>,
) -> ApiResult<HttpResponse> {
    let client = state.pg.get().await?;
    let row = client
        .query_opt(
            "SELECT id, email, name, password_hash, role, disabled FROM users
             WHERE lower(email) = lower($1)",
            &[&body.email],
        )
        .await?;
    let denied = || ApiError::unauthorized("wrong email or password");
    let Some(row) = row else {
        // Same work as for a real user, so timing does not tell which emails exist.
        let _ = verify_password(&body.password, dummy_hash());
        return Err(denied());
    };
    let hash: String = row.get(3);
    if !verify_password(&body.password, &hash) || row.get::<_, bool>(5) {
        return Err(denied());
    }
    let user = UserInfo {
        id: row.get(0),
        email: row.get(1),
        name: row.get(2),
        role: parse_role(row.get(4)),
    };
    client
        .execute(
            "UPDATE users SET last_login_at = now() WHERE id = $1",
            &[&user.id],
        )
        .await?;
    let (response, _) = issue(&state, &client, user, Uuid::new_v4()).await?;
    Ok(HttpResponse::Ok().json(response))
}

/// A real hash of nothing in particular, checked against when the email is unknown.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| accounts::hash_password("not a password").unwrap_or_default())
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// `POST /api/v1/auth/refresh`: a new pair for a valid refresh token, which is rotated.
pub async fn refresh(
    state: web::Data<AppState>,
    body: web::Json<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    let client = state.pg.get().await?;
    let row = client
        .query_opt(
            "SELECT t.id, t.family_id, t.revoked_at IS NOT NULL, t.expires_at < now(),
                    u.id, u.email, u.name, u.role, u.disabled
             FROM refresh_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_hash = $1",
            &[&sha256(&body.refresh_token)],
        )
        .await?;
    let Some(row) = row else {
        return Err(ApiError::unauthorized("unknown refresh token"));
    };
    let (token_id, family): (Uuid, Uuid) = (row.get(0), row.get(1));
    if row.get::<_, bool>(2) {
        tracing::warn!(%family, "rotated refresh token reused; its family is revoked");
        return Err(revoke_family(&client, family).await);
    }
    if row.get::<_, bool>(3) || row.get::<_, bool>(8) {
        return Err(ApiError::unauthorized(
            "refresh token expired; sign in again",
        ));
    }
    let user = UserInfo {
        id: row.get(4),
        email: row.get(5),
        name: row.get(6),
        role: parse_role(row.get(7)),
    };
    let (response, new_id) = issue(&state, &client, user, family).await?;
    let rotated = client
        .execute(
            "UPDATE refresh_tokens SET revoked_at = now(), replaced_by = $2
             WHERE id = $1 AND revoked_at IS NULL",
            &[&token_id, &new_id],
        )
        .await?;
    if rotated == 0 {
        // A concurrent refresh won the race with the same token: treat it as reuse.
        return Err(revoke_family(&client, family).await);
    }
    Ok(HttpResponse::Ok().json(response))
}

/// Revokes every token rotated from one login after a token was used twice; answers the 401 to
/// send (or the storage error that kept it from revoking).
async fn revoke_family(client: &deadpool_postgres::Object, family: Uuid) -> ApiError {
    let revoked = client
        .execute(
            "UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now())
             WHERE family_id = $1",
            &[&family],
        )
        .await;
    match revoked {
        Ok(_) => ApiError::unauthorized("refresh token already used; sign in again"),
        Err(error) => error.into(),
    }
}

/// `POST /api/v1/auth/logout`: revokes the refresh token's whole family.
pub async fn logout(
    state: web::Data<AppState>,
    body: web::Json<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    let client = state.pg.get().await?;
    client
        .execute(
            "UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now())
             WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1)",
            &[&sha256(&body.refresh_token)],
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/v1/auth/me`
pub async fn me(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    let client = state.pg.get().await?;
    let row = client
        .query_opt(
            "SELECT id, email, name, role FROM users WHERE id = $1 AND NOT disabled",
            &[&user.id],
        )
        .await?
        .ok_or_else(|| ApiError::unauthorized("user no longer exists"))?;
    Ok(HttpResponse::Ok().json(UserInfo {
        id: row.get(0),
        email: row.get(1),
        name: row.get(2),
        role: parse_role(row.get(3)),
    }))
}

/// `GET /api/v1/auth/setup`: whether the first admin still has to be created.
pub async fn setup_status(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let client = state.pg.get().await?;
    let users: i64 = client
        .query_one("SELECT count(*) FROM users", &[])
        .await?
        .get(0);
    Ok(HttpResponse::Ok().json(serde_json::json!({ "needs_setup": users == 0 })))
}

/// `POST /api/v1/auth/setup`: creates the first admin, only while no user exists.
pub async fn setup(
    state: web::Data<AppState>,
    body: web::Json<SetupRequest>,
) -> ApiResult<HttpResponse> {
    let mut client = state.pg.get().await?;
    let tx = client.transaction().await?;
    // Serialises concurrent set-ups so only one admin comes out of it.
    tx.execute("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE", &[])
        .await?;
    let users: i64 = tx
        .query_one("SELECT count(*) FROM users", &[])
        .await?
        .get(0);
    if users > 0 {
        return Err(ApiError::Forbidden(
            "set-up is done; an admin creates further users".into(),
        ));
    }
    let id = accounts::insert_user(
        &tx,
        &body.email,
        &body.name,
        &body.password,
        UserRole::Admin,
    )
    .await?;
    tx.commit().await?;
    let user = UserInfo {
        id,
        email: body.email.clone(),
        name: body.name.clone(),
        role: UserRole::Admin,
    };
    let (response, _) = issue(&state, &client, user, Uuid::new_v4()).await?;
    Ok(HttpResponse::Created().json(response))
}
