//! Typed configuration: one YAML file plus environment overrides.
//!
//! Precedence, lowest first: built-in defaults (they work on a laptop with the engines that
//! `scripts/services.sh` starts), the YAML file, the conventional variables `KAFKA_BROKERS`,
//! `CLICKHOUSE_URL`, `DATABASE_URL` and `REDIS_URL`, then `GOSIGHT_<SECTION>__<FIELD>` variables
//! (`__` separates nesting levels, e.g. `GOSIGHT_KAFKA__LINGER_MS=10`).
//!
//! The environment is passed in as a map rather than read here, so tests can load configs in
//! parallel. Unknown keys are errors, and every error names the key and the reason.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use figment::providers::{Format, Serialized, Yaml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize, Serializer};

use crate::error::ConfigError;

/// Prefix of the environment variables that override config keys.
pub const ENV_PREFIX: &str = "GOSIGHT_";

/// Conventional variables and the config key each one sets (`GOSIGHT_SHARD_ID` is the
/// processor's documented shorthand).
pub const CONVENTIONAL_ENV: &[(&str, &str)] = &[
    ("KAFKA_BROKERS", "kafka.brokers"),
    ("CLICKHOUSE_URL", "clickhouse.url"),
    ("DATABASE_URL", "postgres.url"),
    ("REDIS_URL", "redis.url"),
    ("GOSIGHT_SHARD_ID", "processor.shard_id"),
];

/// Loads a config of type `T` from defaults, an optional YAML file and the environment map.
pub fn load<T>(file: Option<&Path>, env: &HashMap<String, String>) -> Result<T, ConfigError>
where
    T: DeserializeOwned + Serialize + Default,
{
    let mut figment = Figment::from(Serialized::defaults(T::default()));
    if let Some(path) = file {
        if !path.exists() {
            return Err(ConfigError::MissingFile(path.display().to_string()));
        }
        figment = figment.merge(Yaml::file_exact(path));
    }
    figment = figment.merge(EnvOverrides(env_overrides(env)?));
    figment.extract::<T>().map_err(ConfigError::from_figment)
}

/// The environment's overrides as a figment provider, so errors say "from environment".
struct EnvOverrides(Dict);

impl Provider for EnvOverrides {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment")
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.0.clone()))
    }
}

/// Turns the conventional and `GOSIGHT_` variables of `env` into a nested dictionary.
fn env_overrides(env: &HashMap<String, String>) -> Result<Dict, ConfigError> {
    let mut dict = Dict::new();
    for (var, key) in CONVENTIONAL_ENV {
        if let Some(value) = env.get(*var) {
            insert_path(&mut dict, key, Value::from(value.clone()), var)?;
        }
    }
    // Sorted, so that a conflict is reported the same way on every run.
    let sorted: BTreeMap<_, _> = env.iter().collect();
    for (var, raw) in sorted {
        let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        if CONVENTIONAL_ENV.iter().any(|(name, _)| name == var) {
            continue;
        }
        let key = rest.to_ascii_lowercase().replace("__", ".");
        if key.is_empty() || key.split('.').any(str::is_empty) {
            return Err(ConfigError::Invalid {
                key: var.clone(),
                reason: "not a config key: use GOSIGHT_<SECTION>__<FIELD>".into(),
            });
        }
        insert_path(&mut dict, &key, parse_env_value(raw), var)?;
    }
    Ok(dict)
}

/// Environment values are typed leniently: `true`, `42` and `1.5` become booleans and numbers,
/// `[a, b]` a list; anything else stays a string.
fn parse_env_value(raw: &str) -> Value {
    match raw.parse::<Value>() {
        Ok(value) => value,
        Err(never) => match never {},
    }
}

fn insert_path(dict: &mut Dict, key: &str, value: Value, var: &str) -> Result<(), ConfigError> {
    let mut parts = key.split('.').peekable();
    let mut current = dict;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            current.insert(part.to_string(), value);
            return Ok(());
        }
        let entry = current
            .entry(part.to_string())
            .or_insert_with(|| Value::from(Dict::new()));
        current = match entry {
            Value::Dict(_, inner) => inner,
            _ => {
                return Err(ConfigError::Invalid {
                    key: var.to_string(),
                    reason: format!("`{part}` is set both as a value and as a section"),
                });
            }
        };
    }
    Ok(())
}

/// A secret (password, token, signing key). Its `Debug` and `Serialize` never show the value, so
/// it cannot leak into logs or `gosight config print`.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call only where it is handed to the thing that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "\"\""
        } else {
            "\"<redacted>\""
        })
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(if self.0.is_empty() { "" } else { "<redacted>" })
    }
}

/// Serializes a URL with its password replaced, for fields such as `postgres.url`.
pub fn serialize_redacted_url<S: Serializer>(url: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&redact_url(url))
}

/// `postgres://user:pw@host/db` becomes `postgres://user:<redacted>@host/db`.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Only fails for URLs that cannot have a password, which this one has.
            let _ = parsed.set_password(Some("REDACTED"));
            parsed.to_string().replacen(":REDACTED@", ":<redacted>@", 1)
        }
        Ok(_) => raw.to_string(),
        // Not a URL we can parse: show nothing of it rather than risk a password.
        Err(_) => "<unparseable url redacted>".to_string(),
    }
}

/// Checks that `value` parses as a URL with one of `schemes`.
pub fn validate_url(key: &str, value: &str, schemes: &[&str]) -> Result<(), ConfigError> {
    let parsed = url::Url::parse(value).map_err(|e| ConfigError::Invalid {
        key: key.to_string(),
        reason: format!("not a URL: {e}"),
    })?;
    if !schemes.contains(&parsed.scheme()) {
        return Err(ConfigError::Invalid {
            key: key.to_string(),
            reason: format!(
                "scheme must be one of {schemes:?}, got `{}`",
                parsed.scheme()
            ),
        });
    }
    Ok(())
}
