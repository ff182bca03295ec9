-- UX insights (rage, dead, error clicks, thrashed cursor, excessive scrolling, quick back).
-- insight_id is derived from the session and the evidence, so a redelivered insight folds.
CREATE TABLE IF NOT EXISTS insights
(
    project_id        UUID,
    session_id        UUID,
    insight_id        UUID,
    insight_type      LowCardinality(String),
    timestamp         DateTime64(3, 'UTC'),
    url               String,
    path              String,
    x                 Int32,
    y                 Int32,
    selector          String,
    details           String,
    related_event_ids Array(UUID),
    country_code      LowCardinality(String),
    browser           LowCardinality(String),
    device_type       LowCardinality(String),
    inserted_at       DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(inserted_at)
PARTITION BY toYYYYMM(timestamp)
ORDER BY (project_id, insight_type, toDate(timestamp), session_id, insight_id)
TTL toDateTime(timestamp) + INTERVAL {{events_ttl_days}} DAY;
