//! Per-project rate limits (`api_keys.rate_limit` events/s, `rate_burst`) that hold across
//! ingest replicas without a Redis round trip per request.
//!
//! Each project has one token bucket in Redis (refilled at the project's rate, capped at its
//! burst). A replica leases tokens from it — about `lease_secs` worth of the rate at a time — into
//! a local bucket and serves requests from that lease, so Redis is asked a few times per second
//! per busy project, not per request. When the shared bucket is empty the lease comes back short
//! and the request gets 429 with `Retry-After`.
//!
//! If Redis cannot be reached, each replica falls back to a local time-refilled bucket with the
//! project's full limit: traffic keeps flowing (the limit is then per replica) and every failure
//! is counted in `gosight_ingest_rate_limit_redis_errors_total`. After a failure Redis is left
//! alone for `REDIS_BACKOFF`, so requests do not each wait for a timeout.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use fred::prelude::Client;
use fred::types::scripts::Script;
use uuid::Uuid;

use crate::error::IngestError;

/// Takes up to ARGV[3] tokens from the bucket at KEYS[1] (rate ARGV[1]/s, burst ARGV[2]), using
/// Redis' clock so replicas with skewed clocks agree. Returns {granted, tokens left * 1000}.
const LEASE_SCRIPT: &str = r#"
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local data = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(data[1])
local ts = tonumber(data[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) / 1000 * rate)
local granted = math.floor(math.min(want, tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {granted, math.floor(tokens * 1000)}
"#;

/// How long the shared budget is skipped after Redis failed.
const REDIS_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

pub struct RateLimiter {
    buckets: DashMap<Uuid, Mutex<Bucket>>,
    redis: Option<Client>,
    script: Script,
    lease_secs: f64,
    /// Until when Redis is skipped after a failure.
    redis_down_until: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("shared", &self.redis.is_some())
            .finish_non_exhaustive()
    }
}

fn retry_after(missing: f64, rate: f64) -> u64 {
    ((missing / rate).ceil() as u64).max(1)
}

impl RateLimiter {
    /// `redis`: the shared budget; `None` limits each replica on its own.
    pub fn new(redis: Option<Client>, lease_secs: f64) -> Self {
        Self {
            buckets: DashMap::new(),
            redis,
            script: Script::from_lua(LEASE_SCRIPT),
            lease_secs,
            redis_down_until: Mutex::new(None),
        }
    }

    /// Takes `events` tokens for `project` or answers 429. A batch larger than the burst is
    /// charged the burst, so it can pass at all.
    pub async fn check(
        &self,
        project: Uuid,
        rate: u32,
        burst: u32,
        events: u32,
    ) -> Result<(), IngestError> {
        let rate = f64::from(rate.max(1));
        let burst = f64::from(burst.max(1));
        let need = f64::from(events.max(1)).min(burst);
        let redis = self.redis.as_ref().filter(|_| !self.redis_backing_off());
        if self.take_local(project, need, rate, burst, redis.is_none()) {
            return Ok(());
        }
        let Some(redis) = redis else {
            return Err(self.limited(project, need, rate));
        };
        let want = (rate * self.lease_secs).max(need).min(burst).ceil();
        let key = format!("gosight:ratelimit:{project}");
        let leased: Result<(i64, i64), _> = self
            .script
            .evalsha_with_reload(redis, key, vec![rate, burst, want])
            .await;
        match leased {
            Ok((granted, _left)) => {
                self.add_local(project, granted as f64);
                if self.take_local(project, need, rate, burst, false) {
                    Ok(())
                } else {
                    Err(self.limited(project, need, rate))
                }
            }
            Err(error) => {
                *self
                    .redis_down_until
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + REDIS_BACKOFF);
                metrics::counter!("gosight_ingest_rate_limit_redis_errors_total").increment(1);
                tracing::warn!(%error, "shared rate limit unreachable; limiting locally");
                if self.take_local(project, need, rate, burst, true) {
                    Ok(())
                } else {
                    Err(self.limited(project, need, rate))
                }
            }
        }
    }

    fn redis_backing_off(&self) -> bool {
        let until = self
            .redis_down_until
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        until.is_some_and(|t| Instant::now() < t)
    }

    fn limited(&self, project: Uuid, need: f64, rate: f64) -> IngestError {
        let have = self
            .buckets
            .get(&project)
            .map(|b| b.lock().map(|b| b.tokens).unwrap_or(0.0))
            .unwrap_or(0.0);
        IngestError::RateLimited {
            retry_after_secs: retry_after(need - have.max(0.0), rate),
        }
    }

    /// Takes `need` tokens from the local bucket; `refill` tops it up by elapsed time first
    /// (local limiting), otherwise only leases fill it.
    fn take_local(&self, project: Uuid, need: f64, rate: f64, burst: f64, refill: bool) -> bool {
        let entry = self.buckets.entry(project).or_insert_with(|| {
            Mutex::new(Bucket {
                tokens: if self.redis.is_some() { 0.0 } else { burst },
                refilled: Instant::now(),
            })
        });
        let mut bucket = entry.lock().unwrap_or_else(|p| p.into_inner());
        if refill {
            let elapsed = bucket.refilled.elapsed().as_secs_f64();
            bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        }
        bucket.refilled = Instant::now();
        if bucket.tokens >= need {
            bucket.tokens -= need;
            true
        } else {
            false
        }
    }

    fn add_local(&self, project: Uuid, tokens: f64) {
        if let Some(entry) = self.buckets.get(&project) {
            let mut bucket = entry.lock().unwrap_or_else(|p| p.into_inner());
            bucket.tokens += tokens;
        }
    }
}
