//! The `ingest` config section.

use serde::{Deserialize, Serialize};

use gosight_common::ConfigError;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Address of the HTTP endpoints (`/v1/events`, `/v1/replay`, probes, `/metrics`),
    /// e.g. `0.0.0.0:8081`.
    pub http_listen: String,
    /// Address of the gRPC `IngestService` (gRPC-Web enabled), e.g. `0.0.0.0:50051`.
    pub grpc_listen: String,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// Largest `/v1/events` request body as sent (compressed), in bytes, e.g. `1048576`.
    pub max_body_bytes: usize,
    /// Largest `/v1/replay` request body, in bytes, e.g. `1048576`.
    pub max_replay_body_bytes: usize,
    /// Largest body after gzip decompression, in bytes; a larger one (a gzip bomb) gets 413.
    pub max_decompressed_bytes: usize,
    /// Most events in one batch; the rest of a larger batch is rejected with a reason.
    pub max_events_per_batch: usize,
    /// Largest `gosight.events.raw` message, in bytes of encoded events, e.g. `524288`. A batch's
    /// accepted events go out as one message, or as several when they are larger than this (keep
    /// it under the broker's `message.max.bytes`). An event larger than it goes out alone.
    pub max_message_bytes: usize,
    /// How far in the past an event's timestamp may lie, in seconds (default 7 days: offline
    /// queues flush late).
    pub max_event_age_secs: u64,
    /// How far in the future an event's timestamp may lie, in seconds (clock skew), e.g. `300`.
    pub max_clock_skew_secs: u64,
    /// Most requests handled at once; past it, 503 with Retry-After (bounds memory).
    pub max_in_flight_requests: usize,
    /// How long a looked-up API key is trusted before it is read again, in seconds. A revoked
    /// key stops working within this time.
    pub key_cache_ttl_secs: u64,
    /// How long an unknown key is remembered as unknown, in seconds.
    pub key_negative_ttl_secs: u64,
    /// Proxies (addresses or CIDR ranges, e.g. `10.0.0.0/8`) whose `X-Forwarded-For` is
    /// believed. Empty: the peer address is the client.
    pub trusted_proxies: Vec<String>,
    /// Zero the last octet of IPv4 (last 80 bits of IPv6) client addresses before GeoIP and
    /// before they are written anywhere.
    pub anonymize_ip: bool,
    /// Keep the client IP in the event envelope (after anonymisation, if on).
    pub store_ip: bool,
    /// A MaxMind City or Country database (`.mmdb`), e.g. `/var/lib/GeoIP/GeoLite2-City.mmdb`.
    /// Empty: no geo enrichment.
    pub geoip_database: String,
    /// What to do with events from bots (by user agent): `keep` (flagged) or `drop`.
    pub bots: BotPolicy,
    /// Rate limiting across replicas.
    pub rate_limit: RateLimitConfig,
    /// `Access-Control-Max-Age` of preflight answers, in seconds.
    pub cors_max_age_secs: u32,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            http_listen: "127.0.0.1:8081".into(),
            grpc_listen: "127.0.0.1:50051".into(),
            workers: 0,
            max_body_bytes: 1024 * 1024,
            max_replay_body_bytes: 1024 * 1024,
            max_decompressed_bytes: 8 * 1024 * 1024,
            max_events_per_batch: 500,
            max_message_bytes: 512 * 1024,
            max_event_age_secs: 7 * 24 * 3600,
            max_clock_skew_secs: 300,
            max_in_flight_requests: 4096,
            key_cache_ttl_secs: 30,
            key_negative_ttl_secs: 10,
            trusted_proxies: Vec::new(),
            anonymize_ip: false,
            store_ip: false,
            geoip_database: String::new(),
            bots: BotPolicy::Keep,
            rate_limit: RateLimitConfig::default(),
            cors_max_age_secs: 3600,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BotPolicy {
    Keep,
    Drop,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Share each project's budget across ingest replicas through Redis. Off: each replica
    /// enforces the whole limit on its own.
    pub shared: bool,
    /// How many seconds of a project's rate one replica takes from the shared budget at a time,
    /// e.g. `0.2`. Smaller is fairer between replicas, larger means fewer Redis calls.
    pub lease_secs: f64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            shared: true,
            lease_secs: 0.2,
        }
    }
}

impl IngestConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("ingest.max_body_bytes", self.max_body_bytes),
            ("ingest.max_replay_body_bytes", self.max_replay_body_bytes),
            ("ingest.max_decompressed_bytes", self.max_decompressed_bytes),
            ("ingest.max_events_per_batch", self.max_events_per_batch),
            ("ingest.max_message_bytes", self.max_message_bytes),
            ("ingest.max_in_flight_requests", self.max_in_flight_requests),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(ConfigError::Invalid {
                    key: key.into(),
                    reason: "must be at least 1".into(),
                });
            }
        }
        if !(self.rate_limit.lease_secs > 0.0 && self.rate_limit.lease_secs <= 10.0) {
            return Err(ConfigError::Invalid {
                key: "ingest.rate_limit.lease_secs".into(),
                reason: "must be more than 0 and at most 10".into(),
            });
        }
        crate::enrich::parse_proxies(&self.trusted_proxies).map_err(|e| ConfigError::Invalid {
            key: "ingest.trusted_proxies".into(),
            reason: e.to_string(),
        })?;
        Ok(())
    }
}
