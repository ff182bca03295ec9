//! [`LocalBus`]: the event bus of standalone mode, durable in one SQLite file.
//!
//! **Topics and partitions.** A topic has a fixed number of partitions, chosen when it is
//! created ([`LocalBus::ensure_topic`], or the configured default on first publish or join) and
//! never changed. A record goes to partition `fnv1a64(key) % partitions`, a hash that does not
//! depend on the process, so one key always lands in one partition, in publish order. Offsets
//! start at 0 and grow by one per record in each partition.
//!
//! **Durability.** One writer thread owns the write connection (WAL mode). Publishes go to it
//! through a bounded queue; it drains up to `max_batch_records` commands and stores them in one
//! transaction (group commit), so thousands of concurrent publishes cost one commit. A publish
//! resolves only after that transaction is committed: with `synchronous = normal` the record
//! survives `kill -9` of the process (it is in the WAL, which the OS writes out), with `full` the
//! WAL is fsynced on every commit and it survives a power cut too. When the queue is full,
//! publish fails at once with [`Error::Overloaded`] (ingest answers 503): nothing grows.
//!
//! **Groups.** A consumer joins a group on some topics; the group's committed offsets are stored
//! in the same file, by the same writer. A consumer starts at the committed offsets (or at the
//! oldest record), and a new consumer of the group after a restart resumes right after the last
//! commit: what was received but not committed is delivered again. One bus has at most one live
//! consumer per group (there is no partition balancing in one process); a second one is refused.
//! Consumers wait on a [`tokio::sync::Notify`] woken after each stored batch, and read up to
//! `consumer_batch` records per query into a small buffer.
//!
//! **Trimming and bounds.** A record may be deleted once every group that joined its topic has
//! committed past it; the writer does this at most every `trim_interval_ms` after a commit
//! (or on [`LocalBus::trim`]). A topic no group ever joined keeps everything, and a group that
//! stops committing holds its topics back, so the file stays bounded as long as every group
//! keeps up. SQLite reuses the freed pages; the WAL is truncated to `journal_size_limit` after
//! checkpoints. Memory is bounded by the queue (`queue_capacity` records), one batch in the
//! writer, and `consumer_batch` records per consumer.

mod writer;

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use rusqlite::{Connection, OpenFlags, params};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use self::writer::{Command, Signals, Write, Writer, lock};
use crate::backend::bus::{BusConsumer, BusMessage, BusRecord, Delivery, EventBus};
use crate::error::{Error, Result};

/// The `bus` section of standalone mode.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocalBusConfig {
    /// The bus file, e.g. `/var/lib/gosight/bus.db`; `<path>.lock` keeps a second process out.
    pub path: PathBuf,
    /// Partitions of topics created on first use, e.g. `12`.
    pub partitions: i32,
    /// `normal` survives a killed process; `full` also survives a power cut, at one fsync per
    /// stored batch.
    pub synchronous: Synchronous,
    /// Publishes waiting for the writer, e.g. `16384`; past it publish fails with 503.
    pub queue_capacity: usize,
    /// Most commands stored in one transaction, e.g. `4096`.
    pub max_batch_records: usize,
    /// Records a consumer reads per query, e.g. `512`.
    pub consumer_batch: usize,
    /// Least time between two trims, in milliseconds, e.g. `1000`.
    pub trim_interval_ms: u64,
}

impl Default for LocalBusConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from("data/bus.db"),
            partitions: 12,
            synchronous: Synchronous::Normal,
            queue_capacity: 16_384,
            max_batch_records: 4096,
            consumer_batch: 512,
            trim_interval_ms: 1000,
        }
    }
}

impl LocalBusConfig {
    /// The defaults, with the bus in `path`.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            ..Self::default()
        }
    }
}

/// SQLite's `synchronous` setting for the bus file.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    Normal,
    Full,
}

/// A topic as stored: its id in the file and its fixed partition count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TopicInfo {
    id: i64,
    partitions: i32,
}

/// [`EventBus`] in one SQLite file. Cheap to clone; the writer stops when the last clone and
/// the last consumer are gone (or on [`LocalBus::close`]).
#[derive(Clone, Debug)]
pub struct LocalBus {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// Bounded: a full queue refuses publishes instead of buffering without limit.
    commands: Option<mpsc::Sender<Command>>,
    signals: Arc<Signals>,
    path: PathBuf,
    consumer_batch: usize,
    /// Groups with a live consumer on this bus.
    members: Mutex<HashSet<String>>,
    writer: Option<JoinHandle<()>>,
    /// Held for the bus's lifetime so that no other process opens the same file.
    _lock: File,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Closing the queue stops the writer; waiting for it means the file is closed (and
        // can be reopened) once the last handle is gone.
        self.commands.take();
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!("local bus writer panicked");
        }
    }
}

impl LocalBus {
    /// Opens (or creates) the bus file and starts its writer thread.
    pub fn open(config: &LocalBusConfig) -> Result<Self> {
        if config.partitions < 1 || config.queue_capacity == 0 || config.max_batch_records == 0 {
            return Err(Error::Invalid(
                "local bus: partitions, queue_capacity and max_batch_records must be positive"
                    .into(),
            ));
        }
        if let Some(dir) = config.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut lock_path = config.path.clone().into_os_string();
        lock_path.push(".lock");
        let lock_file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)?;
        lock_file.try_lock().map_err(|_| {
            Error::Invalid(format!(
                "local bus {} is open in another process",
                config.path.display()
            ))
        })?;

        let conn = Connection::open(&config.path)?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Invalid(format!(
                "local bus {}: journal mode is {mode}, not wal",
                config.path.display()
            )));
        }
        let synchronous = match config.synchronous {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        };
        conn.execute_batch(&format!(
            "PRAGMA synchronous = {synchronous};
             PRAGMA busy_timeout = 5000;
             PRAGMA journal_size_limit = 67108864;
             {SCHEMA}"
        ))?;

        let signals = Arc::new(Signals::default());
        let writer = Writer::new(
            conn,
            Arc::clone(&signals),
            config.partitions,
            config.max_batch_records,
            Duration::from_millis(config.trim_interval_ms),
        )?;
        let (commands, receiver) = mpsc::channel(config.queue_capacity);
        let handle = std::thread::Builder::new()
            .name("local-bus-writer".into())
            .spawn(move || writer.run(receiver))?;
        Ok(Self {
            shared: Arc::new(Shared {
                commands: Some(commands),
                signals,
                path: config.path.clone(),
                consumer_batch: config.consumer_batch.max(1),
                members: Mutex::new(HashSet::new()),
                writer: Some(handle),
                _lock: lock_file,
            }),
        })
    }

    /// Creates `name` with `partitions` partitions unless it exists; answers the partition
    /// count it has (an existing topic keeps its own).
    pub async fn ensure_topic(&self, name: &str, partitions: i32) -> Result<i32> {
        let (reply, answer) = oneshot::channel();
        self.shared
            .send(Command::Write(Write::EnsureTopic {
                name: name.to_string(),
                partitions,
                reply,
            }))
            .await?;
        Ok(receive(answer).await??.partitions)
    }

    /// A consumer in `group` reading `topics` (created with the default partition count if
    /// they do not exist). Refused while another consumer of `group` is alive on this bus.
    pub async fn consumer(&self, group: &str, topics: &[&str]) -> Result<LocalBusConsumer> {
        let mut names: Vec<&str> = Vec::with_capacity(topics.len());
        for topic in topics {
            if !names.contains(topic) {
                names.push(topic);
            }
        }
        if !lock(&self.shared.members).insert(group.to_string()) {
            return Err(Error::Invalid(format!(
                "local bus group {group} already has a consumer"
            )));
        }
        // From here on the member is removed again on drop, also when joining fails.
        let mut consumer = LocalBusConsumer {
            shared: Arc::clone(&self.shared),
            group: group.to_string(),
            topics: HashMap::new(),
            reader: Arc::new(Mutex::new(self.shared.reader()?)),
            state: tokio::sync::Mutex::new(ConsumerState::default()),
        };
        let (reply, answer) = oneshot::channel();
        self.shared
            .send(Command::Write(Write::Join {
                group: group.to_string(),
                topics: names.iter().map(|t| t.to_string()).collect(),
                reply,
            }))
            .await?;
        let state = consumer.state.get_mut();
        for ((info, committed), name) in receive(answer).await??.into_iter().zip(names) {
            let name: Arc<str> = Arc::from(name);
            for (partition, offset) in (0..info.partitions).zip(committed) {
                state.cursors.push(Cursor {
                    topic_id: info.id,
                    topic: Arc::clone(&name),
                    partition,
                    next: offset.unwrap_or(0),
                });
            }
            consumer.topics.insert(name, info);
        }
        Ok(consumer)
    }

    /// Deletes the records every group has committed, now; answers how many went.
    pub async fn trim(&self) -> Result<u64> {
        let (reply, answer) = oneshot::channel();
        self.shared.send(Command::Trim { reply }).await?;
        receive(answer).await?
    }

    /// Records stored in the file, over all topics (trimmed ones are gone).
    pub async fn stored_records(&self) -> Result<u64> {
        let reader = self.shared.reader()?;
        blocking(move || {
            let count: i64 = reader.query_row("SELECT COUNT(*) FROM records", [], |r| r.get(0))?;
            Ok(u64::try_from(count).unwrap_or(0))
        })
        .await
    }

    /// Stops the writer after the commands already queued; later publishes fail with
    /// [`Error::Closed`].
    pub async fn close(&self) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.shared.send(Command::Close { reply }).await?;
        receive(answer).await
    }
}

impl Shared {
    fn sender(&self) -> Result<&mpsc::Sender<Command>> {
        self.commands
            .as_ref()
            .ok_or_else(|| Error::Closed("local bus".into()))
    }

    /// Queues a command, waiting for room (for commands that must not be refused).
    async fn send(&self, command: Command) -> Result<()> {
        self.sender()?
            .send(command)
            .await
            .map_err(|_| Error::Closed("local bus".into()))
    }

    fn reader(&self) -> Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(5))?;
        Ok(conn)
    }
}

#[async_trait]
impl EventBus for LocalBus {
    async fn publish(&self, record: BusRecord) -> Result<Delivery> {
        let (reply, answer) = oneshot::channel();
        self.shared
            .sender()?
            .try_send(Command::Write(Write::Publish { record, reply }))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => {
                    Error::Overloaded("local bus queue is full".into())
                }
                mpsc::error::TrySendError::Closed(_) => Error::Closed("local bus".into()),
            })?;
        receive(answer).await?
    }

    async fn check(&self) -> Result<()> {
        let sender = self.shared.sender()?;
        if sender.is_closed() {
            return Err(Error::Closed("local bus".into()));
        }
        if sender.capacity() == 0 {
            return Err(Error::Overloaded("local bus queue is full".into()));
        }
        Ok(())
    }
}

/// A consumer-group member on a [`LocalBus`]; see the module docs for its guarantees.
pub struct LocalBusConsumer {
    shared: Arc<Shared>,
    group: String,
    topics: HashMap<Arc<str>, TopicInfo>,
    /// Its own connection, so reads never wait for the writer (WAL readers see a snapshot).
    reader: Arc<Mutex<Connection>>,
    state: tokio::sync::Mutex<ConsumerState>,
}

impl std::fmt::Debug for LocalBusConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBusConsumer")
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

impl Drop for LocalBusConsumer {
    fn drop(&mut self) {
        lock(&self.shared.members).remove(&self.group);
    }
}

#[derive(Debug, Default)]
struct ConsumerState {
    cursors: Vec<Cursor>,
    /// Read but not yet returned by `recv`; at most `consumer_batch` records.
    buffer: VecDeque<BusMessage>,
    /// Where the next read starts, so that no partition always goes first.
    rotation: usize,
}

/// The next offset this consumer reads in one partition (not what the group committed).
#[derive(Debug, Clone)]
struct Cursor {
    topic_id: i64,
    topic: Arc<str>,
    partition: i32,
    next: i64,
}

#[async_trait]
impl BusConsumer for LocalBusConsumer {
    async fn recv(&self) -> Result<BusMessage> {
        let mut state = self.state.lock().await;
        loop {
            if let Some(message) = state.buffer.pop_front() {
                return Ok(message);
            }
            // Registered before reading, so a batch stored meanwhile still wakes us.
            let appended = self.shared.signals.appended.notified();
            tokio::pin!(appended);
            appended.as_mut().enable();
            let due = self.cursors_with_records(&mut state);
            if due.is_empty() {
                appended.await;
                continue;
            }
            let per_partition = self.shared.consumer_batch.div_ceil(due.len());
            let reader = Arc::clone(&self.reader);
            // Cancel-safe: the cursors move only once the read is back.
            let read = blocking(move || {
                let conn = reader
                    .lock()
                    .map_err(|_| Error::Invalid("local bus reader poisoned".into()))?;
                read_batch(&conn, &due, per_partition)
            })
            .await?;
            for (index, next, messages) in read {
                if let Some(cursor) = state.cursors.get_mut(index) {
                    cursor.next = next;
                }
                state.buffer.extend(messages);
            }
        }
    }

    async fn commit(&self, processed: &[&BusMessage]) -> Result<()> {
        let mut next: HashMap<(i64, i32), i64> = HashMap::new();
        for message in processed {
            let Some(info) = self.topics.get(message.topic.as_str()) else {
                return Err(Error::Invalid(format!(
                    "commit: topic {} is not read by group {}",
                    message.topic, self.group
                )));
            };
            let slot = next.entry((info.id, message.partition)).or_insert(0);
            *slot = (*slot).max(message.offset + 1);
        }
        if next.is_empty() {
            return Ok(());
        }
        let (reply, answer) = oneshot::channel();
        self.shared
            .send(Command::Write(Write::Commit {
                group: self.group.clone(),
                offsets: next.into_iter().map(|((t, p), o)| (t, p, o)).collect(),
                reply,
            }))
            .await?;
        receive(answer).await?
    }

    async fn committed(&self, topic: &str, partitions: i32) -> Result<Vec<(i32, Option<i64>)>> {
        let reader = Arc::clone(&self.reader);
        let group = self.group.clone();
        let topic = topic.to_string();
        blocking(move || {
            let conn = reader
                .lock()
                .map_err(|_| Error::Invalid("local bus reader poisoned".into()))?;
            let mut statement = conn.prepare_cached(
                "SELECT c.partition, c.next_offset FROM commits c
                 JOIN topics t ON t.id = c.topic_id WHERE c.grp = ?1 AND t.name = ?2",
            )?;
            let stored: HashMap<i32, i64> = statement
                .query_map(params![group, topic], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok((0..partitions)
                .map(|p| (p, stored.get(&p).copied()))
                .collect())
        })
        .await
    }
}

impl LocalBusConsumer {
    /// `(index, cursor)` of the partitions with records past the cursor, rotated for fairness.
    fn cursors_with_records(&self, state: &mut ConsumerState) -> Vec<(usize, Cursor)> {
        let high = lock(&self.shared.signals.high_watermarks);
        let count = state.cursors.len();
        state.rotation = state.rotation.wrapping_add(1);
        (0..count)
            .map(|i| (i + state.rotation) % count)
            .filter_map(|i| {
                let cursor = state.cursors.get(i)?;
                let end = high.get(&(cursor.topic_id, cursor.partition)).copied()?;
                (cursor.next < end).then(|| (i, cursor.clone()))
            })
            .collect()
    }
}

/// Reads up to `limit` records of each cursor's partition from its offset on; answers, per
/// cursor, its new next offset and the records. Trimmed offsets are skipped.
fn read_batch(
    conn: &Connection,
    due: &[(usize, Cursor)],
    limit: usize,
) -> Result<Vec<(usize, i64, Vec<BusMessage>)>> {
    let mut statement = conn.prepare_cached(
        "SELECT offset, key, payload, headers FROM records
         WHERE topic_id = ?1 AND partition = ?2 AND offset >= ?3 ORDER BY offset LIMIT ?4",
    )?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut out = Vec::with_capacity(due.len());
    for (index, cursor) in due {
        let mut messages = Vec::new();
        let mut rows = statement.query(params![
            cursor.topic_id,
            cursor.partition,
            cursor.next,
            limit
        ])?;
        let mut next = cursor.next;
        while let Some(row) = rows.next()? {
            let offset: i64 = row.get(0)?;
            let key: Option<Vec<u8>> = row.get(1)?;
            let payload: Vec<u8> = row.get(2)?;
            let headers: Option<Vec<u8>> = row.get(3)?;
            next = offset + 1;
            messages.push(BusMessage {
                topic: cursor.topic.to_string(),
                partition: cursor.partition,
                offset,
                key: key.map(Bytes::from),
                payload: Bytes::from(payload),
                headers: decode_headers(headers.as_deref().unwrap_or_default())?,
            });
        }
        out.push((*index, next, messages));
    }
    Ok(out)
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS topics (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    partitions INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS partitions (
    topic_id INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic_id, partition)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (
    topic_id INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    key BLOB,
    payload BLOB NOT NULL,
    headers BLOB
);
CREATE UNIQUE INDEX IF NOT EXISTS records_position ON records (topic_id, partition, offset);
CREATE TABLE IF NOT EXISTS groups (
    grp TEXT NOT NULL,
    topic_id INTEGER NOT NULL,
    PRIMARY KEY (grp, topic_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS commits (
    grp TEXT NOT NULL,
    topic_id INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (grp, topic_id, partition)
) WITHOUT ROWID;
";

/// The partition of `key`: FNV-1a (64 bit), which is fixed by its definition, so a key keeps
/// its partition across processes and versions.
pub(crate) fn partition_for(key: &[u8], partitions: i32) -> i32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let partitions = u64::try_from(partitions.max(1)).unwrap_or(1);
    i32::try_from(hash % partitions).unwrap_or(0)
}

/// Headers as `(u32 LE length, bytes)` pairs of key and value; `None` when there are none.
pub(crate) fn encode_headers(headers: &[(String, Vec<u8>)]) -> Option<Vec<u8>> {
    if headers.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for (key, value) in headers {
        for part in [key.as_bytes(), value.as_slice()] {
            out.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_le_bytes());
            out.extend_from_slice(part);
        }
    }
    Some(out)
}

fn decode_headers(mut bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>> {
    fn part<'a>(bytes: &mut &'a [u8]) -> Result<&'a [u8]> {
        let corrupt = || Error::Invalid("local bus: corrupt record headers".into());
        let (len, rest) = bytes.split_first_chunk::<4>().ok_or_else(corrupt)?;
        let len = usize::try_from(u32::from_le_bytes(*len)).map_err(|_| corrupt())?;
        let (value, rest) = rest.split_at_checked(len).ok_or_else(corrupt)?;
        *bytes = rest;
        Ok(value)
    }
    let mut headers = Vec::new();
    while !bytes.is_empty() {
        let key = String::from_utf8(part(&mut bytes)?.to_vec())
            .map_err(|_| Error::Invalid("local bus: header key is not utf-8".into()))?;
        headers.push((key, part(&mut bytes)?.to_vec()));
    }
    Ok(headers)
}

async fn receive<T>(answer: oneshot::Receiver<T>) -> Result<T> {
    answer
        .await
        .map_err(|_| Error::Closed("local bus writer stopped".into()))
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Invalid(format!("local bus read task: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_stable_and_in_range() {
        // Fixed by FNV-1a itself: a change here moves keys between partitions on upgrade.
        assert_eq!(
            partition_for(b"project:s-a", 12),
            partition_for(b"project:s-a", 12)
        );
        assert_eq!(
            partition_for(b"", 7),
            (0xcbf2_9ce4_8422_2325_u64 % 7) as i32
        );
        for key in ["a", "b", "c", "project:session"] {
            assert!((0..5).contains(&partition_for(key.as_bytes(), 5)));
        }
    }

    #[test]
    fn headers_round_trip_and_corruption_is_an_error() {
        let headers = vec![
            ("traceparent".to_string(), b"00-abc-01".to_vec()),
            ("bin".to_string(), vec![0, 255, 1]),
            ("empty".to_string(), vec![]),
        ];
        let encoded = encode_headers(&headers).expect("some headers");
        assert_eq!(decode_headers(&encoded).expect("decodes"), headers);
        assert!(encode_headers(&[]).is_none());
        assert!(decode_headers(&encoded[..encoded.len() - 1]).is_err());
    }
}
