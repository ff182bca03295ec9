//! The whole of GoSight's configuration: one YAML file (`--config`, or `gosight.yaml` in the
//! working directory if present) plus environment overrides; see
//! [`gosight_common::config`] for the rules. `gosight config print` shows the effective values
//! with secrets redacted; `docs/config.md` lists every key.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use gosight_alerts::AlertsConfig;
use gosight_api::ApiConfig;
use gosight_common::ConfigError;
use gosight_common::clickhouse::ClickHouseConfig;
use gosight_common::kafka::KafkaConfig;
use gosight_common::postgres::PostgresConfig;
use gosight_common::redis::RedisConfig;
use gosight_common::retention::RetentionConfig;
use gosight_common::telemetry::LogConfig;
use gosight_ingest::IngestConfig;
use gosight_processor::ProcessorConfig;
use serde::{Deserialize, Serialize};

/// Looked for in the working directory when `--config` is not given.
pub const DEFAULT_FILE: &str = "gosight.yaml";

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Logging.
    pub log: LogConfig,
    /// Deployment mode and retention.
    pub retention: RetentionConfig,
    /// The Kafka cluster.
    pub kafka: KafkaConfig,
    /// ClickHouse, for analytics.
    pub clickhouse: ClickHouseConfig,
    /// PostgreSQL, for metadata.
    pub postgres: PostgresConfig,
    /// Redis, for live fan-out and shared rate limits.
    pub redis: RedisConfig,
    /// The ingest service.
    pub ingest: IngestConfig,
    /// The processor shards.
    pub processor: ProcessorConfig,
    /// The API service and dashboard.
    pub api: ApiConfig,
    /// The alerting service.
    pub alerts: AlertsConfig,
}

impl Config {
    /// Loads and validates. `file` None: `gosight.yaml` if it exists, else defaults and env only.
    pub fn load(file: Option<&Path>, env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let default = PathBuf::from(DEFAULT_FILE);
        let file = file.or_else(|| default.exists().then_some(default.as_path()));
        let mut config: Config = gosight_common::config::load(file, env)?;
        if config.processor.shard_id.is_empty() {
            // A StatefulSet pod's name, <set>-<ordinal>, is a stable id per shard.
            config.processor.shard_id = env
                .get("HOSTNAME")
                .filter(|h| {
                    h.rsplit_once('-')
                        .is_some_and(|(_, n)| n.parse::<u32>().is_ok())
                })
                .cloned()
                .unwrap_or_default();
        }
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.log.validate()?;
        self.retention.validate()?;
        self.clickhouse.validate()?;
        self.postgres.validate()?;
        self.redis.validate()?;
        self.ingest.validate()?;
        if self.kafka.brokers.trim().is_empty() {
            return Err(ConfigError::Invalid {
                key: "kafka.brokers".into(),
                reason: "must name at least one broker".into(),
            });
        }
        if self.kafka.partitions < 1 {
            return Err(ConfigError::Invalid {
                key: "kafka.partitions".into(),
                reason: "must be at least 1".into(),
            });
        }
        for (key, value) in [
            ("kafka.retention_ms", self.kafka.retention_ms),
            ("kafka.segment_ms", self.kafka.segment_ms),
        ] {
            if value == Some(0) {
                return Err(ConfigError::Invalid {
                    key: key.into(),
                    reason: "must be more than 0 (leave it unset for the broker's default)".into(),
                });
            }
        }
        // The envelope around a replay chunk or a batch's events: project id, receive time,
        // session, geo and user agent.
        const ENVELOPE_ROOM: usize = 64 * 1024;
        let largest = self
            .ingest
            .max_replay_body_bytes
            .max(self.ingest.max_message_bytes);
        if largest.saturating_add(ENVELOPE_ROOM) > self.kafka.message_max_bytes as usize {
            return Err(ConfigError::Invalid {
                key: "kafka.message_max_bytes".into(),
                reason: format!(
                    "must be at least {} bytes: the larger of ingest.max_replay_body_bytes and \
                     ingest.max_message_bytes ({largest}) plus {ENVELOPE_ROOM} for the envelope",
                    largest + ENVELOPE_ROOM
                ),
            });
        }
        for (key, addr) in [
            ("ingest.http_listen", &self.ingest.http_listen),
            ("ingest.grpc_listen", &self.ingest.grpc_listen),
            ("processor.probe_listen", &self.processor.probe_listen),
            ("api.listen", &self.api.listen),
            ("alerts.probe_listen", &self.alerts.probe_listen),
        ] {
            addr.parse::<std::net::SocketAddr>()
                .map_err(|e| ConfigError::Invalid {
                    key: key.into(),
                    reason: format!("`{addr}` is not a socket address like 127.0.0.1:8081: {e}"),
                })?;
        }
        Ok(())
    }

    /// YAML of the effective config, secrets redacted.
    pub fn to_redacted_yaml(&self) -> Result<String, serde_yaml::Error> {
        serde_yaml::to_string(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_valid() {
        let config = Config::load(None, &HashMap::new()).unwrap();
        assert_eq!(config.kafka.brokers, "127.0.0.1:9092");
        assert_eq!(config.retention.replay_days(), Some(90));
    }

    #[test]
    fn yaml_then_conventional_then_prefixed_env() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("g.yaml");
        std::fs::write(
            &file,
            "kafka:\n  brokers: from-yaml:9092\n  linger_ms: 7\nclickhouse:\n  database: yaml_db\n",
        )
        .unwrap();
        let config = Config::load(
            Some(&file),
            &env(&[
                ("KAFKA_BROKERS", "conventional:9092"),
                ("GOSIGHT_KAFKA__LINGER_MS", "9"),
                ("DATABASE_URL", "postgres://u:pw@db:5432/x"),
                ("UNRELATED", "ignored"),
            ]),
        )
        .unwrap();
        assert_eq!(config.kafka.brokers, "conventional:9092");
        assert_eq!(config.kafka.linger_ms, 9);
        assert_eq!(config.clickhouse.database, "yaml_db");
        assert_eq!(config.postgres.url, "postgres://u:pw@db:5432/x");

        let config = Config::load(
            Some(&file),
            &env(&[
                ("GOSIGHT_KAFKA__BROKERS", "prefixed:9092"),
                ("KAFKA_BROKERS", "c:1"),
            ]),
        )
        .unwrap();
        assert_eq!(config.kafka.brokers, "prefixed:9092");
    }

    #[test]
    fn errors_name_the_key_and_reason() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("g.yaml");
        std::fs::write(&file, "kafka:\n  brokerz: x\n").unwrap();
        let err = Config::load(Some(&file), &HashMap::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("kafka") && err.contains("brokerz"), "{err}");

        let err = Config::load(None, &env(&[("GOSIGHT_KAFKA__LINGER_MS", "soon")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("kafka.linger_ms"), "{err}");

        let err = Config::load(None, &env(&[("DATABASE_URL", "mysql://x")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("postgres.url") && err.contains("scheme"),
            "{err}"
        );

        let err = Config::load(None, &env(&[("GOSIGHT_API__LISTEN", "nowhere")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("api.listen"), "{err}");

        // A replay limit the bus could not carry is refused at start, not answered with 503s.
        let err = Config::load(
            None,
            &env(&[("GOSIGHT_KAFKA__MESSAGE_MAX_BYTES", "1000000")]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("kafka.message_max_bytes") && err.contains("max_replay_body_bytes"),
            "{err}"
        );

        // A retention of 0 would let the broker delete events before the processor reads them.
        let err = Config::load(None, &env(&[("GOSIGHT_KAFKA__RETENTION_MS", "0")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("kafka.retention_ms"), "{err}");
        let config = Config::load(None, &env(&[("GOSIGHT_KAFKA__RETENTION_MS", "86400000")]));
        assert_eq!(config.unwrap().kafka.retention_ms, Some(86_400_000));

        let err = Config::load(None, &env(&[("GOSIGHT_NOPE", "1")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope"), "{err}");

        let err = Config::load(Some(Path::new("/nonexistent/g.yaml")), &HashMap::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/g.yaml"), "{err}");
    }

    #[test]
    fn shard_id_from_env_or_pod_name() {
        let config = Config::load(None, &env(&[("GOSIGHT_SHARD_ID", "shard-a")])).unwrap();
        assert_eq!(config.processor.shard_id, "shard-a");
        let config = Config::load(None, &env(&[("HOSTNAME", "gosight-processor-2")])).unwrap();
        assert_eq!(config.processor.shard_id, "gosight-processor-2");
        let config = Config::load(None, &env(&[("HOSTNAME", "laptop")])).unwrap();
        assert_eq!(config.processor.shard_id, "");
    }

    #[test]
    fn print_redacts_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("g.yaml");
        std::fs::write(&file, "kafka:\n  librdkafka:\n    sasl.password: kpw\n").unwrap();
        let config = Config::load(
            Some(&file),
            &env(&[
                ("DATABASE_URL", "postgres://u:hunter2@db:5432/x"),
                ("GOSIGHT_CLICKHOUSE__PASSWORD", "chpass"),
                ("GOSIGHT_API__JWT_SECRET", "jwtsecret"),
                ("REDIS_URL", "redis://:redispw@r:6379"),
            ]),
        )
        .unwrap();
        let yaml = config.to_redacted_yaml().unwrap();
        for secret in ["hunter2", "chpass", "jwtsecret", "redispw", "kpw"] {
            assert!(!yaml.contains(secret), "{secret} leaked:\n{yaml}");
        }
        assert!(yaml.contains("<redacted>"));
        assert!(!format!("{config:?}").contains("jwtsecret"));
    }
}
