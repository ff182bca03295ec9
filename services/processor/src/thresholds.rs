//! Per-project insight thresholds: the `insights` object of the project's settings in the
//! metadata store, over the processor's configured defaults, cached per project for `TTL`.
//!
//! A project's settings name only what they change, e.g. `{"insights": {"rage_min_clicks": 4}}`.
//! Settings that do not parse are logged and the defaults used; an unreachable database keeps
//! the last known thresholds (or the defaults), and is asked again only after `RETRY`, so that
//! new sessions do not each wait for it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gosight_common::backend::MetadataStore;
use uuid::Uuid;

use crate::detect::Thresholds;

const TTL: Duration = Duration::from_secs(60);
const RETRY: Duration = Duration::from_secs(5);

pub struct ProjectThresholds {
    defaults: Arc<Thresholds>,
    /// Where project settings are read; `None`: the defaults for every project.
    metadata: Option<Arc<dyn MetadataStore>>,
    /// Each project's thresholds and until when they hold.
    cache: HashMap<Uuid, (Arc<Thresholds>, Instant)>,
}

impl std::fmt::Debug for ProjectThresholds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectThresholds")
            .field("projects", &self.cache.len())
            .finish_non_exhaustive()
    }
}

/// `overrides` (a JSON object) applied over `defaults`.
pub fn merge(defaults: &Thresholds, overrides: &serde_json::Value) -> Result<Thresholds, String> {
    let mut base = serde_json::to_value(defaults).map_err(|e| e.to_string())?;
    let (Some(base_map), Some(over)) = (base.as_object_mut(), overrides.as_object()) else {
        return Err("insight settings must be a JSON object".into());
    };
    for (key, value) in over {
        base_map.insert(key.clone(), value.clone());
    }
    serde_json::from_value(base).map_err(|e| e.to_string())
}

impl ProjectThresholds {
    pub fn new(defaults: Thresholds, metadata: Option<Arc<dyn MetadataStore>>) -> Self {
        Self {
            defaults: Arc::new(defaults),
            metadata,
            cache: HashMap::new(),
        }
    }

    pub async fn get(&mut self, project: Uuid) -> Arc<Thresholds> {
        if let Some((thresholds, until)) = self.cache.get(&project)
            && Instant::now() < *until
        {
            return thresholds.clone();
        }
        let Some(metadata) = &self.metadata else {
            return self.defaults.clone();
        };
        let loaded = metadata.find_project(project).await.map(|found| {
            found.and_then(|p| match p.settings {
                serde_json::Value::Object(mut settings) => settings.remove("insights"),
                _ => None,
            })
        });
        let thresholds = match loaded {
            Ok(None) => self.defaults.clone(),
            Ok(Some(overrides)) => match merge(&self.defaults, &overrides) {
                Ok(merged) => Arc::new(merged),
                Err(error) => {
                    tracing::warn!(%project, %error, "invalid insight settings; using defaults");
                    self.defaults.clone()
                }
            },
            Err(error) => {
                tracing::warn!(%project, %error, "cannot read project settings");
                let known = self
                    .cache
                    .get(&project)
                    .map(|(t, _)| t.clone())
                    .unwrap_or_else(|| self.defaults.clone());
                self.cache
                    .insert(project, (known.clone(), Instant::now() + RETRY));
                return known;
            }
        };
        self.cache
            .insert(project, (thresholds.clone(), Instant::now() + TTL));
        thresholds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_change_only_what_they_name() {
        let merged = merge(
            &Thresholds::default(),
            &serde_json::json!({"rage_min_clicks": 3}),
        )
        .unwrap();
        assert_eq!(merged.rage_min_clicks, 3);
        assert_eq!(merged.rage_window_ms, Thresholds::default().rage_window_ms);
        assert!(
            merge(
                &Thresholds::default(),
                &serde_json::json!({"rage_clicks": 3})
            )
            .is_err()
        );
        assert!(merge(&Thresholds::default(), &serde_json::json!(5)).is_err());
    }
}
