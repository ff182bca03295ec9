//! A processor shard: consumes its partitions in rounds, routes each session's envelopes to its
//! [`SessionActor`], hands the rows to the [`TableWriter`]s and commits offsets once they are in
//! the analytics store (ClickHouse, or SQLite in standalone mode).
//!
//! A round ends after `max_batch_rows` events (a message carries one batch of a session's events,
//! or one replay chunk), `max_batch_bytes` bytes or `flush_interval_ms`. Its sessions then apply
//! its envelopes, and the round is stored in the background while the next one is read and
//! applied: events, insights, replay chunks and session rows are inserted; insights are published
//! to `gosight.insights`; offsets are committed; live updates start going out. One round is being
//! stored at a time, and a round is stored only after the one before it, so each session's rows
//! arrive in order. Rounds applied while one is being stored are held, up to
//! `backlog_batch_rows` events and `backlog_batch_bytes` bytes of messages, and stored together
//! as soon as it is in: a shard behind its partitions makes fewer, larger inserts (each insert
//! costs the analytics store a fixed amount, and each part it leaves is merged later; ClickHouse
//! wants about one insert a second), and it keeps applying while the store works. A shard holds
//! the round being stored, the rounds held and the one being read (besides the source's hand-off
//! of up to `max_batch_bytes`, and librdkafka's prefetch). Sessions that end or go quiet between
//! rounds are stored with the next round. A crash anywhere before a round's commit redelivers it
//! (and every round after it): each session resumes from its stored row,
//! skipping envelopes at or before the row's `(last_partition, last_offset)`. Envelopes after it
//! whose events were stored anyway (a crash between the events and the sessions insert) are found
//! by looking up the event ids of every message that was already in the partition when this shard
//! got it (below its high watermark then): they are counted and not written again, so the tables
//! filled on insert into `events` see each event once. Event rows that do arrive twice fold in
//! ClickHouse by event id.
//!
//! Partitions (and so sessions) move between shards when shards are added or removed. The
//! rebalance waits while the shard finishes storing and committing every round it applied (the
//! round being stored, then the rounds held: two inserts and commits in a row; up to
//! 90 % of `max.poll.interval.ms`; past that the shard stops with an error rather than write
//! after the new owner started, as when ClickHouse stays down that long); what
//! the round being read holds from a revoked partition is dropped uncommitted (the new owner reads
//! it) and that partition's session actors are stopped, their aggregates stored. The new owner
//! starts actors lazily and loads each session's row on first sight. Detection windows (seconds
//! long) start empty there: a burst that straddles the move may go unreported.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytes::Bytes;
use futures::future::join_all;
use gosight_actors::PanicLog;
use gosight_common::backend::analytics::LOOKUP_BATCH;
use gosight_common::backend::{
    AnalyticsStore, BusRecord, EventBus, EventKey, EventRow, InsightRow, LiveFanout, MetadataStore,
    ReplayChunkRow, SessionRow,
};
use gosight_common::kafka::Topics;
use gosight_proto::{EventEnvelope, ReplayEnvelope};
use prost::Message as _;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::actors::{
    Add, AlreadyStored, Apply, End, Flush, MarkReplay, Output, Quiet, SessionActor, StoredRow,
    TableWriter,
};
use crate::config::ProcessorConfig;
use crate::convert::{datetime, event_keys, event_rows};
use crate::detect::QUIET_AFTER;
use crate::error::ProcessorError;
use crate::live::{LiveUpdate, channel};
use crate::retry::with_backoff;
use crate::session::SessionState;
use crate::source::{Committer, Consumed, ShardSource};
use crate::thresholds::ProjectThresholds;

type Key = (Uuid, Uuid);

struct Live {
    addr: Addr<SessionActor>,
    partition: i32,
    last_seen: Instant,
    /// Sent [`Quiet`] since its last events.
    quiet: bool,
}

/// Where a round's output goes: the writers, the insights topic, live updates, and the
/// source's offsets. Shared with the round being stored while the next one is read.
struct Sink {
    events: Addr<TableWriter<EventRow>>,
    insights: Addr<TableWriter<InsightRow>>,
    replay: Addr<TableWriter<ReplayChunkRow>>,
    sessions: Addr<TableWriter<SessionRow>>,
    insights_topic: String,
    insights_bus: Option<Arc<dyn EventBus>>,
    live: Option<Arc<dyn LiveFanout>>,
    committer: Arc<dyn Committer>,
}

/// How storing a round ends: the task publishing its live updates, if any.
type StoreResult = Result<Option<tokio::task::JoinHandle<()>>, ProcessorError>;
/// A round being stored.
type Storing = tokio::task::JoinHandle<StoreResult>;

/// Waits for the round being stored; never resolves when there is none.
async fn stored(storing: &mut Option<Storing>) -> Result<StoreResult, tokio::task::JoinError> {
    match storing {
        Some(storing) => storing.await,
        None => std::future::pending().await,
    }
}

pub struct Shard {
    config: ProcessorConfig,
    topics: Topics,
    source: Box<dyn ShardSource>,
    store: Arc<dyn AnalyticsStore>,
    sink: Arc<Sink>,
    /// The previous round, being stored and committed while this one is read and applied: one
    /// at most, and a round is stored only after the one before it.
    storing: Option<Storing>,
    /// Sessions whose final rows the round being stored holds: loading one again waits for it.
    ending: HashSet<Key>,
    /// What ending and quieting sessions gave between rounds, and the rounds held while the one
    /// before was stored: stored with the next round.
    pending: RoundOutput,
    /// The offsets of the rounds held, and how many events and bytes of messages they hold.
    held_offsets: HashMap<(String, i32), i64>,
    held_rows: usize,
    held_bytes: usize,
    /// Sessions whose final rows `pending` holds: one seen again resumes from that row.
    pending_ends: HashSet<Key>,
    /// The last stored round's live updates, still going out: one round's worth at most, and a
    /// round's updates leave only after the previous round's.
    live_task: Option<tokio::task::JoinHandle<()>>,
    sessions: HashMap<Key, Live>,
    thresholds: ProjectThresholds,
    panics: PanicLog,
    stop: CancellationToken,
    writers_stop: CancellationToken,
    /// The deadline of the revocation being handled.
    revoking: Option<Instant>,
    /// The source's reader ended unasked: the shard stores what it holds and stops with an error.
    reader_stopped: bool,
}

/// One consumed message, decoded; an event says whether an earlier owner may have stored it.
enum Item {
    Event(Key, i32, i64, Arc<EventEnvelope>, bool),
    Replay(Key, i32, ReplayChunkRow),
}

impl Item {
    /// Events it holds (a replay chunk counts as one).
    fn rows(&self) -> usize {
        match self {
            Item::Event(_, _, _, envelope, _) => envelope.event_count(),
            Item::Replay(..) => 1,
        }
    }
}

fn decode(
    topics: &Topics,
    topic: &str,
    partition: i32,
    offset: i64,
    payload: &[u8],
    maybe_seen: bool,
) -> Option<Item> {
    if topic == topics.replay_chunks {
        let envelope = ReplayEnvelope::decode(payload).ok()?;
        let chunk = envelope.chunk?;
        let project_id = Uuid::try_parse(&envelope.project_id).ok()?;
        let session_id = Uuid::try_parse(&chunk.session_id).ok()?;
        let encoding = chunk
            .encoding()
            .as_str_name()
            .trim_start_matches("REPLAY_ENCODING_")
            .to_ascii_lowercase();
        let row = ReplayChunkRow {
            project_id,
            session_id,
            chunk_index: chunk.chunk_index,
            first_timestamp: datetime(chunk.first_timestamp.map(|t| t.unix_ms).unwrap_or_default()),
            last_timestamp: datetime(chunk.last_timestamp.map(|t| t.unix_ms).unwrap_or_default()),
            has_full_snapshot: chunk.has_full_snapshot,
            event_count: chunk.event_count,
            encoding,
            uncompressed_size: chunk.uncompressed_size,
            data: chunk.data,
            received_at: datetime(envelope.received_at.map(|t| t.unix_ms).unwrap_or_default()),
        };
        return Some(Item::Replay((project_id, session_id), partition, row));
    }
    let envelope = EventEnvelope::decode(payload).ok()?;
    let project_id = Uuid::try_parse(&envelope.project_id).ok()?;
    let session_id = Uuid::try_parse(&envelope.session.as_ref()?.session_id).ok()?;
    Some(Item::Event(
        (project_id, session_id),
        partition,
        offset,
        Arc::new(envelope),
        maybe_seen,
    ))
}

/// Drops what was read from revoked partitions, and those partitions' session actors: their
/// aggregates are stored as of the last round; the new owner resumes them.
fn drop_revoked(
    revoked: &[(String, i32)],
    topics: &Topics,
    sessions: &mut HashMap<Key, Live>,
    items: &mut Vec<Item>,
    offsets: &mut HashMap<(String, i32), i64>,
) {
    let gone: HashSet<i32> = revoked
        .iter()
        .filter(|(t, _)| *t == topics.events_raw)
        .map(|(_, p)| *p)
        .collect();
    let gone_replay: HashSet<i32> = revoked
        .iter()
        .filter(|(t, _)| *t == topics.replay_chunks)
        .map(|(_, p)| *p)
        .collect();
    offsets.retain(|key, _| !revoked.contains(key));
    items.retain(|item| match item {
        Item::Event(_, partition, _, _, _) => !gone.contains(partition),
        Item::Replay(_, partition, _) => !gone_replay.contains(partition),
    });
    sessions.retain(|_, live| !gone.contains(&live.partition));
}

/// The deadline of a rebalance waiting for the shard: the revocation being handled, or one the
/// source has not handed over yet.
fn deadline(revoking: Option<Instant>, source: &dyn ShardSource) -> Option<Instant> {
    match (revoking, source.deadline()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Completes once such a deadline has passed.
async fn past_deadline(revoking: Option<Instant>, source: &dyn ShardSource) {
    loop {
        if deadline(revoking, source).is_some_and(|d| Instant::now() >= d) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn record_phase(phase: &'static str, started: Instant) {
    metrics::histogram!("gosight_processor_round_seconds", "phase" => phase)
        .record(started.elapsed().as_secs_f64());
}

/// Publishes a round's live updates with up to 64 in flight (issued in order, so a session's
/// updates arrive in order on one connection), not one round trip each.
async fn publish_live(live: Arc<dyn LiveFanout>, updates: Vec<LiveUpdate>) {
    use futures::StreamExt;
    let started = Instant::now();
    let live = &live;
    futures::stream::iter(updates)
        .filter_map(|update| async move {
            let payload = serde_json::to_vec(&update).ok()?;
            Some((channel(update.project_id()), Bytes::from(payload)))
        })
        .map(|(channel, payload)| async move { live.publish(&channel, payload).await })
        .buffered(64)
        .for_each(|result| async move {
            if let Err(error) = result {
                metrics::counter!("gosight_processor_live_errors_total").increment(1);
                tracing::debug!(%error, "live update not published");
            }
        })
        .await;
    metrics::histogram!("gosight_processor_live_publish_seconds")
        .record(started.elapsed().as_secs_f64());
}

/// Hands `rows` to a writer and waits until they are in ClickHouse.
async fn flush<R: StoredRow>(
    writer: &Addr<TableWriter<R>>,
    rows: Vec<R>,
) -> Result<(), ProcessorError> {
    if rows.is_empty() {
        return Ok(());
    }
    writer.do_send(Add(rows));
    writer.send(Flush).await??;
    Ok(())
}

/// Stores a round: events, insights, replay chunks and session rows inserted (session rows last:
/// a session row never claims events that are not stored), insights published, offsets
/// committed; then its live updates start going out, after the previous round's.
async fn store_round(
    sink: Arc<Sink>,
    output: RoundOutput,
    offsets: HashMap<(String, i32), i64>,
    previous_live: Option<tokio::task::JoinHandle<()>>,
) -> Result<Option<tokio::task::JoinHandle<()>>, ProcessorError> {
    let RoundOutput {
        events,
        insights,
        replay,
        sessions,
        live,
    } = output;
    let started = Instant::now();
    let insight_records: Vec<BusRecord> = insights
        .iter()
        .map(|insight| BusRecord {
            topic: sink.insights_topic.clone(),
            key: format!("{}:{}", insight.project_id, insight.session_id),
            payload: Bytes::from(
                serde_json::to_vec(&serde_json::json!({
                    "insight_id": insight.insight_id,
                    "project_id": insight.project_id,
                    "session_id": insight.session_id,
                    "insight_type": insight.insight_type,
                    "url": insight.url,
                    "selector": insight.selector,
                    "timestamp_ms": (insight.timestamp.unix_timestamp_nanos() / 1_000_000) as i64,
                    "details": insight.details,
                }))
                .unwrap_or_default(),
            ),
            headers: vec![],
        })
        .collect();
    flush(&sink.events, events).await?;
    flush(&sink.insights, insights).await?;
    flush(&sink.replay, replay).await?;
    flush(&sink.sessions, sessions.into_values().collect()).await?;
    if let Some(bus) = &sink.insights_bus {
        bus.publish_all(insight_records).await?;
    }
    record_phase("write", started);
    if !offsets.is_empty() {
        let started = Instant::now();
        sink.committer.commit(&offsets).await?;
        record_phase("commit", started);
    }
    if let Some(previous) = previous_live {
        let _ = previous.await;
    }
    Ok(match &sink.live {
        Some(fanout) if !live.is_empty() => Some(actix::spawn(publish_live(fanout.clone(), live))),
        _ => None,
    })
}

/// Everything a round writes.
#[derive(Default)]
struct RoundOutput {
    events: Vec<EventRow>,
    insights: Vec<InsightRow>,
    replay: Vec<ReplayChunkRow>,
    sessions: HashMap<Key, SessionRow>,
    live: Vec<LiveUpdate>,
}

impl RoundOutput {
    fn absorb(&mut self, output: Output) {
        self.events.extend(output.events);
        self.insights.extend(output.insights);
        if let Some(row) = output.session {
            self.sessions.insert((row.project_id, row.session_id), row);
        }
        self.live.extend(output.live);
    }

    /// Takes in `earlier` output: its session rows where this has none newer, its live updates
    /// before this one's.
    fn follow(&mut self, earlier: RoundOutput) {
        let RoundOutput {
            events,
            insights,
            replay,
            sessions,
            mut live,
        } = earlier;
        self.events.extend(events);
        self.insights.extend(insights);
        self.replay.extend(replay);
        for (key, row) in sessions {
            self.sessions.entry(key).or_insert(row);
        }
        live.append(&mut self.live);
        self.live = live;
    }

    fn is_empty(&self) -> bool {
        self.events.is_empty()
            && self.insights.is_empty()
            && self.replay.is_empty()
            && self.sessions.is_empty()
            && self.live.is_empty()
    }
}

impl std::fmt::Debug for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shard")
            .field("shard_id", &self.config.shard_id)
            .field("live_sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

impl Shard {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: ProcessorConfig,
        topics: Topics,
        source: Box<dyn ShardSource>,
        store: Arc<dyn AnalyticsStore>,
        insights_bus: Option<Arc<dyn EventBus>>,
        live: Option<Arc<dyn LiveFanout>>,
        metadata: Option<Arc<dyn MetadataStore>>,
        stop: CancellationToken,
    ) -> Result<Self, ProcessorError> {
        // One insert per table for what is stored at once: the rounds held and one more (which
        // may end a message past `max_batch_rows`).
        let rows = config.backlog_rows_limit() + 2 * config.max_batch_rows;
        // Also cancelled when a rebalance gives up on the shard: no insert is retried after.
        let writers_stop = stop.child_token();
        let (s, w) = (&store, &writers_stop);
        let sink = Arc::new(Sink {
            events: TableWriter::new(s.clone(), "events", rows, w.clone()).start(),
            insights: TableWriter::new(s.clone(), "insights", rows, w.clone()).start(),
            replay: TableWriter::new(s.clone(), "replay_chunks", rows, w.clone()).start(),
            sessions: TableWriter::new(s.clone(), "sessions", rows, w.clone()).start(),
            insights_topic: topics.insights.clone(),
            insights_bus,
            live,
            committer: source.committer(),
        });
        Ok(Self {
            thresholds: ProjectThresholds::new(config.thresholds.clone(), metadata),
            topics,
            config,
            source,
            store,
            sink,
            storing: None,
            ending: HashSet::new(),
            pending: RoundOutput::default(),
            held_offsets: HashMap::new(),
            held_rows: 0,
            held_bytes: 0,
            pending_ends: HashSet::new(),
            live_task: None,
            sessions: HashMap::new(),
            panics: PanicLog::default(),
            stop,
            writers_stop,
            revoking: None,
            reader_stopped: false,
        })
    }

    pub fn panics(&self) -> &PanicLog {
        &self.panics
    }

    /// Runs rounds until `stop` is cancelled; the round in progress is finished first.
    pub async fn run(mut self) -> Result<(), ProcessorError> {
        let mut last_idle_check = Instant::now();
        loop {
            let stopping = self.round().await?;
            if last_idle_check.elapsed() > Duration::from_secs(1) {
                self.end_idle().await?;
                last_idle_check = Instant::now();
            }
            if stopping {
                self.store_everything().await?;
                if let Some(task) = self.live_task.take() {
                    let _ = task.await;
                }
                // A dynamic member leaves the group on close and its partitions move at once. A
                // static member (shard_id set) keeps them until the broker's session timeout, so
                // a restart within it gets them back without a rebalance.
                if self.reader_stopped {
                    return Err(ProcessorError::ReaderStopped);
                }
                tracing::info!("shard stopped");
                return Ok(());
            }
        }
    }

    /// Reads and applies one round while the previous one is stored, then starts storing this
    /// one, or holds it while that one is still being stored; returns whether shutdown began.
    /// Each phase's time goes to `gosight_processor_round_seconds{phase}`: `read` (including
    /// waiting for messages), `apply` (session actors), `wait` (for the previous round to be
    /// stored, once as many rounds as allowed are held), `write` (the analytics store and the
    /// insights topic), `commit`.
    async fn round(&mut self) -> Result<bool, ProcessorError> {
        let started = Instant::now();
        let deadline =
            tokio::time::Instant::now() + Duration::from_millis(self.config.flush_interval_ms);
        let mut items = Vec::new();
        let mut offsets: HashMap<(String, i32), i64> = HashMap::new();
        let mut bytes = 0usize;
        let mut rows = 0usize;
        let mut stopping = false;
        while rows < self.config.max_batch_rows && bytes < self.config.max_batch_bytes {
            let message = tokio::select! {
                _ = self.stop.cancelled() => { stopping = true; break }
                _ = tokio::time::sleep_until(deadline) => break,
                // Rounds are held while one is stored: they go as soon as it is in.
                result = stored(&mut self.storing), if !self.held_offsets.is_empty() => {
                    self.storing = None;
                    self.settle(result)?;
                    self.store(RoundOutput::default(), HashMap::new()).await?;
                    continue;
                }
                message = self.source.recv() => message,
            };
            let message = match message {
                Ok(Consumed::Message(message)) => message,
                Ok(Consumed::Revoked(revocation)) => {
                    // Everything applied before is stored and committed before the partitions
                    // go; what this round read from them is dropped (the new owner reads it).
                    // Past the group's patience the shard stops instead: a late write could land
                    // after the new owner loaded a session's row.
                    self.revoking = Some(revocation.deadline);
                    self.store_everything().await?;
                    self.revoking = None;
                    drop_revoked(
                        &revocation.partitions,
                        &self.topics,
                        &mut self.sessions,
                        &mut items,
                        &mut offsets,
                    );
                    // (`bytes` keeps counting what was dropped: the round ends no later.)
                    rows = items.iter().map(Item::rows).sum();
                    drop(revocation);
                    continue;
                }
                Err(ProcessorError::ReaderStopped) => {
                    // Stored what this shard holds, then out with the error.
                    self.reader_stopped = true;
                    stopping = true;
                    break;
                }
                Err(error) => {
                    tracing::warn!(%error, "consume failed");
                    continue;
                }
            };
            let payload = &message.payload;
            bytes += payload.len();
            let (topic, partition, offset) =
                (message.topic.as_str(), message.partition, message.offset);
            offsets.insert((topic.to_string(), partition), offset);
            let maybe_seen = self.source.maybe_seen(topic, partition, offset);
            match decode(&self.topics, topic, partition, offset, payload, maybe_seen) {
                Some(item) => {
                    rows += item.rows();
                    items.push(item);
                }
                None => {
                    metrics::counter!("gosight_processor_undecodable_total").increment(1);
                    tracing::warn!(topic, partition, offset, "skipping an undecodable message");
                }
            }
        }
        record_phase("read", started);
        metrics::counter!("gosight_processor_messages_total").increment(items.len() as u64);
        metrics::counter!("gosight_processor_events_read_total").increment(rows as u64);
        let output = if items.is_empty() {
            RoundOutput::default()
        } else {
            let started = Instant::now();
            let output = self.apply(items).await?;
            record_phase("apply", started);
            output
        };
        let (held_rows, held_bytes) = (self.held_rows + rows, self.held_bytes + bytes);
        let busy = self.storing.as_ref().is_some_and(|s| !s.is_finished());
        if busy
            && !offsets.is_empty()
            && held_rows <= self.config.backlog_rows_limit()
            && held_bytes <= self.config.backlog_bytes_limit()
        {
            // The round before is still being stored: this one is held (it goes with the other
            // rounds held once that one is in), and the next is read meanwhile.
            self.pend(output);
            self.held_offsets.extend(offsets);
            (self.held_rows, self.held_bytes) = (held_rows, held_bytes);
        } else if !offsets.is_empty()
            || !output.is_empty()
            || (!busy && (!self.pending.is_empty() || !self.held_offsets.is_empty()))
        {
            self.store(output, offsets).await?;
        }
        metrics::gauge!("gosight_processor_live_sessions").set(self.sessions.len() as f64);
        Ok(stopping)
    }

    async fn actor_for(&mut self, keys: &[(Key, i32)]) -> Result<(), ProcessorError> {
        let missing: Vec<(Key, i32)> = keys
            .iter()
            .filter(|(k, _)| !self.sessions.contains_key(k))
            .cloned()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        if missing.iter().any(|(key, _)| self.ending.contains(key)) {
            // Its final row is still being stored: load it once it is.
            self.finish_storing().await?;
        }
        // A session that ended since the last round resumes from its final row, not yet stored.
        let mut stored: HashMap<Key, SessionRow> = HashMap::new();
        for (key, _) in &missing {
            if self.pending_ends.remove(key)
                && let Some(row) = self.pending.sessions.get(key)
            {
                stored.insert(*key, row.clone());
            }
        }
        let unknown: Vec<Key> = missing
            .iter()
            .map(|(k, _)| *k)
            .filter(|k| !stored.contains_key(k))
            .collect();
        stored.extend(self.load_rows(&unknown).await?);
        for (key, partition) in missing {
            let state = match stored.get(&key) {
                Some(row) => SessionState::from_row(row.clone()),
                None => SessionState::new(key.0, key.1),
            };
            let thresholds = self.thresholds.get(key.0).await;
            let panics = self.panics.clone();
            let addr = Supervisor::start(move |_| SessionActor::new(state, thresholds, panics));
            self.sessions.insert(
                key,
                Live {
                    addr,
                    partition,
                    last_seen: Instant::now(),
                    quiet: false,
                },
            );
        }
        Ok(())
    }

    /// A read from the store, retried while it is unavailable (the round waits, and so does
    /// consumption).
    async fn read<T, Fut>(&self, query: impl FnMut() -> Fut) -> Result<T, ProcessorError>
    where
        Fut: std::future::Future<Output = gosight_common::Result<T>>,
    {
        with_backoff(&self.stop, query, |error, backoff| {
            metrics::counter!("gosight_processor_read_errors_total").increment(1);
            tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64, "store read failed; retrying");
        })
        .await
    }

    /// Which of these events (read from before this shard owned their partition) the store
    /// already holds, by session.
    async fn already_stored(
        &self,
        rows: &[EventKey],
    ) -> Result<HashMap<Key, HashSet<Uuid>>, ProcessorError> {
        let mut stored: HashMap<Key, HashSet<Uuid>> = HashMap::new();
        for chunk in rows.chunks(LOOKUP_BATCH) {
            let found = self.read(|| self.store.stored_event_ids(chunk)).await?;
            for (project_id, session_id, event_id) in found {
                stored
                    .entry((project_id, session_id))
                    .or_default()
                    .insert(event_id);
            }
        }
        if !stored.is_empty() {
            let count: usize = stored.values().map(HashSet::len).sum();
            metrics::counter!("gosight_processor_already_stored_total").increment(count as u64);
        }
        Ok(stored)
    }

    /// The stored rows of sessions this shard has not seen yet (after a restart or a move).
    async fn load_rows(&self, keys: &[Key]) -> Result<HashMap<Key, SessionRow>, ProcessorError> {
        let mut rows = HashMap::new();
        for chunk in keys.chunks(LOOKUP_BATCH) {
            let found = self.read(|| self.store.session_rows(chunk)).await?;
            for row in found {
                rows.insert((row.project_id, row.session_id), row);
            }
        }
        Ok(rows)
    }

    async fn apply(&mut self, items: Vec<Item>) -> Result<RoundOutput, ProcessorError> {
        let mut groups: HashMap<Key, Vec<(i32, i64, Arc<EventEnvelope>)>> = HashMap::new();
        let mut order: Vec<(Key, i32)> = Vec::new();
        let mut output = RoundOutput::default();
        let mut replayed: Vec<Key> = Vec::new();
        let mut maybe_seen: Vec<EventKey> = Vec::new();
        for item in items {
            match item {
                Item::Event(key, partition, offset, envelope, seen) => {
                    if seen {
                        maybe_seen.extend(event_keys(&envelope));
                    }
                    let group = groups.entry(key).or_default();
                    if group.is_empty() {
                        order.push((key, partition));
                    }
                    group.push((partition, offset, envelope));
                }
                Item::Replay(key, _, row) => {
                    replayed.push(key);
                    output.replay.push(row);
                }
            }
        }
        self.actor_for(&order).await?;
        let mut stored = self.already_stored(&maybe_seen).await?;
        let mut pending = Vec::with_capacity(order.len());
        for (key, _) in &order {
            let Some(envelopes) = groups.remove(key) else {
                continue;
            };
            let Some(live) = self.sessions.get_mut(key) else {
                continue;
            };
            live.last_seen = Instant::now();
            live.quiet = false;
            // Kept (cheap Arc clones) in case the session fails; rows are built only then.
            let kept: Vec<Arc<EventEnvelope>> =
                envelopes.iter().map(|(_, _, e)| e.clone()).collect();
            let ids = stored.remove(key).unwrap_or_default();
            if !ids.is_empty() {
                live.addr.do_send(AlreadyStored(ids.clone()));
            }
            pending.push((live.addr.send(Apply(envelopes)), kept, ids));
        }
        for (reply, kept, ids) in join_all(
            pending
                .into_iter()
                .map(|(f, kept, ids)| async move { (f.await, kept, ids) }),
        )
        .await
        {
            match reply {
                Ok(Ok(out)) => output.absorb(out),
                // The session's logic panicked (it restarts) or its mailbox is gone: the events
                // are still written, uncounted in the aggregate.
                Ok(Err(_)) | Err(_) => output.events.extend(
                    kept.iter()
                        .flat_map(|e| event_rows(e))
                        .filter(|row| !ids.contains(&row.event_id)),
                ),
            }
        }
        for key in replayed {
            if let Some(live) = self.sessions.get(&key)
                && let Ok(Some(row)) = live.addr.send(MarkReplay).await
            {
                output.sessions.insert(key, row);
            }
        }
        Ok(output)
    }

    /// Waits for the round being stored, then starts storing `output` and committing `offsets`
    /// (in the background: the next round is read and applied meanwhile).
    async fn store(
        &mut self,
        output: RoundOutput,
        offsets: HashMap<(String, i32), i64>,
    ) -> Result<(), ProcessorError> {
        self.finish_storing().await?;
        if deadline(self.revoking, self.source.as_ref()).is_some_and(|d| Instant::now() >= d) {
            self.writers_stop.cancel();
            return Err(ProcessorError::RebalanceTimeout);
        }
        let mut output = output;
        output.follow(std::mem::take(&mut self.pending));
        let mut offsets = offsets;
        for (partition, offset) in std::mem::take(&mut self.held_offsets) {
            offsets.entry(partition).or_insert(offset);
        }
        (self.held_rows, self.held_bytes) = (0, 0);
        self.ending = std::mem::take(&mut self.pending_ends);
        let previous_live = self.live_task.take();
        self.storing = Some(actix::spawn(store_round(
            self.sink.clone(),
            output,
            offsets,
            previous_live,
        )));
        Ok(())
    }

    /// Waits until the round being stored (if any) is stored and committed.
    async fn finish_storing(&mut self) -> Result<(), ProcessorError> {
        let Some(storing) = self.storing.as_mut() else {
            return Ok(());
        };
        let started = Instant::now();
        let deadline = (self.revoking, self.source.as_ref());
        let result = tokio::select! {
            result = storing => Some(result),
            () = past_deadline(deadline.0, deadline.1) => None,
        };
        let Some(result) = result else {
            // The group stops waiting: nothing of this shard's may be written after.
            self.writers_stop.cancel();
            if let Some(storing) = self.storing.take() {
                storing.abort();
            }
            return Err(ProcessorError::RebalanceTimeout);
        };
        self.storing = None;
        record_phase("wait", started);
        self.settle(result)
    }

    /// Takes in how the round being stored ended.
    fn settle(
        &mut self,
        result: Result<StoreResult, tokio::task::JoinError>,
    ) -> Result<(), ProcessorError> {
        self.ending.clear();
        match result {
            Ok(result) => {
                self.live_task = result?;
                Ok(())
            }
            Err(error) => Err(ProcessorError::Task(error.to_string())),
        }
    }

    /// Ends sessions idle for `session_timeout_secs`: final rows written, actors stopped.
    async fn end_idle(&mut self) -> Result<(), ProcessorError> {
        let timeout = Duration::from_secs(self.config.session_timeout_secs);
        let idle: Vec<Key> = self
            .sessions
            .iter()
            .filter(|(_, live)| live.last_seen.elapsed() >= timeout)
            .map(|(key, _)| *key)
            .collect();
        let mut output = RoundOutput::default();
        // Quiet ones free their detection windows; what those still held goes out with the rest.
        let mut quiet = Vec::new();
        for live in self.sessions.values_mut() {
            if !live.quiet && live.last_seen.elapsed() >= QUIET_AFTER {
                live.quiet = true;
                quiet.push(live.addr.send(Quiet));
            }
        }
        for out in join_all(quiet).await.into_iter().flatten() {
            output.absorb(out);
        }
        for key in idle {
            if let Some(live) = self.sessions.remove(&key)
                && let Ok(out) = live.addr.send(End).await
            {
                output.absorb(out);
                self.pending_ends.insert(key);
            }
        }
        // Stored with the next round (at most `flush_interval_ms` away, or once the round being
        // stored is in), not on their own.
        self.pend(output);
        Ok(())
    }

    /// Adds `output` (newer) to what is stored with the next round.
    fn pend(&mut self, output: RoundOutput) {
        let mut output = output;
        output.follow(std::mem::take(&mut self.pending));
        self.pending = output;
    }

    /// Stores what is pending too and waits until everything is stored and committed.
    async fn store_everything(&mut self) -> Result<(), ProcessorError> {
        if !self.pending.is_empty() || !self.held_offsets.is_empty() {
            self.store(RoundOutput::default(), HashMap::new()).await?;
        }
        self.finish_storing().await
    }

    pub fn live_sessions(&self) -> usize {
        self.sessions.len()
    }
}
