-- Minutely companions of the hourly overview aggregates (0007). The overview reads the whole
-- hours of a range from the hourly tables, the whole minutes of its partial edge hours from
-- these, and only the partial minutes at its two ends (none for minute-aligned bounds, such as
-- the default range and the dashboard's) from `events`, whose day-wide sort order makes short
-- time slices expensive to read.
--
-- Rollups filled on insert count what is inserted, so they rely on the processor never writing
-- an event twice: it skips envelopes its stored session rows already counted, and after taking
-- over a partition it looks up which of the earlier owner's events are already stored (a crash
-- between a round's events insert and its sessions insert leaves such events).

CREATE TABLE IF NOT EXISTS page_views_minutely
(
    project_id UUID,
    minute     DateTime('UTC'),
    path       String,
    views      UInt64
)
ENGINE = SummingMergeTree(views)
PARTITION BY toYYYYMM(minute)
ORDER BY (project_id, minute, path)
TTL minute + INTERVAL {{events_ttl_days}} DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS page_views_minutely_mv TO page_views_minutely AS
SELECT project_id, toStartOfMinute(timestamp) AS minute, path, count() AS views
FROM events
WHERE event_type = 'page_view'
GROUP BY project_id, minute, path;

CREATE TABLE IF NOT EXISTS web_vitals_minutely
(
    project_id  UUID,
    minute      DateTime('UTC'),
    metric_name LowCardinality(String),
    samples     SimpleAggregateFunction(sum, UInt64),
    value       AggregateFunction(quantile(0.75), Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (project_id, minute, metric_name)
TTL minute + INTERVAL {{events_ttl_days}} DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS web_vitals_minutely_mv TO web_vitals_minutely AS
SELECT project_id, toStartOfMinute(timestamp) AS minute, metric_name,
       count() AS samples, quantileState(0.75)(metric_value) AS value
FROM events
WHERE event_type = 'web_vitals' AND metric_name != ''
GROUP BY project_id, minute, metric_name;

-- Events stored before the views existed (an upgrade): added once, up to the views' creation.
INSERT INTO page_views_minutely
SELECT project_id, toStartOfMinute(timestamp) AS minute, path, count() AS views
FROM events
WHERE event_type = 'page_view'
  AND inserted_at < (SELECT min(metadata_modification_time) FROM system.tables
                     WHERE database = currentDatabase() AND name = 'page_views_minutely_mv')
GROUP BY project_id, minute, path;

INSERT INTO web_vitals_minutely
SELECT project_id, toStartOfMinute(timestamp) AS minute, metric_name,
       count() AS samples, quantileState(0.75)(metric_value) AS value
FROM events
WHERE event_type = 'web_vitals' AND metric_name != ''
  AND inserted_at < (SELECT min(metadata_modification_time) FROM system.tables
                     WHERE database = currentDatabase() AND name = 'web_vitals_minutely_mv')
GROUP BY project_id, minute, metric_name;
