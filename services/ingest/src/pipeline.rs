//! The path every batch takes, whichever protocol brought it: admit, authenticate, check the
//! origin, validate, rate-limit, enrich, publish, answer.
//!
//! Producing is plain async rather than an actor per topic: each request awaits the delivery
//! reports of its own messages, so "answer only after the broker acknowledged" is a local
//! `await`, not a correlation across mailboxes. The bounds are explicit instead: a semaphore caps
//! requests in flight (503 past it), and the producer's local queue is bounded by
//! `kafka.queue_max_messages` / `queue_max_kbytes` and refuses at once when full (503).

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gosight_common::backend::{ApiKeyRecord, BusRecord, EventBus, MetadataStore};
use gosight_common::kafka::Topics;
use gosight_proto::event::Payload;
use gosight_proto::{
    Event, EventAck, EventBatch, EventEnvelope, RejectReason, Rejection, ReplayAck, ReplayChunk,
    ReplayEncoding, ReplayEnvelope, Timestamp,
};
use ipnet::IpNet;
use prost::Message;
use time::OffsetDateTime;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use crate::config::{BotPolicy, IngestConfig};
use crate::enrich::{self, GeoIp, UserAgentParser};
use crate::error::IngestError;
use crate::keys::KeyCache;
use crate::ratelimit::RateLimiter;
use crate::validate::{self, MAX_LISTED_REJECTIONS, Window};

/// Who sent a request, as the transport saw it.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub peer: Option<IpAddr>,
    pub forwarded_for: Option<String>,
    pub origin: Option<String>,
    /// W3C trace context of the request, carried on into the Kafka headers.
    pub traceparent: Option<String>,
}

/// What the ingest needs from outside.
pub struct Dependencies {
    pub metadata: Arc<dyn MetadataStore>,
    pub bus: Arc<dyn EventBus>,
    pub topics: Topics,
    /// Shared rate-limit budget; `None` limits per replica.
    pub redis: Option<fred::prelude::Client>,
    /// Whether replay chunks are kept (not in `analytics_only` mode).
    pub replay_enabled: bool,
}

impl std::fmt::Debug for Dependencies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dependencies")
            .field("topics", &self.topics)
            .field("shared_rate_limit", &self.redis.is_some())
            .field("replay_enabled", &self.replay_enabled)
            .finish_non_exhaustive()
    }
}

pub struct Ingestor {
    config: IngestConfig,
    topics: Topics,
    keys: KeyCache,
    limiter: RateLimiter,
    geoip: Option<GeoIp>,
    user_agents: UserAgentParser,
    proxies: Vec<IpNet>,
    bus: Arc<dyn EventBus>,
    replay_enabled: bool,
    broker_up: AtomicBool,
    in_flight: Arc<Semaphore>,
}

impl std::fmt::Debug for Ingestor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingestor").finish_non_exhaustive()
    }
}

fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Splits a batch's events, in order, into runs of at most `max_bytes` encoded bytes, one per
/// message. An event larger than `max_bytes` gets a run of its own.
fn message_chunks(events: Vec<Event>, max_bytes: usize) -> Vec<Vec<Event>> {
    let mut chunks: Vec<Vec<Event>> = Vec::new();
    let mut current: Vec<Event> = Vec::new();
    let mut size = 0usize;
    for event in events {
        // The size of the event as a repeated field: tag, length prefix, body.
        let len = event.encoded_len();
        let len = len + prost::length_delimiter_len(len) + 1;
        if !current.is_empty() && size + len > max_bytes {
            chunks.push(std::mem::take(&mut current));
            size = 0;
        }
        size += len;
        current.push(event);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

fn new_traceparent() -> String {
    let trace: u128 = rand::random::<u128>() | 1;
    let span: u64 = rand::random::<u64>() | 1;
    format!("00-{trace:032x}-{span:016x}-01")
}

fn valid_traceparent(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    parts.len() == 4
        && [2, 32, 16, 2]
            .iter()
            .zip(&parts)
            .all(|(len, p)| p.len() == *len && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether `origin` (e.g. `https://shop.example.com`) may send for a project allowing
/// `allowed` (`example.com` matches itself, `*.example.com` its subdomains; a scheme is ignored).
pub fn origin_allowed(allowed: &[String], origin: Option<&str>) -> bool {
    let Some(origin) = origin else {
        return true;
    };
    if allowed.is_empty() {
        return true;
    }
    let host = url::Url::parse(origin)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase));
    let Some(host) = host else {
        return false;
    };
    allowed.iter().any(|entry| {
        let entry = entry.trim().to_ascii_lowercase();
        let entry = entry
            .split("://")
            .last()
            .unwrap_or_default()
            .trim_end_matches('/');
        match entry.strip_prefix("*.") {
            Some(parent) => host.ends_with(&format!(".{parent}")),
            None => host == entry,
        }
    })
}

impl Ingestor {
    pub fn new(config: IngestConfig, deps: Dependencies) -> Result<Self, IngestError> {
        config
            .validate()
            .map_err(|e| IngestError::Config(e.to_string()))?;
        let geoip = match config.geoip_database.as_str() {
            "" => None,
            path => Some(GeoIp::open(std::path::Path::new(path))?),
        };
        Ok(Self {
            keys: KeyCache::new(
                deps.metadata,
                Duration::from_secs(config.key_cache_ttl_secs),
                Duration::from_secs(config.key_negative_ttl_secs),
            ),
            limiter: RateLimiter::new(
                deps.redis.filter(|_| config.rate_limit.shared),
                config.rate_limit.lease_secs,
            ),
            proxies: enrich::parse_proxies(&config.trusted_proxies)?,
            in_flight: Arc::new(Semaphore::new(config.max_in_flight_requests)),
            geoip,
            user_agents: UserAgentParser::default(),
            bus: deps.bus,
            topics: deps.topics,
            replay_enabled: deps.replay_enabled,
            // Unknown until the first check, which runs as soon as the server starts.
            broker_up: AtomicBool::new(false),
            config,
        })
    }

    pub fn config(&self) -> &IngestConfig {
        &self.config
    }

    pub fn keys(&self) -> &KeyCache {
        &self.keys
    }

    /// Checks the broker; requests fail fast with 503 while it is unreachable.
    pub async fn check_broker(&self) -> bool {
        let up = self.bus.check().await.is_ok();
        if up != self.broker_up.swap(up, Ordering::SeqCst) {
            tracing::warn!(up, "broker reachability changed");
        }
        up
    }

    fn admit(&self) -> Result<InFlight, IngestError> {
        if !self.broker_up.load(Ordering::SeqCst) {
            return Err(IngestError::unavailable("the broker is unreachable"));
        }
        let permit = self
            .in_flight
            .clone()
            .try_acquire_owned()
            .map_err(|_| IngestError::unavailable("too many requests in flight"))?;
        metrics::gauge!("gosight_ingest_in_flight_requests").increment(1.0);
        Ok(InFlight { _permit: permit })
    }

    async fn authorize(&self, key: &str, client: &ClientInfo) -> Result<ApiKeyRecord, IngestError> {
        let record = self.keys.authenticate(key).await?;
        if !origin_allowed(&record.allowed_domains, client.origin.as_deref()) {
            return Err(IngestError::Forbidden(format!(
                "origin {} is not among the project's allowed domains",
                client.origin.as_deref().unwrap_or_default()
            )));
        }
        Ok(record)
    }

    fn window(&self) -> Window {
        let now = now_ms();
        Window {
            min_ms: now - (self.config.max_event_age_secs as i64) * 1000,
            max_ms: now + (self.config.max_clock_skew_secs as i64) * 1000,
        }
    }

    fn client_ip(&self, client: &ClientInfo) -> Option<IpAddr> {
        let ip = enrich::client_ip(client.peer, client.forwarded_for.as_deref(), &self.proxies)?;
        Some(if self.config.anonymize_ip {
            enrich::anonymize(ip)
        } else {
            ip
        })
    }

    /// Takes one batch. `header_key` wins over the batch's own `project_key`.
    pub async fn events(
        &self,
        header_key: Option<&str>,
        mut batch: EventBatch,
        client: &ClientInfo,
    ) -> Result<EventAck, IngestError> {
        let _permit = self.admit()?;
        let key = header_key.unwrap_or(&batch.project_key);
        let record = self.authorize(key, client).await?;
        let project = record.project_id;
        if batch.events.is_empty() {
            return Err(IngestError::BadRequest(
                "empty batch: it has no events".into(),
            ));
        }
        validate::session(batch.session.as_ref())?;
        let mut session = batch.session.take().unwrap_or_default();
        validate::clean_session(&mut session);
        let user_agent = self.user_agents.parse(
            session
                .device
                .as_ref()
                .map(|d| d.user_agent.as_str())
                .unwrap_or_default(),
        );

        let total = batch.events.len();
        let mut rejections = Vec::new();
        let mut rejected = 0usize;
        if user_agent.is_bot && self.config.bots == BotPolicy::Drop {
            metrics::counter!("gosight_ingest_rejections_total", "reason" => "bot")
                .increment(total as u64);
            return Ok(EventAck {
                accepted: 0,
                rejected: total as u32,
                rejections: vec![Rejection {
                    index: 0,
                    event_id: String::new(),
                    reason: RejectReason::Bot as i32,
                    message: "events from bots are dropped by this server".into(),
                }],
            });
        }
        let mut events = batch.events;
        if total > self.config.max_events_per_batch {
            events.truncate(self.config.max_events_per_batch);
            rejected += total - events.len();
            rejections.push(validate::too_many(self.config.max_events_per_batch, total));
            metrics::counter!("gosight_ingest_rejections_total", "reason" => "too_many_events")
                .increment((total - events.len()) as u64);
        }
        let window = self.window();
        let mut seen = HashSet::with_capacity(events.len());
        let mut accepted: Vec<Event> = Vec::with_capacity(events.len());
        for (index, mut event) in events.into_iter().enumerate() {
            match validate::event(index, &mut event, window, &mut seen) {
                Ok(_) => accepted.push(event),
                Err(rejection) => {
                    metrics::counter!(
                        "gosight_ingest_rejections_total",
                        "reason" => rejection.reason().as_str_name()
                    )
                    .increment(1);
                    rejected += 1;
                    if rejections.len() < MAX_LISTED_REJECTIONS {
                        rejections.push(rejection);
                    }
                }
            }
        }
        rejections.sort_by_key(|r| r.index);

        let accepted_count = accepted.len();
        if !accepted.is_empty() {
            self.limiter
                .check(
                    project,
                    record.rate_limit,
                    record.rate_burst,
                    accepted_count as u32,
                )
                .await?;
            let ip = self.client_ip(client);
            let geo = match (&self.geoip, ip) {
                (Some(geoip), Some(ip)) => Some(geoip.lookup(ip)),
                _ => None,
            };
            let envelope_base = EventEnvelope {
                project_id: project.to_string(),
                session: Some(session),
                received_at: Some(Timestamp { unix_ms: now_ms() }),
                client_ip: match ip {
                    Some(ip) if self.config.store_ip => ip.to_string(),
                    _ => String::new(),
                },
                geo,
                user_agent: Some(user_agent),
                event: None,
                events: Vec::new(),
            };
            self.publish_events(project, envelope_base, accepted, client)
                .await?;
        }

        let project_label = project.to_string();
        metrics::counter!("gosight_ingest_events_total", "project" => project_label.clone(), "result" => "accepted")
            .increment(accepted_count as u64);
        metrics::counter!("gosight_ingest_events_total", "project" => project_label, "result" => "rejected")
            .increment(rejected as u64);
        Ok(EventAck {
            accepted: accepted_count as u32,
            rejected: rejected as u32,
            rejections,
        })
    }

    async fn publish_events(
        &self,
        project: Uuid,
        mut envelope: EventEnvelope,
        events: Vec<Event>,
        client: &ClientInfo,
    ) -> Result<(), IngestError> {
        let session_id = envelope
            .session
            .as_ref()
            .map(|s| s.session_id.clone())
            .unwrap_or_default();
        let key = format!("{project}:{session_id}");
        let headers = vec![(
            "traceparent".to_string(),
            self.traceparent(client).into_bytes(),
        )];
        let mut records = Vec::new();
        let errors = events.iter().filter(|event| {
            matches!(
                event.payload,
                Some(Payload::JsError(_)) | Some(Payload::NetworkError(_))
            )
        });
        for error in errors {
            envelope.event = Some(error.clone());
            records.push(BusRecord {
                topic: self.topics.events_errors.clone(),
                key: key.clone(),
                payload: Bytes::from(envelope.encode_to_vec()),
                headers: headers.clone(),
            });
        }
        envelope.event = None;
        for events in message_chunks(events, self.config.max_message_bytes) {
            envelope.events = events;
            records.push(BusRecord {
                topic: self.topics.events_raw.clone(),
                key: key.clone(),
                payload: Bytes::from(envelope.encode_to_vec()),
                headers: headers.clone(),
            });
        }
        self.publish(records).await
    }

    fn traceparent(&self, client: &ClientInfo) -> String {
        match client.traceparent.as_deref() {
            Some(tp) if valid_traceparent(tp) => tp.to_string(),
            _ => new_traceparent(),
        }
    }

    /// Publishes and waits for every delivery report. Any failure answers 503: the client sends
    /// the batch again, and copies that did reach the broker are removed downstream by event id.
    async fn publish(&self, records: Vec<BusRecord>) -> Result<(), IngestError> {
        let started = Instant::now();
        let result = self.bus.publish_all(records).await;
        metrics::histogram!("gosight_ingest_produce_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        if let Err(error) = result {
            metrics::counter!("gosight_ingest_produce_errors_total").increment(1);
            tracing::warn!(%error, "publishing failed");
            return Err(IngestError::unavailable(format!(
                "the broker did not take the data: {error}"
            )));
        }
        Ok(())
    }

    /// Takes one replay chunk.
    pub async fn replay(
        &self,
        header_key: Option<&str>,
        mut chunk: ReplayChunk,
        client: &ClientInfo,
    ) -> Result<ReplayAck, IngestError> {
        let _permit = self.admit()?;
        let key = header_key.unwrap_or(&chunk.project_key).to_string();
        let record = self.authorize(&key, client).await?;
        if !self.replay_enabled {
            return Err(IngestError::Forbidden(
                "this server keeps no replays (analytics_only mode)".into(),
            ));
        }
        let session_id = Uuid::try_parse(&chunk.session_id).map_err(|_| {
            IngestError::BadRequest("replay chunk session_id must be a UUID".into())
        })?;
        if chunk.data.is_empty() {
            return Err(IngestError::BadRequest("replay chunk has no data".into()));
        }
        if ReplayEncoding::try_from(chunk.encoding).unwrap_or(ReplayEncoding::Unspecified)
            == ReplayEncoding::Unspecified
        {
            return Err(IngestError::BadRequest(
                "replay chunk encoding must be REPLAY_ENCODING_JSON or REPLAY_ENCODING_GZIP_JSON"
                    .into(),
            ));
        }
        self.limiter
            .check(record.project_id, record.rate_limit, record.rate_burst, 1)
            .await?;
        chunk.project_key.clear();
        let envelope = ReplayEnvelope {
            project_id: record.project_id.to_string(),
            received_at: Some(Timestamp { unix_ms: now_ms() }),
            chunk: Some(chunk),
        };
        self.publish(vec![BusRecord {
            topic: self.topics.replay_chunks.clone(),
            key: session_id.to_string(),
            payload: Bytes::from(envelope.encode_to_vec()),
            headers: vec![("traceparent".into(), self.traceparent(client).into_bytes())],
        }])
        .await?;
        metrics::counter!("gosight_ingest_replay_chunks_total").increment(1);
        Ok(ReplayAck {
            accepted: 1,
            rejected: 0,
            rejections: vec![],
        })
    }
}

/// A request's place among `max_in_flight_requests`; the gauge counts admissions up and
/// releases down.
struct InFlight {
    _permit: OwnedSemaphorePermit,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge!("gosight_ingest_in_flight_requests").decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_follow_allowed_domains() {
        let allowed = vec!["shop.example".to_string(), "*.example.org".to_string()];
        assert!(origin_allowed(&allowed, None));
        assert!(origin_allowed(&[], Some("https://anything.test")));
        assert!(origin_allowed(&allowed, Some("https://shop.example")));
        assert!(origin_allowed(
            &allowed,
            Some("http://a.b.example.org:8080")
        ));
        assert!(!origin_allowed(&allowed, Some("https://example.org")));
        assert!(!origin_allowed(&allowed, Some("https://evilshop.example")));
        assert!(!origin_allowed(&allowed, Some("null")));
    }

    fn sized(id: usize, text_len: usize) -> Event {
        Event {
            event_id: format!("e{id}"),
            payload: Some(Payload::Custom(gosight_proto::CustomPayload {
                name: "x".repeat(text_len),
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    #[test]
    fn batches_split_into_messages_by_size_and_keep_order() {
        let events: Vec<Event> = (0..10).map(|i| sized(i, 100)).collect();
        let one = events[0].encoded_len();
        let each = one + prost::length_delimiter_len(one) + 1;
        // All in one message when they fit.
        let chunks = message_chunks(events.clone(), 10 * each);
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0], events);
        // Three per message otherwise, in order, and every envelope fits.
        let chunks = message_chunks(events.clone(), 3 * each + 1);
        assert_eq!(
            chunks.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![3, 3, 3, 1]
        );
        assert_eq!(chunks.concat(), events);
        for chunk in &chunks {
            let envelope = EventEnvelope {
                events: chunk.clone(),
                ..Default::default()
            };
            assert!(envelope.encoded_len() <= 3 * each + 1);
        }
        // An event larger than the limit goes alone; nothing is dropped.
        let mut mixed = vec![sized(0, 10), sized(1, 5000), sized(2, 10)];
        let chunks = message_chunks(mixed.clone(), 1000);
        assert_eq!(
            chunks.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![1, 1, 1]
        );
        assert_eq!(chunks.concat(), std::mem::take(&mut mixed));
        assert!(message_chunks(Vec::new(), 1000).is_empty());
    }

    #[test]
    fn traceparents_are_checked() {
        assert!(valid_traceparent(&new_traceparent()));
        assert!(!valid_traceparent("00-xyz-abc-01"));
    }
}
