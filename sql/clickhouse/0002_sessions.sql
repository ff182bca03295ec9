-- One row per session, rewritten by the processor's session actor as the session goes on.
-- The newest version of a session wins (ReplacingMergeTree on `version`); read with FINAL.
-- The sorting key holds only what never changes for a session, so rewrites always fold.
CREATE TABLE IF NOT EXISTS sessions
(
    project_id        UUID,
    session_id        UUID,
    version           UInt64,
    user_id           String,
    anonymous_id      String,
    started_at        DateTime64(3, 'UTC'),
    ended_at          DateTime64(3, 'UTC'),
    duration_ms       UInt64,
    is_active         Bool,
    entry_url         String,
    entry_path        String,
    exit_url          String,
    exit_path         String,
    referrer          String,
    page_count        UInt32,
    event_count       UInt32,
    click_count       UInt32,
    error_count       UInt32,
    max_scroll_depth  UInt8,
    has_error         Bool,
    has_rage_click    Bool,
    has_dead_click    Bool,
    is_bounce         Bool,
    has_replay        Bool,
    utm_source        String,
    utm_medium        String,
    utm_campaign      String,
    utm_term          String,
    utm_content       String,
    country_code      LowCardinality(String),
    subdivision       LowCardinality(String),
    city              String,
    browser           LowCardinality(String),
    browser_version   LowCardinality(String),
    os                LowCardinality(String),
    os_version        LowCardinality(String),
    device_type       LowCardinality(String),
    screen_width      UInt32,
    screen_height     UInt32,
    viewport_width    UInt32,
    viewport_height   UInt32,
    language          LowCardinality(String),
    updated_at        DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (project_id, session_id)
TTL toDateTime(started_at) + INTERVAL {{events_ttl_days}} DAY;
