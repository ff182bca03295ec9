//! User accounts and projects as the API and the CLI create them: argon2id password hashes,
//! validated input, a free slug and a first write key, stored through the [`MetadataStore`].

use argon2::password_hash::SaltString;
use argon2::password_hash::rand_core::OsRng;
use argon2::{Argon2, PasswordHasher};
use gosight_common::backend::{MetadataStore, NewApiKey, NewProject, NewUser};
use uuid::Uuid;

use crate::error::ApiError;

/// Global role of a user: `admin` manages everything, `user` sees the projects they belong to.
pub use gosight_common::backend::UserRole;

/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 8;

/// Hashes a password with argon2id and a random salt (PHC string format). This takes tens of
/// milliseconds of CPU on purpose: call it through [`hash_password`] from async code.
pub fn hash_password_now(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| ApiError::Internal(format!("hashing password: {e}")))
}

/// [`hash_password_now`] on the blocking pool, so a sign-up does not hold up the requests
/// sharing its worker thread.
pub async fn hash_password(password: &str) -> Result<String, ApiError> {
    let password = password.to_string();
    off_the_workers(move || hash_password_now(&password)).await?
}

/// Password hashes computed at once: one per core. Each takes about 19 MiB and tens of
/// milliseconds of CPU, so a flood of sign-ins waits here instead of filling memory.
static HASHING: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
});

/// How long a sign-in waits for a free hashing slot before it is told to come back.
const HASHING_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs CPU-bound `work` (password hashing and checking) on the runtime's blocking pool, at
/// most one per core at a time; 429 when none is free within [`HASHING_WAIT`].
pub async fn off_the_workers<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let busy = || ApiError::TooManyRequests {
        message: "too many sign-ins at once; try again in a moment".into(),
        retry_after: 1,
    };
    let _slot = tokio::time::timeout(HASHING_WAIT, HASHING.acquire())
        .await
        .map_err(|_| busy())?
        .map_err(|_| busy())?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Internal(format!("password hashing task: {e}")))
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

/// A user to store: the email checked, the password long enough and hashed.
pub async fn new_user(
    email: &str,
    name: &str,
    password: &str,
    role: UserRole,
) -> Result<NewUser, ApiError> {
    validate_email(email)?;
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(ApiError::invalid(
            "password",
            "must be at least 8 characters",
        ));
    }
    Ok(NewUser {
        email: email.to_string(),
        name: name.to_string(),
        password_hash: hash_password(password).await?,
        role,
    })
}

/// Creates a user; fails if the email is taken (case-insensitively).
pub async fn create_user(
    meta: &dyn MetadataStore,
    email: &str,
    name: &str,
    password: &str,
    role: UserRole,
) -> Result<Uuid, ApiError> {
    let user = new_user(email, name, password, role).await?;
    match meta.create_user(user).await {
        Ok(created) => Ok(created.id),
        Err(gosight_common::Error::Conflict(_)) => Err(ApiError::Conflict(format!(
            "a user with email {email} exists"
        ))),
        Err(error) => Err(error.into()),
    }
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

/// A write key to store for `key`, in clear only here.
pub fn new_key_record(key: &str, name: &str, created_by: Option<Uuid>) -> NewApiKey {
    NewApiKey {
        name: name.to_string(),
        prefix: key.get(..KEY_PREFIX_LEN).unwrap_or(key).to_string(),
        hash: gosight_common::backend::hash_api_key(key),
        permissions: vec!["write".to_string()],
        rate_limit: 1000,
        rate_burst: 5000,
        expires_at: None,
        created_by,
    }
}

/// How often a project creation retries with the next free slug when a concurrent creation
/// took the one picked.
const SLUG_ATTEMPTS: usize = 5;

/// The first of `base`, `base-2`, `base-3`, ... not in `taken`.
fn free_slug(base: &str, taken: &[String]) -> String {
    (1..)
        .map(|n| {
            if n == 1 {
                base.to_string()
            } else {
                format!("{base}-{n}")
            }
        })
        .find(|candidate| !taken.contains(candidate))
        .unwrap_or_else(|| base.to_string())
}

/// Creates a project owned by the user with `owner_email`, and a write key for it.
pub async fn create_project(
    meta: &dyn MetadataStore,
    name: &str,
    owner_email: &str,
) -> Result<CreatedProject, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid("name", "must be 1 to 200 characters"));
    }
    let owner = meta
        .find_user_by_email(owner_email)
        .await?
        .ok_or_else(|| ApiError::invalid("owner", "no user has this email"))?;
    let base = slugify(name);
    for _ in 0..SLUG_ATTEMPTS {
        let slug = free_slug(&base, &meta.slugs_with_prefix(&base).await?);
        let write_key = new_api_key();
        let project = NewProject {
            name: name.to_string(),
            slug: slug.clone(),
            owner: owner.id,
        };
        let key = new_key_record(&write_key, "default", Some(owner.id));
        match meta.create_project(project, key).await {
            Ok((created, _)) => {
                return Ok(CreatedProject {
                    project_id: created.id,
                    slug,
                    write_key,
                });
            }
            Err(gosight_common::Error::Conflict("slug")) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(ApiError::Conflict(format!(
        "no free slug like {base}; try another name"
    )))
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
