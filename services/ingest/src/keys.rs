//! Project keys: looked up by sha256 in the metadata store and cached in memory, so a warm
//! ingest does not touch PostgreSQL per request.
//!
//! - A found key is trusted for `key_cache_ttl_secs`; a revoked key stops working within it.
//! - An unknown key is remembered for `key_negative_ttl_secs`, so a flood of bad keys does not
//!   reach the database.
//! - If the store cannot be reached, a stale entry is used rather than refusing traffic that
//!   was accepted a moment ago; without one, the answer is 503.
//! - The cache is bounded: past `MAX_ENTRIES`, expired entries are dropped, then everything.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use gosight_common::backend::{ApiKeyRecord, MetadataStore, hash_api_key};
use time::OffsetDateTime;

use crate::error::IngestError;

const MAX_ENTRIES: usize = 100_000;
/// Longer keys are not keys; refuse them before hashing.
const MAX_KEY_LEN: usize = 256;

#[derive(Debug, Clone)]
struct Entry {
    record: Option<ApiKeyRecord>,
    fetched: Instant,
}

pub struct KeyCache {
    store: Arc<dyn MetadataStore>,
    entries: DashMap<[u8; 32], Entry>,
    ttl: Duration,
    negative_ttl: Duration,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache")
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl KeyCache {
    pub fn new(store: Arc<dyn MetadataStore>, ttl: Duration, negative_ttl: Duration) -> Self {
        Self {
            store,
            entries: DashMap::new(),
            ttl,
            negative_ttl,
        }
    }

    /// Checks that the store answers; the readiness probe's "key cache warm".
    pub async fn warm(&self) -> Result<(), IngestError> {
        self.store
            .find_api_key(&[0; 32])
            .await
            .map(|_| ())
            .map_err(|e| IngestError::unavailable(format!("metadata store unreachable: {e}")))
    }

    /// The key's record if it may write now; otherwise 401 (or 403 without write permission).
    pub async fn authenticate(&self, key: &str) -> Result<ApiKeyRecord, IngestError> {
        if key.is_empty() {
            return Err(IngestError::Unauthorized(
                "missing project key: send it in the X-GoSight-Key header, the batch's \
                 project_key field or the key query parameter"
                    .into(),
            ));
        }
        if key.len() > MAX_KEY_LEN {
            return Err(IngestError::Unauthorized("unknown project key".into()));
        }
        let record = self.lookup(hash_api_key(key)).await?;
        let Some(record) = record else {
            return Err(IngestError::Unauthorized("unknown project key".into()));
        };
        if !record.is_usable(OffsetDateTime::now_utc()) {
            return Err(IngestError::Unauthorized(
                "project key is revoked or expired".into(),
            ));
        }
        if !record.permissions.iter().any(|p| p == "write") {
            return Err(IngestError::Forbidden(
                "project key has no write permission".into(),
            ));
        }
        Ok(record)
    }

    async fn lookup(&self, hash: [u8; 32]) -> Result<Option<ApiKeyRecord>, IngestError> {
        let cached = self.entries.get(&hash).map(|e| e.value().clone());
        if let Some(entry) = &cached {
            let ttl = if entry.record.is_some() {
                self.ttl
            } else {
                self.negative_ttl
            };
            if entry.fetched.elapsed() < ttl {
                return Ok(entry.record.clone());
            }
        }
        match self.store.find_api_key(&hash).await {
            Ok(record) => {
                self.insert(hash, record.clone());
                Ok(record)
            }
            Err(error) => match cached {
                Some(entry) => {
                    tracing::warn!(%error, "metadata store unreachable; using a stale key entry");
                    metrics::counter!("gosight_ingest_key_lookup_errors_total").increment(1);
                    Ok(entry.record)
                }
                None => {
                    metrics::counter!("gosight_ingest_key_lookup_errors_total").increment(1);
                    Err(IngestError::unavailable(format!(
                        "cannot check the project key: {error}"
                    )))
                }
            },
        }
    }

    fn insert(&self, hash: [u8; 32], record: Option<ApiKeyRecord>) {
        if self.entries.len() >= MAX_ENTRIES {
            let horizon = self.ttl.max(self.negative_ttl);
            self.entries.retain(|_, e| e.fetched.elapsed() < horizon);
            if self.entries.len() >= MAX_ENTRIES {
                self.entries.clear();
            }
        }
        self.entries.insert(
            hash,
            Entry {
                record,
                fetched: Instant::now(),
            },
        );
    }
}
