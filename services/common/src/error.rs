//! The error type of `gosight-common`.

use thiserror::Error;

/// A configuration problem. Every variant names the key (or file) and the reason.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("config file {0} does not exist")]
    MissingFile(String),
    #[error("invalid config key `{key}`: {reason}")]
    Invalid { key: String, reason: String },
}

impl ConfigError {
    pub(crate) fn from_figment(error: figment::Error) -> Self {
        let key = if error.path.is_empty() {
            "<root>".to_string()
        } else {
            error.path.join(".")
        };
        let source = error
            .metadata
            .as_ref()
            .map(|m| match &m.source {
                Some(source) => format!(" (from {} {source})", m.name),
                None => format!(" (from {})", m.name),
            })
            .unwrap_or_default();
        Self::Invalid {
            key,
            reason: format!("{}{source}", error.kind),
        }
    }
}

#[derive(Debug, Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("clickhouse: {0}")]
    ClickHouse(#[from] clickhouse::error::Error),
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("postgres pool: {0}")]
    PostgresPool(String),
    #[error("redis: {0}")]
    Redis(#[from] fred::error::Error),
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A uniqueness rule of the store: the named field (`email`, `slug`, `key`) is taken.
    #[error("`{0}` is already taken")]
    Conflict(&'static str),
    /// A blocking task running a store's statements failed (panicked or was cancelled).
    #[error("storage task: {0}")]
    Task(String),
    /// A migration file failed; nothing was recorded for it.
    #[error("migration {file} failed: {message}")]
    Migration { file: String, message: String },
    /// A bounded queue is full: the caller should answer 503 and let the client retry.
    #[error("overloaded: {0}")]
    Overloaded(String),
    /// The component was shut down; nothing more is accepted.
    #[error("closed: {0}")]
    Closed(String),
    #[error("{0}")]
    Invalid(String),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// Whether trying again later may succeed (the engine was unreachable or overloaded).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Kafka(_)
            | Error::PostgresPool(_)
            | Error::Redis(_)
            | Error::Io(_)
            | Error::Overloaded(_) => true,
            Error::ClickHouse(e) => matches!(
                e,
                clickhouse::error::Error::Network(_) | clickhouse::error::Error::TimedOut
            ),
            Error::Postgres(e) => e.is_closed(),
            Error::Sqlite(e) => matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            Error::Task(_) => true,
            Error::Config(_)
            | Error::Migration { .. }
            | Error::Invalid(_)
            | Error::Conflict(_)
            | Error::Closed(_) => false,
        }
    }
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        match error {
            deadpool_postgres::PoolError::Backend(e) => Error::Postgres(e),
            other => Error::PostgresPool(other.to_string()),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
