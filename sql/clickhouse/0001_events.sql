-- Every accepted event, one row each.
--
-- Redelivery: the processor may insert an event again after a crash (at-least-once). Copies share
-- every column of the sorting key (they come from the same event_id), so ReplacingMergeTree folds
-- them on merge; queries that must be exact before a merge use FINAL or LIMIT 1 BY event_id.
-- The processor also drops copies it has already seen and inserts with a deduplication token,
-- so the materialized views below normally see each event once.
CREATE TABLE IF NOT EXISTS events
(
    project_id        UUID,
    session_id        UUID,
    event_id          UUID,
    event_type        LowCardinality(String),
    timestamp         DateTime64(3, 'UTC'),
    received_at       DateTime64(3, 'UTC'),
    sequence          UInt64,
    user_id           String,
    anonymous_id      String,
    url               String,
    path              String,
    title             String,
    referrer          String,
    -- click, scroll and pointer positions (CSS pixels; wide enough for long documents)
    x                 Int32,
    y                 Int32,
    page_x            Int32,
    page_y            Int32,
    viewport_width    UInt32,
    viewport_height   UInt32,
    document_height   UInt32,
    scroll_depth      UInt8,
    target_tag        LowCardinality(String),
    target_selector   String,
    target_text       String,
    -- errors, network and console
    error_message     String,
    error_type        LowCardinality(String),
    error_stack       String,
    error_fingerprint UInt64,
    http_status       UInt16,
    -- web vitals and custom events
    metric_name       LowCardinality(String),
    metric_value      Float64,
    custom_name       String,
    -- the whole event as proto JSON, for the session timeline
    payload           String CODEC(ZSTD(3)),
    -- enrichment
    country_code      LowCardinality(String),
    subdivision       LowCardinality(String),
    city              String,
    browser           LowCardinality(String),
    browser_version   LowCardinality(String),
    os                LowCardinality(String),
    os_version        LowCardinality(String),
    device_type       LowCardinality(String),
    is_bot            Bool,
    inserted_at       DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(inserted_at)
PARTITION BY toYYYYMM(timestamp)
ORDER BY (project_id, toDate(timestamp), session_id, timestamp, event_id)
TTL toDateTime(timestamp) + INTERVAL {{events_ttl_days}} DAY
SETTINGS non_replicated_deduplication_window = 1000;
