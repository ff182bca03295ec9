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
}
