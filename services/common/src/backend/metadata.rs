//! The metadata store: users, projects, API keys, members and alert rules.

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::Result;

/// What the ingest needs to know about a write key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub key_id: Uuid,
    pub project_id: Uuid,
    pub permissions: Vec<String>,
    pub rate_limit: u32,
    pub rate_burst: u32,
    pub is_active: bool,
    pub expires_at: Option<OffsetDateTime>,
    pub allowed_domains: Vec<String>,
}

impl ApiKeyRecord {
    /// Active and not expired at `now`.
    pub fn is_usable(&self, now: OffsetDateTime) -> bool {
        self.is_active && self.expires_at.is_none_or(|at| at > now)
    }
}

/// Keys are stored and looked up by their sha256, never in clear.
pub fn hash_api_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

#[async_trait]
pub trait MetadataStore: Send + Sync {
    /// The key whose sha256 is `hash`, whatever its state; `None` if there is none.
    async fn find_api_key(&self, hash: &[u8; 32]) -> Result<Option<ApiKeyRecord>>;
}

/// [`MetadataStore`] on PostgreSQL.
#[derive(Clone)]
pub struct PostgresMetadata {
    pool: deadpool_postgres::Pool,
}

impl std::fmt::Debug for PostgresMetadata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresMetadata").finish_non_exhaustive()
    }
}

impl PostgresMetadata {
    pub fn new(pool: deadpool_postgres::Pool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &deadpool_postgres::Pool {
        &self.pool
    }
}

#[async_trait]
impl MetadataStore for PostgresMetadata {
    async fn find_api_key(&self, hash: &[u8; 32]) -> Result<Option<ApiKeyRecord>> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                "SELECT k.id, k.project_id, k.permissions, k.rate_limit, k.rate_burst,
                        k.is_active AND k.revoked_at IS NULL, k.expires_at, p.allowed_domains
                 FROM api_keys k JOIN projects p ON p.id = k.project_id
                 WHERE k.key_hash = $1",
                &[&hash.as_slice()],
            )
            .await?;
        Ok(row.map(|r| ApiKeyRecord {
            key_id: r.get(0),
            project_id: r.get(1),
            permissions: r.get(2),
            rate_limit: r.get::<_, i32>(3).max(1) as u32,
            rate_burst: r.get::<_, i32>(4).max(1) as u32,
            is_active: r.get(5),
            expires_at: r.get(6),
            allowed_domains: r.get(7),
        }))
    }
}
