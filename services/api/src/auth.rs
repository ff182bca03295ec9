//! Sign-in: argon2id password checks, short-lived JWT access tokens, rotating refresh tokens.
//!
//! Refresh tokens are random, shown to the client once and stored as sha256. Every use rotates
//! the token: the old one is revoked and points at its replacement. Tokens rotated from one login
//! share a family; presenting an already rotated token (a stolen copy) revokes the whole family.

use std::future::{Ready, ready};
use std::time::Instant;

use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use argon2::{Argon2, PasswordHash, PasswordVerifier};
use gosight_common::backend::{NewRefreshToken, Rotation, User, hash_api_key};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::accounts::{self, UserRole};
use crate::error::{ApiError, ApiResult};
use crate::login_guard;
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub name: String,
}

// Passwords and refresh tokens never reach a log through `{:?}`.
impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for RefreshRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshRequest").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("expires_in", &self.expires_in)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SetupRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetupRequest")
            .field("email", &self.email)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
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

impl From<&User> for UserInfo {
    fn from(user: &User) -> Self {
        Self {
            id: user.id,
            email: user.email.clone(),
            name: user.name.clone(),
            role: user.role,
        }
    }
}

/// Refresh tokens are stored as their sha256, like keys.
fn sha256(token: &str) -> [u8; 32] {
    hash_api_key(token)
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

/// A new refresh token: the one to hand out, and what is stored of it.
fn new_refresh(state: &AppState) -> (String, NewRefreshToken) {
    let refresh = new_refresh_token();
    let stored = NewRefreshToken {
        token_hash: sha256(&refresh),
        expires_at: OffsetDateTime::now_utc()
            + time::Duration::days(state.config.refresh_token_ttl_days as i64),
    };
    (refresh, stored)
}

/// The response for `user`: a new access token and `refresh`, the refresh token handed out.
fn respond(state: &AppState, user: UserInfo, refresh: String) -> ApiResult<TokenResponse> {
    Ok(TokenResponse {
        access_token: access_token(state, user.id, user.role)?,
        token_type: "Bearer",
        expires_in: state.config.access_token_ttl_seconds,
        refresh_token: refresh,
        user,
    })
}

/// Issues an access token and a refresh token in a new family (a new sign-in).
async fn issue(state: &AppState, user: UserInfo) -> ApiResult<TokenResponse> {
    let (refresh, stored) = new_refresh(state);
    state
        .meta
        .issue_refresh_token(user.id, Uuid::new_v4(), stored)
        .await?;
    respond(state, user, refresh)
}

/// `POST /api/v1/auth/login`
pub async fn login(
    state: web::Data<AppState>,
    body: web::Json<LoginRequest>,
) -> ApiResult<HttpResponse> {
    let found = state.meta.find_user_by_email(&body.email).await?;
    // Every spelling of an account's email counts against the account.
    let key = match &found {
        Some(user) => login_guard::user_key(user.id),
        None => login_guard::email_key(&body.email),
    };
    if let Err(wait) = state.logins.attempt(&key, Instant::now()) {
        let minutes = wait.as_secs().div_ceil(60);
        return Err(ApiError::TooManyRequests {
            message: format!(
                "too many failed sign-ins for this account; try again in {minutes} minute{}",
                if minutes == 1 { "" } else { "s" }
            ),
            retry_after: wait.as_secs().max(1),
        });
    }
    // An unknown email is checked against a dummy hash: the same work as for a real user, so
    // timing does not tell which emails exist.
    let hash = found.as_ref().map(|user| user.password_hash.clone());
    let password = body.into_inner().password;
    let matches = accounts::off_the_workers(move || {
        verify_password(&password, hash.as_deref().unwrap_or_else(|| dummy_hash()))
    })
    .await?;
    let Some(user) = found.filter(|user| matches && !user.disabled) else {
        return Err(ApiError::unauthorized("wrong email or password"));
    };
    state.logins.succeeded(&key);
    state.meta.record_login(user.id).await?;
    let response = issue(&state, UserInfo::from(&user)).await?;
    Ok(HttpResponse::Ok().json(response))
}

/// A real hash of nothing in particular, checked against when the email is unknown.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| accounts::hash_password_now("not a password").unwrap_or_default())
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
    let (refresh, stored) = new_refresh(&state);
    let rotation = state
        .meta
        .rotate_refresh_token(
            &sha256(&body.refresh_token),
            stored,
            std::time::Duration::from_secs(state.config.refresh_reuse_leeway_seconds),
        )
        .await?;
    match rotation {
        Rotation::Rotated { user, .. } => {
            let response = respond(&state, UserInfo::from(&*user), refresh)?;
            Ok(HttpResponse::Ok().json(response))
        }
        Rotation::Unknown => Err(ApiError::unauthorized("unknown refresh token")),
        Rotation::Expired => Err(ApiError::unauthorized(
            "refresh token expired; sign in again",
        )),
        Rotation::Reused { family_id } => {
            tracing::warn!(family = %family_id, "rotated refresh token reused; its family is revoked");
            Err(ApiError::unauthorized(
                "refresh token already used; sign in again",
            ))
        }
    }
}

/// `POST /api/v1/auth/logout`: revokes the refresh token's whole family.
pub async fn logout(
    state: web::Data<AppState>,
    body: web::Json<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    state
        .meta
        .revoke_refresh_family(&sha256(&body.refresh_token))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/v1/auth/me`
pub async fn me(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    let found = state
        .meta
        .find_user(user.id)
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(|| ApiError::unauthorized("user no longer exists"))?;
    Ok(HttpResponse::Ok().json(UserInfo::from(&found)))
}

/// `GET /api/v1/auth/setup`: whether the first admin still has to be created.
pub async fn setup_status(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let users = state.meta.count_users().await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "needs_setup": users == 0 })))
}

/// `POST /api/v1/auth/setup`: creates the first admin, only while no user exists.
pub async fn setup(
    state: web::Data<AppState>,
    body: web::Json<SetupRequest>,
) -> ApiResult<HttpResponse> {
    let done = || ApiError::Forbidden("set-up is done; an admin creates further users".into());
    // Cheap answer for the common case, before hashing a password.
    if state.meta.count_users().await? > 0 {
        return Err(done());
    }
    let admin =
        accounts::new_user(&body.email, &body.name, &body.password, UserRole::Admin).await?;
    let Some(created) = state.meta.create_first_user(admin).await? else {
        return Err(done());
    };
    let response = issue(&state, UserInfo::from(&created)).await?;
    Ok(HttpResponse::Created().json(response))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_holds_no_password_or_token() {
        let login: LoginRequest =
            serde_json::from_str(r#"{"email": "a@b.co", "password": "hunter2-secret"}"#)
                .unwrap_or_else(|e| panic!("{e}"));
        let setup: SetupRequest =
            serde_json::from_str(r#"{"email": "a@b.co", "password": "hunter2-secret"}"#)
                .unwrap_or_else(|e| panic!("{e}"));
        let refresh = RefreshRequest {
            refresh_token: "gsr_secret".into(),
        };
        let response = TokenResponse {
            access_token: "eyJ.secret".into(),
            token_type: "Bearer",
            expires_in: 900,
            refresh_token: "gsr_secret".into(),
            user: UserInfo {
                id: Uuid::nil(),
                email: "a@b.co".into(),
                name: String::new(),
                role: UserRole::Admin,
            },
        };
        let printed = format!("{login:?} {setup:?} {refresh:?} {response:?}");
        assert!(printed.contains("a@b.co"), "{printed}");
        assert!(!printed.contains("secret"), "{printed}");
    }
}
