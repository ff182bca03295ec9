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
    let client = pool.get().await?;
    insert_user(&client, email, name, password, role).await
}

/// [`create_user`] on a given connection or transaction.
pub async fn insert_user(
    client: &impl deadpool_postgres::GenericClient,
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

/// `prefix` and `N` random bytes in hex, for keys and tokens shown to a client once.
pub fn random_token<const N: usize>(prefix: &str) -> String {
    let bytes: [u8; N] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}{hex}")
}

/// A new write key: `gs_` and 40 hex characters (160 random bits).
pub fn new_api_key() -> String {
    random_token::<20>("gs_")
}

/// Characters of a key shown in lists to tell keys apart.
pub const KEY_PREFIX_LEN: usize = 11;

fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    let slug = if slug.is_empty() { "project" } else { slug };
    slug.chars().take(48).collect()
}

/// A project created with its owner and a first write key.
#[derive(Debug, Clone)]
pub struct CreatedProject {
    pub project_id: Uuid,
    pub slug: String,
    /// Shown once; only its sha256 is stored.
    pub write_key: String,
}

/// Creates a project owned by the user with `owner_email`, and a write key for it.
pub async fn create_project(
    pool: &deadpool_postgres::Pool,
    name: &str,
    owner_email: &str,
) -> Result<CreatedProject, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid("name", "must be 1 to 200 characters"));
    }
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let owner: Uuid = tx
        .query_opt(
            "SELECT id FROM users WHERE lower(email) = lower($1)",
            &[&owner_email],
        )
        .await?
        .map(|r| r.get(0))
        .ok_or_else(|| ApiError::invalid("owner", "no user has this email"))?;
    let base = slugify(name);
    let taken: Vec<String> = tx
        .query(
            "SELECT slug FROM projects WHERE slug LIKE $1 || '%'",
            &[&base],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let slug = (1..)
        .map(|n| {
            if n == 1 {
                base.clone()
            } else {
                format!("{base}-{n}")
            }
        })
        .find(|candidate| !taken.contains(candidate))
        .unwrap_or(base);
    let project_id: Uuid = tx
        .query_one(
            "INSERT INTO projects (name, slug) VALUES ($1, $2) RETURNING id",
            &[&name, &slug],
        )
        .await?
        .get(0);
    tx.execute(
        "INSERT INTO project_members (project_id, user_id, role) VALUES ($1, $2, 'owner')",
        &[&project_id, &owner],
    )
    .await?;
    let write_key = new_api_key();
    let hash = gosight_common::backend::hash_api_key(&write_key);
    tx.execute(
        "INSERT INTO api_keys (project_id, name, key_prefix, key_hash, created_by)
         VALUES ($1, 'default', $2, $3, $4)",
        &[
            &project_id,
            &&write_key[..KEY_PREFIX_LEN],
            &hash.as_slice(),
            &owner,
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedProject {
        project_id,
        slug,
        write_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_keys_look_right() {
        assert_eq!(slugify("My Shop!  (EU)"), "my-shop-eu");
        assert_eq!(slugify("!!!"), "project");
        let key = new_api_key();
        assert!(key.starts_with("gs_") && key.len() == 43);
        assert_ne!(key, new_api_key());
    }
}
