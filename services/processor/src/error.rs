//! The processor's error type.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ProcessorError {
    #[error(transparent)]
    Common(#[from] gosight_common::Error),
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("clickhouse: {0}")]
    ClickHouse(#[from] clickhouse::error::Error),
    #[error("actor mailbox closed: {0}")]
    Mailbox(#[from] actix::MailboxError),
    /// Shutdown began while work was waiting (e.g. for ClickHouse); nothing was committed.
    #[error("stopped")]
    Stopped,
    /// A task of the shard's (storing a round, committing) panicked or was cancelled.
    #[error("a shard task failed: {0}")]
    Task(String),
    /// The thread reading the consumer ended without being asked to.
    #[error("the consumer's reader thread stopped")]
    ReaderStopped,
    /// A rebalance could not wait for the round being stored (`max.poll.interval.ms`): the
    /// shard stops rather than write after the partitions' new owner started.
    #[error("storing the round in flight outlasted the rebalance")]
    RebalanceTimeout,
}
