//! The one thread that writes the bus file: it drains the command queue, applies everything it
//! drained in one SQLite transaction (group commit), and answers each command only after that
//! transaction is committed. Offsets are assigned here, so they are gapless and increasing per
//! partition; the next offset of every partition is kept in memory and stored in the same
//! transaction as the records, so it survives a restart even once every record was trimmed.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{Connection, Transaction, params};
use tokio::sync::{Notify, mpsc, oneshot};

use super::{TopicInfo, encode_headers, partition_for};
use crate::backend::bus::{BusRecord, Delivery};
use crate::error::{Error, Result};

/// What the writer is asked to do. Every command carries the channel its answer goes back on.
#[derive(Debug)]
pub(super) enum Command {
    /// Applied with the rest of its batch in one transaction.
    Write(Write),
    /// Deletes what every group has committed; answers how many records went.
    Trim { reply: oneshot::Sender<Result<u64>> },
    /// Stops the writer once the commands before it are done.
    Close { reply: oneshot::Sender<()> },
}

#[derive(Debug)]
pub(super) enum Write {
    Publish {
        record: BusRecord,
        reply: oneshot::Sender<Result<Delivery>>,
    },
    EnsureTopic {
        name: String,
        partitions: i32,
        reply: oneshot::Sender<Result<TopicInfo>>,
    },
    /// Registers `group` on `topics` (creating missing topics) and answers its committed offsets.
    Join {
        group: String,
        topics: Vec<String>,
        reply: oneshot::Sender<Result<Vec<Joined>>>,
    },
    /// `offsets` are `(topic id, partition, next offset to read)`.
    Commit {
        group: String,
        offsets: Vec<(i64, i32, i64)>,
        reply: oneshot::Sender<Result<()>>,
    },
}

impl Write {
    /// Answers a command whose transaction failed.
    fn fail(self, error: &rusqlite::Error) {
        match self {
            Write::Publish { reply, .. } => drop(reply.send(Err(copy_error(error)))),
            Write::EnsureTopic { reply, .. } => drop(reply.send(Err(copy_error(error)))),
            Write::Join { reply, .. } => drop(reply.send(Err(copy_error(error)))),
            Write::Commit { reply, .. } => drop(reply.send(Err(copy_error(error)))),
        }
    }
}

/// A topic a consumer joined, with the group's committed offset per partition.
pub(super) type Joined = (TopicInfo, Vec<Option<i64>>);

/// What the writer shares with publishers and consumers.
#[derive(Debug, Default)]
pub(super) struct Signals {
    /// Woken after every transaction that stored records.
    pub(super) appended: Notify,
    /// Next offset of each `(topic id, partition)`, as committed to the file: consumers skip
    /// partitions they have read to the end without querying them.
    pub(super) high_watermarks: Mutex<HashMap<(i64, i32), i64>>,
}

/// An answer held back until the transaction it depends on is committed. A caller that gave
/// up waiting (timeout, dropped future) no longer needs it, so failed sends are ignored.
enum Done {
    Publish(oneshot::Sender<Result<Delivery>>, Delivery),
    Topic(oneshot::Sender<Result<TopicInfo>>, Result<TopicInfo>),
    Join(oneshot::Sender<Result<Vec<Joined>>>, Vec<Joined>),
    Commit(oneshot::Sender<Result<()>>),
}

impl Done {
    fn send(self) {
        match self {
            Done::Publish(reply, delivery) => drop(reply.send(Ok(delivery))),
            Done::Topic(reply, result) => drop(reply.send(result)),
            Done::Join(reply, joined) => drop(reply.send(Ok(joined))),
            Done::Commit(reply) => drop(reply.send(Ok(()))),
        }
    }

    fn fail(self, error: &rusqlite::Error) {
        match self {
            Done::Publish(reply, _) => drop(reply.send(Err(copy_error(error)))),
            Done::Topic(reply, _) => drop(reply.send(Err(copy_error(error)))),
            Done::Join(reply, _) => drop(reply.send(Err(copy_error(error)))),
            Done::Commit(reply) => drop(reply.send(Err(copy_error(error)))),
        }
    }
}

/// The same error for each caller whose command was in a failed transaction.
fn copy_error(error: &rusqlite::Error) -> Error {
    match error {
        rusqlite::Error::SqliteFailure(code, message) => {
            Error::Sqlite(rusqlite::Error::SqliteFailure(*code, message.clone()))
        }
        other => Error::Invalid(format!("local bus write failed: {other}")),
    }
}

pub(super) struct Writer {
    conn: Connection,
    signals: Arc<Signals>,
    default_partitions: i32,
    max_batch: usize,
    trim_interval: Duration,
    topics: HashMap<String, TopicInfo>,
    next: HashMap<(i64, i32), i64>,
    /// Whether a group committed since the last trim (only commits move the trim floor).
    commits_since_trim: bool,
    last_trim: Instant,
}

impl Writer {
    pub(super) fn new(
        conn: Connection,
        signals: Arc<Signals>,
        default_partitions: i32,
        max_batch: usize,
        trim_interval: Duration,
    ) -> Result<Self> {
        let mut writer = Self {
            conn,
            signals,
            default_partitions,
            max_batch,
            trim_interval,
            topics: HashMap::new(),
            next: HashMap::new(),
            commits_since_trim: true,
            last_trim: Instant::now(),
        };
        writer.reload()?;
        Ok(writer)
    }

    /// Reads topics and next offsets from the file (at start, and after a failed transaction
    /// so that nothing assigned in it is kept).
    fn reload(&mut self) -> Result<()> {
        let mut topics = HashMap::new();
        let mut statement = self
            .conn
            .prepare("SELECT id, name, partitions FROM topics")?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(1)?,
                TopicInfo {
                    id: row.get(0)?,
                    partitions: row.get(2)?,
                },
            ))
        })?;
        for row in rows {
            let (name, info) = row?;
            topics.insert(name, info);
        }
        let mut next = HashMap::new();
        let mut statement = self
            .conn
            .prepare("SELECT topic_id, partition, next_offset FROM partitions")?;
        let rows = statement.query_map([], |row| {
            Ok(((row.get(0)?, row.get(1)?), row.get::<_, i64>(2)?))
        })?;
        for row in rows {
            let (key, offset) = row?;
            next.insert(key, offset);
        }
        drop(statement);
        self.topics = topics;
        *lock(&self.signals.high_watermarks) = next.clone();
        self.next = next;
        Ok(())
    }

    pub(super) fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        while let Some(first) = commands.blocking_recv() {
            let mut batch = vec![first];
            while batch.len() < self.max_batch {
                match commands.try_recv() {
                    Ok(command) => batch.push(command),
                    Err(_) => break,
                }
            }
            let mut close = Vec::new();
            let mut trims = Vec::new();
            let mut work = Vec::with_capacity(batch.len());
            for command in batch {
                match command {
                    Command::Write(write) => work.push(write),
                    Command::Trim { reply } => trims.push(reply),
                    Command::Close { reply } => close.push(reply),
                }
            }
            if !work.is_empty() {
                self.apply(work);
            }
            let due = self.commits_since_trim && self.last_trim.elapsed() >= self.trim_interval;
            if due || !trims.is_empty() {
                let result = self.trim();
                if let Err(error) = &result {
                    tracing::warn!(%error, "local bus trim failed");
                }
                for reply in trims {
                    let _ = reply.send(result.as_ref().map(|n| *n).map_err(copy_error));
                }
            }
            if !close.is_empty() {
                for reply in close {
                    let _ = reply.send(());
                }
                return;
            }
        }
    }

    /// Applies `work` in one transaction and answers every command once it is committed.
    fn apply(&mut self, work: Vec<Write>) {
        let mut touched = HashSet::new();
        let mut done = Vec::with_capacity(work.len());
        let mut work = work.into_iter();
        let result = (|| -> rusqlite::Result<()> {
            let tx = self.conn.transaction()?;
            for command in work.by_ref() {
                done.push(step(
                    &tx,
                    &mut self.topics,
                    &mut self.next,
                    self.default_partitions,
                    &mut touched,
                    command,
                )?);
            }
            let mut update = tx.prepare_cached(
                "UPDATE partitions SET next_offset = ?3 WHERE topic_id = ?1 AND partition = ?2",
            )?;
            for key in &touched {
                update.execute(params![
                    key.0,
                    key.1,
                    self.next.get(key).copied().unwrap_or(0)
                ])?;
            }
            drop(update);
            tx.commit()
        })();
        match result {
            Ok(()) => {
                if done.iter().any(|d| matches!(d, Done::Commit(_))) {
                    self.commits_since_trim = true;
                }
                if !touched.is_empty() {
                    let mut high = lock(&self.signals.high_watermarks);
                    for key in &touched {
                        high.insert(*key, self.next.get(key).copied().unwrap_or(0));
                    }
                    drop(high);
                    self.signals.appended.notify_waiters();
                }
                done.into_iter().for_each(Done::send);
            }
            Err(error) => {
                tracing::error!(%error, "local bus transaction failed");
                done.into_iter().for_each(|d| d.fail(&error));
                // Commands after the failing one were never applied: answer them too.
                work.for_each(|write| write.fail(&error));
                if let Err(error) = self.reload() {
                    tracing::error!(%error, "local bus state reload failed");
                }
            }
        }
    }

    /// Deletes the records that every group registered on their topic has committed. A topic
    /// no group ever joined keeps everything.
    fn trim(&mut self) -> rusqlite::Result<u64> {
        self.last_trim = Instant::now();
        self.commits_since_trim = false;
        let tx = self.conn.transaction()?;
        let floors: Vec<(i64, i32, i64)> = {
            let mut statement = tx.prepare_cached(
                "SELECT p.topic_id, p.partition, MIN(COALESCE(c.next_offset, 0))
                 FROM partitions p
                 JOIN groups g ON g.topic_id = p.topic_id
                 LEFT JOIN commits c
                   ON c.grp = g.grp AND c.topic_id = p.topic_id AND c.partition = p.partition
                 GROUP BY p.topic_id, p.partition",
            )?;
            statement
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
                .collect::<rusqlite::Result<_>>()?
        };
        let mut deleted = 0;
        {
            let mut delete = tx.prepare_cached(
                "DELETE FROM records WHERE topic_id = ?1 AND partition = ?2 AND offset < ?3",
            )?;
            for (topic, partition, floor) in floors {
                deleted += delete.execute(params![topic, partition, floor])? as u64;
            }
        }
        tx.commit()?;
        Ok(deleted)
    }
}

/// Applies one command inside the batch transaction. An `Err` aborts the whole transaction;
/// a refused command (bad argument) is answered with its own error and the rest goes on.
fn step(
    tx: &Transaction<'_>,
    topics: &mut HashMap<String, TopicInfo>,
    next: &mut HashMap<(i64, i32), i64>,
    default_partitions: i32,
    touched: &mut HashSet<(i64, i32)>,
    write: Write,
) -> rusqlite::Result<Done> {
    Ok(match write {
        Write::Publish { record, reply } => {
            let topic = ensure_topic(tx, topics, next, &record.topic, default_partitions)?;
            let partition = partition_for(record.key.as_bytes(), topic.partitions);
            let slot = next.entry((topic.id, partition)).or_insert(0);
            let offset = *slot;
            tx.prepare_cached(
                "INSERT INTO records (topic_id, partition, offset, key, payload, headers)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                topic.id,
                partition,
                offset,
                record.key.as_bytes(),
                record.payload.as_ref(),
                encode_headers(&record.headers),
            ])?;
            *slot += 1;
            touched.insert((topic.id, partition));
            Done::Publish(reply, Delivery { partition, offset })
        }
        Write::EnsureTopic {
            name,
            partitions,
            reply,
        } => {
            if partitions < 1 {
                let refused = Err(Error::Invalid(format!(
                    "topic {name}: partitions must be at least 1, not {partitions}"
                )));
                return Ok(Done::Topic(reply, refused));
            }
            Done::Topic(
                reply,
                Ok(ensure_topic(tx, topics, next, &name, partitions)?),
            )
        }
        Write::Join {
            group,
            topics: names,
            reply,
        } => {
            let mut joined = Vec::with_capacity(names.len());
            for name in names {
                let topic = ensure_topic(tx, topics, next, &name, default_partitions)?;
                tx.prepare_cached("INSERT OR IGNORE INTO groups (grp, topic_id) VALUES (?1, ?2)")?
                    .execute(params![group, topic.id])?;
                let mut committed = vec![None; usize::try_from(topic.partitions).unwrap_or(0)];
                let mut statement = tx.prepare_cached(
                    "SELECT partition, next_offset FROM commits WHERE grp = ?1 AND topic_id = ?2",
                )?;
                let rows = statement.query_map(params![group, topic.id], |row| {
                    Ok((row.get::<_, i32>(0)?, row.get::<_, i64>(1)?))
                })?;
                for row in rows {
                    let (partition, offset) = row?;
                    if let Some(slot) = usize::try_from(partition)
                        .ok()
                        .and_then(|p| committed.get_mut(p))
                    {
                        *slot = Some(offset);
                    }
                }
                joined.push((topic, committed));
            }
            Done::Join(reply, joined)
        }
        Write::Commit {
            group,
            offsets,
            reply,
        } => {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO commits (grp, topic_id, partition, next_offset) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (grp, topic_id, partition) DO UPDATE SET next_offset = excluded.next_offset",
            )?;
            for (topic, partition, offset) in offsets {
                upsert.execute(params![group, topic, partition, offset])?;
            }
            Done::Commit(reply)
        }
    })
}

/// The topic, created with `partitions` partitions if it does not exist yet. An existing
/// topic keeps the partition count it was created with.
fn ensure_topic(
    tx: &Transaction<'_>,
    topics: &mut HashMap<String, TopicInfo>,
    next: &mut HashMap<(i64, i32), i64>,
    name: &str,
    partitions: i32,
) -> rusqlite::Result<TopicInfo> {
    if let Some(info) = topics.get(name) {
        return Ok(*info);
    }
    tx.prepare_cached("INSERT INTO topics (name, partitions) VALUES (?1, ?2)")?
        .execute(params![name, partitions])?;
    let info = TopicInfo {
        id: tx.last_insert_rowid(),
        partitions,
    };
    let mut insert = tx.prepare_cached(
        "INSERT INTO partitions (topic_id, partition, next_offset) VALUES (?1, ?2, 0)",
    )?;
    for partition in 0..partitions {
        insert.execute(params![info.id, partition])?;
        next.insert((info.id, partition), 0);
    }
    topics.insert(name.to_string(), info);
    Ok(info)
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The guarded maps stay consistent even if a holder panicked: every update is one insert.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
