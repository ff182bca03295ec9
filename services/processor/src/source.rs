//! Where a shard reads from: a consumer-group member on the bus, with what the shard needs to
//! know about ownership — which partitions it is losing (a [`Revocation`], in order among the
//! messages), and whether a message was already in its partition when the shard got it (an
//! earlier owner may have processed it) — and a [`Committer`] for its offsets.
//!
//! [`KafkaSource`] is the distributed one (rebalances, static membership, high watermarks read
//! once per assignment); standalone mode has its own on the embedded bus.

use std::collections::HashMap;
use std::collections::VecDeque;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use gosight_common::backend::{BusConsumer, BusMessage};
use gosight_common::kafka::KafkaConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tokio::sync::mpsc;

use crate::config::ProcessorConfig;
use crate::error::ProcessorError;

/// What a source hands its shard next.
#[derive(Debug)]
pub enum Consumed {
    /// A message of an assigned partition.
    Message(BusMessage),
    /// Partitions are being taken from this shard (a rebalance). It comes after every message
    /// read from them, and the rebalance waits until it is dropped: the shard first finishes
    /// storing and committing what it applied, and drops what it read from them since.
    Revoked(Revocation),
}

/// Partitions a rebalance is taking away; dropping it lets the rebalance go on.
pub struct Revocation {
    pub partitions: Vec<(String, i32)>,
    /// When the group stops waiting for this member (`max.poll.interval.ms` after the
    /// rebalance began, less a margin): a shard that cannot let go by then must stop instead,
    /// so that nothing it holds is written after the partitions' new owner started.
    pub deadline: Instant,
    /// Dropped with the revocation, which wakes the rebalance callback waiting on it.
    _release: std::sync::mpsc::SyncSender<()>,
}

/// The deadline of the rebalance waiting for the shard, if one is.
type SharedDeadline = Arc<Mutex<Option<Instant>>>;

impl Revocation {
    /// A revocation of `partitions`, and what wakes (with a disconnection) once it is dropped.
    pub fn new(
        partitions: Vec<(String, i32)>,
        deadline: Instant,
    ) -> (Self, std::sync::mpsc::Receiver<()>) {
        let (release, released) = std::sync::mpsc::sync_channel(0);
        let revocation = Self {
            partitions,
            deadline,
            _release: release,
        };
        (revocation, released)
    }
}

impl std::fmt::Debug for Revocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revocation")
            .field("partitions", &self.partitions)
            .finish_non_exhaustive()
    }
}

#[async_trait]
pub trait ShardSource: Send {
    /// The next message of an assigned partition, or a revocation.
    async fn recv(&mut self) -> Result<Consumed, ProcessorError>;
    /// Whether the message at `offset` may have been processed by an earlier owner of the
    /// partition (one that crashed or handed it over before committing). When unsure, yes.
    fn maybe_seen(&self, topic: &str, partition: i32, offset: i64) -> bool;
    /// What commits this source's offsets. The shard hands it to the round being stored while
    /// it reads the next one.
    fn committer(&self) -> Arc<dyn Committer>;
    /// While a rebalance waits for this shard (a revocation handed over or still queued), when
    /// the group stops waiting: the shard must not store anything past it.
    fn deadline(&self) -> Option<Instant> {
        None
    }
}

#[async_trait]
pub trait Committer: Send + Sync {
    /// Commits, for each (topic, partition), the offset after `offset`. A refused commit is not
    /// an error the shard can act on: the messages are read again and fold.
    async fn commit(&self, offsets: &HashMap<(String, i32), i64>) -> Result<(), ProcessorError>;
}

/// A shard on any [`BusConsumer`] that is the only member of its group (standalone mode's
/// embedded bus): it owns every partition for its whole life, so nothing is ever revoked. What
/// it reads after a restart was read before the crash, possibly processed but not committed, so
/// every message counts as possibly seen (the stored-event check is a primary-key lookup there).
#[derive(Debug)]
pub struct SoleMemberSource<C> {
    consumer: Arc<C>,
}

impl<C: BusConsumer> SoleMemberSource<C> {
    pub fn new(consumer: C) -> Self {
        Self {
            consumer: Arc::new(consumer),
        }
    }
}

#[async_trait]
impl<C: BusConsumer + 'static> ShardSource for SoleMemberSource<C> {
    async fn recv(&mut self) -> Result<Consumed, ProcessorError> {
        Ok(Consumed::Message(self.consumer.recv().await?))
    }

    fn maybe_seen(&self, _topic: &str, _partition: i32, _offset: i64) -> bool {
        true
    }

    fn committer(&self) -> Arc<dyn Committer> {
        Arc::new(BusCommitter(self.consumer.clone()))
    }
}

struct BusCommitter<C>(Arc<C>);

#[async_trait]
impl<C: BusConsumer + 'static> Committer for BusCommitter<C> {
    async fn commit(&self, offsets: &HashMap<(String, i32), i64>) -> Result<(), ProcessorError> {
        let marks: Vec<BusMessage> = offsets
            .iter()
            .map(|((topic, partition), offset)| BusMessage {
                topic: topic.clone(),
                partition: *partition,
                offset: *offset,
                key: None,
                payload: Bytes::new(),
                headers: Vec::new(),
            })
            .collect();
        let marks: Vec<&BusMessage> = marks.iter().collect();
        Ok(self.0.commit(&marks).await?)
    }
}

/// How long the shard may have no room before the reader pauses its partitions and polls on. A
/// pause drops what librdkafka fetched ahead (it is fetched again on resume), so an ordinary
/// round's back-pressure is waited out without one.
const PAUSE_AFTER: Duration = Duration::from_secs(2);

/// How many consumed messages wait between the reader thread and the shard at most; their bytes
/// are bounded too ([`ByteBudget`]).
const HANDOFF: usize = 256;

/// Bytes of messages handed over and not yet taken by the shard. The reader hands a message over
/// only while they stay within `limit` (`max_batch_bytes`; a single message always passes), besides
/// the rounds the shard holds.
#[derive(Debug)]
struct ByteBudget {
    used: Mutex<usize>,
    limit: usize,
}

impl ByteBudget {
    /// Takes room for `bytes` if there is some.
    fn try_take(&self, bytes: usize) -> bool {
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        if *used > 0 && *used + bytes > self.limit {
            return false;
        }
        *used += bytes;
        true
    }

    fn give(&self, bytes: usize) {
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        *used = used.saturating_sub(bytes);
    }
}

type Handoff = mpsc::Sender<Result<Consumed, ProcessorError>>;

/// Hands `item` to the shard from a rebalance callback, waiting while the hand-off is full; false
/// once the shard is gone or the source is stopping. Polls rather than blocks: a consumer
/// dropped on the shard's thread runs its last callbacks there, inside a runtime.
fn hand_over(
    handoff: &Handoff,
    stop: &AtomicBool,
    mut item: Result<Consumed, ProcessorError>,
) -> bool {
    loop {
        match handoff.try_send(item) {
            Ok(()) => return true,
            Err(mpsc::error::TrySendError::Closed(_)) => return false,
            Err(mpsc::error::TrySendError::Full(back)) => {
                if stop.load(Ordering::Relaxed) {
                    return false;
                }
                item = back;
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

/// The consumer's callbacks: a revocation is handed to the shard, in order after the messages
/// read before it, and the rebalance waits until the shard has let it go. Also remembers, for
/// each assigned partition, its high watermark when it was assigned (read on its first message).
pub struct ShardContext {
    handoff: Handoff,
    stop: Arc<AtomicBool>,
    /// How long the group waits for a member in a rebalance.
    max_poll_interval: Duration,
    /// Set while a revocation waits for the shard.
    deadline: SharedDeadline,
    /// Counts rebalance callbacks, so the reader notices one happened during a poll.
    rebalances: AtomicU64,
    /// Partitions revoked since the reader last looked.
    revoked: Mutex<Vec<(String, i32)>>,
    assigned: Mutex<HashMap<(String, i32), Option<i64>>>,
}

impl std::fmt::Debug for ShardContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardContext").finish_non_exhaustive()
    }
}

impl ClientContext for ShardContext {}

impl ConsumerContext for ShardContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            let partitions: Vec<(String, i32)> = list
                .elements()
                .iter()
                .map(|element| (element.topic().to_string(), element.partition()))
                .collect();
            tracing::info!(partitions = partitions.len(), "partitions revoked");
            if !partitions.is_empty() {
                // "Lost" is also what some brokers' ordinary rebalances look like to librdkafka;
                // the shard stores and commits (a refused commit only means a re-read) as for
                // any revocation.
                if consumer.assignment_lost() {
                    tracing::warn!("assignment lost");
                }
                let deadline = Instant::now() + self.max_poll_interval.mul_f64(0.9);
                let (revocation, released) = Revocation::new(partitions.clone(), deadline);
                *self.deadline.lock().unwrap_or_else(|p| p.into_inner()) = Some(deadline);
                if hand_over(&self.handoff, &self.stop, Ok(Consumed::Revoked(revocation))) {
                    // Until the shard drops the revocation, or the source is dropped.
                    while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                        released.recv_timeout(Duration::from_millis(100))
                    {
                        if self.stop.load(Ordering::Relaxed) {
                            break;
                        }
                    }
                }
                *self.deadline.lock().unwrap_or_else(|p| p.into_inner()) = None;
            }
            // Only now: the shard has handled every message read before the revocation.
            let mut assigned = self.assigned.lock().unwrap_or_else(|p| p.into_inner());
            for key in &partitions {
                assigned.remove(key);
            }
            // A pause is the application's and outlives the assignment: lift it, or a partition
            // that comes back would never be fetched.
            if let Err(error) = consumer.resume(list) {
                tracing::warn!(%error, "cannot resume revoked partitions");
            }
            self.revoked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(partitions);
            self.rebalances.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(list) = rebalance {
            let mut assigned = self.assigned.lock().unwrap_or_else(|p| p.into_inner());
            for element in list.elements() {
                assigned
                    .entry((element.topic().to_string(), element.partition()))
                    .or_insert(None);
            }
            self.rebalances.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A member of the processor's consumer group on Kafka, subscribed to the raw events and replay
/// chunks topics. With a shard id it is a static member (`group.instance.id`): restarted within
/// the session timeout, it gets its partitions back without a rebalance.
///
/// A thread of its own polls the consumer and hands messages over through a bounded queue, so
/// the shard reads the next round while the previous one is being stored, and a rebalance waits
/// (in that thread, inside the callback) until the shard has stored and committed what it
/// applied from the partitions it loses.
pub struct KafkaSource {
    handoff: mpsc::Receiver<Result<Consumed, ProcessorError>>,
    deadline: SharedDeadline,
    budget: Arc<ByteBudget>,
    consumer: Arc<BaseConsumer<ShardContext>>,
    stop: Arc<AtomicBool>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for KafkaSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSource").finish_non_exhaustive()
    }
}

impl KafkaSource {
    pub fn new(config: &ProcessorConfig, kafka: &KafkaConfig) -> Result<Self, ProcessorError> {
        let mut client = rdkafka::ClientConfig::new();
        client
            .set("bootstrap.servers", &kafka.brokers)
            .set("client.id", &kafka.client_id)
            .set("group.id", &config.group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("partition.assignment.strategy", "roundrobin")
            .set("session.timeout.ms", "10000")
            .set("max.poll.interval.ms", "300000");
        for (key, value) in &kafka.librdkafka {
            client.set(key, value);
        }
        if !config.shard_id.is_empty() {
            client.set("group.instance.id", &config.shard_id);
        }
        let max_poll_interval = client
            .get("max.poll.interval.ms")
            .and_then(|ms| ms.parse().ok())
            .map_or(Duration::from_secs(300), Duration::from_millis);
        let (handoff, receiver) = mpsc::channel(HANDOFF);
        let stop = Arc::new(AtomicBool::new(false));
        let budget = Arc::new(ByteBudget {
            used: Mutex::new(0),
            limit: config.max_batch_bytes.max(1),
        });
        let deadline = SharedDeadline::default();
        let context = ShardContext {
            handoff: handoff.clone(),
            stop: stop.clone(),
            max_poll_interval,
            deadline: deadline.clone(),
            rebalances: AtomicU64::new(0),
            revoked: Mutex::default(),
            assigned: Mutex::default(),
        };
        let consumer: Arc<BaseConsumer<ShardContext>> =
            Arc::new(client.create_with_context(context)?);
        consumer.subscribe(&[&kafka.topics.events_raw, &kafka.topics.replay_chunks])?;
        let spawned = {
            let (consumer, stop, budget) = (consumer.clone(), stop.clone(), budget.clone());
            std::thread::Builder::new()
                .name("shard-consumer".into())
                .spawn(move || {
                    let run =
                        std::panic::AssertUnwindSafe(|| read(&consumer, &handoff, &budget, &stop));
                    if std::panic::catch_unwind(run).is_err() || !stop.load(Ordering::Relaxed) {
                        // Not asked to stop: the shard must not wait for messages forever.
                        let _ = handoff.blocking_send(Err(ProcessorError::ReaderStopped));
                    }
                })
        };
        let reader = match spawned {
            Ok(reader) => reader,
            Err(error) => {
                // The consumer's close may call back into the context: let it through.
                stop.store(true, Ordering::Relaxed);
                return Err(ProcessorError::Common(gosight_common::Error::Io(error)));
            }
        };
        Ok(Self {
            handoff: receiver,
            deadline,
            budget,
            consumer,
            stop,
            reader: Some(reader),
        })
    }
}

/// The reader thread: polls the consumer (which also runs its rebalance callbacks) and hands
/// what it reads to the shard, in order, until the source is dropped. While the shard has no room
/// (the hand-off is full, in messages or in bytes) the assignment is paused and polling goes on,
/// so the member stays in the group however long the shard is held up (e.g. by ClickHouse being
/// down) and rebalances are still served.
fn read(
    consumer: &BaseConsumer<ShardContext>,
    handoff: &Handoff,
    budget: &ByteBudget,
    stop: &AtomicBool,
) {
    let context = consumer.context();
    let mut held: VecDeque<BusMessage> = VecDeque::new();
    // What this thread paused (and only that is resumed).
    let mut paused: Vec<(String, i32)> = Vec::new();
    let mut rebalances = context.rebalances.load(Ordering::Relaxed);
    let mut full_since: Option<Instant> = None;
    let paused_gauge = metrics::gauge!("gosight_processor_paused_partitions");
    paused_gauge.set(0.0);
    while !stop.load(Ordering::Relaxed) {
        while let Some(message) = held.pop_front() {
            let bytes = message.payload.len();
            if handoff.capacity() == 0 || !budget.try_take(bytes) {
                held.push_front(message);
                break;
            }
            // Only this thread hands over, so the room just seen is still there.
            if handoff.try_send(Ok(Consumed::Message(message))).is_err() {
                return;
            }
        }
        let full = !held.is_empty();
        if !full {
            full_since = None;
        } else if paused.is_empty()
            && full_since.get_or_insert_with(Instant::now).elapsed() < PAUSE_AFTER
        {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
        let seen = context.rebalances.load(Ordering::Relaxed);
        let rebalanced = seen != rebalances;
        rebalances = seen;
        if full && (paused.is_empty() || rebalanced) {
            // (Again after a rebalance: newly assigned partitions are not paused yet.)
            match consumer.assignment() {
                Ok(assignment) => match consumer.pause(&assignment) {
                    Ok(()) => {
                        for element in assignment.elements() {
                            let key = (element.topic().to_string(), element.partition());
                            if !paused.contains(&key) {
                                paused.push(key);
                            }
                        }
                        paused_gauge.set(paused.len() as f64);
                        if assignment.count() > 0 {
                            tracing::info!(
                                partitions = paused.len(),
                                "consumption paused: the shard has had no room for {} s; polling goes on",
                                PAUSE_AFTER.as_secs()
                            );
                        }
                    }
                    Err(error) => tracing::warn!(%error, "cannot pause consumption"),
                },
                Err(error) => tracing::warn!(%error, "cannot read the assignment"),
            }
        } else if !full && !paused.is_empty() {
            let mut list = TopicPartitionList::new();
            for (topic, partition) in &paused {
                list.add_partition(topic, *partition);
            }
            match consumer.resume(&list) {
                Ok(()) => {
                    tracing::info!(partitions = paused.len(), "consumption resumed");
                    paused.clear();
                    paused_gauge.set(0.0);
                }
                Err(error) => tracing::warn!(%error, "cannot resume consumption"),
            }
        }
        let polled = consumer.poll(Duration::from_millis(if full { 10 } else { 100 }));
        let revoked =
            std::mem::take(&mut *context.revoked.lock().unwrap_or_else(|p| p.into_inner()));
        if !revoked.is_empty() {
            // Held messages of revoked partitions never reached the shard and are not committed:
            // their partitions' next owner reads them (this shard too, from the committed offset).
            held.retain(|m| {
                !revoked
                    .iter()
                    .any(|(t, p)| *t == m.topic && *p == m.partition)
            });
            // The rebalance callback has resumed them already.
            paused.retain(|key| !revoked.contains(key));
            paused_gauge.set(paused.len() as f64);
        }
        match polled {
            None => {}
            Some(Ok(message)) => held.push_back(BusMessage::from_kafka(&message)),
            Some(Err(error)) => tracing::warn!(%error, "consume failed"),
        }
    }
    paused_gauge.set(0.0);
}

impl Drop for KafkaSource {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Refuse further hand-overs and let go of a revocation still queued, so the reader is
        // not left waiting in a callback; a hand-over already under way is waited for.
        self.handoff.close();
        loop {
            match self.handoff.try_recv() {
                Ok(_) => {}
                Err(mpsc::error::TryRecvError::Empty) => std::thread::yield_now(),
                Err(mpsc::error::TryRecvError::Disconnected) => break,
            }
        }
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

#[async_trait]
impl ShardSource for KafkaSource {
    async fn recv(&mut self) -> Result<Consumed, ProcessorError> {
        let item = self
            .handoff
            .recv()
            .await
            .unwrap_or(Err(ProcessorError::ReaderStopped));
        if let Ok(Consumed::Message(message)) = &item {
            self.budget.give(message.payload.len());
        }
        item
    }

    /// Below the partition's high watermark as read on its first message after assignment; if
    /// it cannot be read, yes.
    fn maybe_seen(&self, topic: &str, partition: i32, offset: i64) -> bool {
        let key = (topic.to_string(), partition);
        let context = self.consumer.context();
        let known = context
            .assigned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .copied()
            .flatten();
        let high = match known {
            Some(high) => high,
            None => match self
                .consumer
                .fetch_watermarks(topic, partition, Duration::from_secs(5))
            {
                Ok((_, high)) => {
                    context
                        .assigned
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(key, Some(high));
                    high
                }
                Err(error) => {
                    tracing::warn!(topic, partition, %error, "cannot read the high watermark");
                    return true;
                }
            },
        };
        offset < high
    }

    fn committer(&self) -> Arc<dyn Committer> {
        Arc::new(KafkaCommitter(self.consumer.clone()))
    }

    fn deadline(&self) -> Option<Instant> {
        *self.deadline.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct KafkaCommitter(Arc<BaseConsumer<ShardContext>>);

#[async_trait]
impl Committer for KafkaCommitter {
    async fn commit(&self, offsets: &HashMap<(String, i32), i64>) -> Result<(), ProcessorError> {
        let mut list = TopicPartitionList::new();
        for ((topic, partition), offset) in offsets {
            list.add_partition_offset(topic, *partition, Offset::Offset(offset + 1))?;
        }
        // A synchronous commit, off the shard's thread so that it keeps applying meanwhile.
        let consumer = self.0.clone();
        let result = tokio::task::spawn_blocking(move || consumer.commit(&list, CommitMode::Sync))
            .await
            .map_err(|error| ProcessorError::Task(error.to_string()))?;
        // A commit refused because the group is rebalancing is not fatal: the rows are stored,
        // and the partition's new owner re-reads from the last commit; its copies fold by event
        // id and its sessions skip what their stored rows already count.
        if let Err(error) = result {
            metrics::counter!("gosight_processor_commit_errors_total").increment(1);
            tracing::warn!(%error, "offset commit refused; the messages will be read again");
        }
        Ok(())
    }
}
