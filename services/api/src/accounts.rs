//! User accounts: creation with argon2id password hashes.

use argon2::password_hash::SaltString;
use argon2::password_hash::rand_core::OsRng;
use argon2::{Argon2, PasswordHasher};
use uuid::Uuid;

use crate::error::ApiError;

/// Global role of a user: `admin` manages everything, `user` sees the projects they belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserRole {
    Admin,
    User,
}

impl UserRole {
    pub fn as_str(self) -> &'static str {
        match self {
            UserRole::Admin => "admin",
            UserRole::User => "user",
        }
    }
}

/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 8;

/// Hashes a password with argon2id and a random salt (PHC string format).
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| ApiError::Internal(format!("hashing password: {e}")))
}

fn validate_email(email: &str) -> Result<(), ApiError> {
    let valid = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid("email", "not an email address"))
    }
}

/// Creates a user; fails if the email is taken (case-insensitively).
pub async fn create_user(
    pool: &deadpool_postgres::Pool,
    email: &str,
    name: &str,
    password: &str,
    role: UserRole,
) -> Result<Uuid, ApiError> {
    validate_email(email)?;
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(ApiError::invalid(
            "password",
            "must be at least 8 characters",
        ));
    }
    let hash = hash_password(password)?;
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "INSERT INTO users (email, name, password_hash, role) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING RETURNING id",
            &[&email, &name, &hash, &role.as_str()],
        )
        .await?;
    row.map(|r| r.get(0))
        .ok_or_else(|| ApiError::Conflict(format!("a user with email {email} exists")))
}
