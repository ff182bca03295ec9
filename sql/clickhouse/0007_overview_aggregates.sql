-- Hourly aggregates the overview reads instead of scanning events: page views per path, and
-- web-vital samples per metric. Filled on insert into `events`, like the heatmap tables: the
-- processor skips envelopes its stored session rows already counted, so redelivered copies do
-- not reach the views (only a crash between a round's events insert and its sessions insert
-- can count that round twice here). The overview reads whole hours of a range from here and
-- the partial hours at its edges from `events`.

CREATE TABLE IF NOT EXISTS page_views_hourly
(
    project_id UUID,
    hour       DateTime('UTC'),
    path       String,
    views      UInt64
)
ENGINE = SummingMergeTree(views)
PARTITION BY toYYYYMM(hour)
ORDER BY (project_id, hour, path)
TTL hour + INTERVAL {{events_ttl_days}} DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS page_views_hourly_mv TO page_views_hourly AS
SELECT project_id, toStartOfHour(timestamp) AS hour, path, count() AS views
FROM events
WHERE event_type = 'page_view'
GROUP BY project_id, hour, path;

CREATE TABLE IF NOT EXISTS web_vitals_hourly
(
    project_id  UUID,
    hour        DateTime('UTC'),
    metric_name LowCardinality(String),
    samples     SimpleAggregateFunction(sum, UInt64),
    value       AggregateFunction(quantile(0.75), Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (project_id, hour, metric_name)
TTL hour + INTERVAL {{events_ttl_days}} DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS web_vitals_hourly_mv TO web_vitals_hourly AS
SELECT project_id, toStartOfHour(timestamp) AS hour, metric_name,
       count() AS samples, quantileState(0.75)(metric_value) AS value
FROM events
WHERE event_type = 'web_vitals' AND metric_name != ''
GROUP BY project_id, hour, metric_name;

-- Events stored before the views existed (an upgrade): added once, up to the views' creation.
INSERT INTO page_views_hourly
SELECT project_id, toStartOfHour(timestamp) AS hour, path, count() AS views
FROM events
WHERE event_type = 'page_view'
  AND inserted_at < (SELECT min(metadata_modification_time) FROM system.tables
                     WHERE database = currentDatabase() AND name = 'page_views_hourly_mv')
GROUP BY project_id, hour, path;

INSERT INTO web_vitals_hourly
SELECT project_id, toStartOfHour(timestamp) AS hour, metric_name,
       count() AS samples, quantileState(0.75)(metric_value) AS value
FROM events
WHERE event_type = 'web_vitals' AND metric_name != ''
  AND inserted_at < (SELECT min(metadata_modification_time) FROM system.tables
                     WHERE database = currentDatabase() AND name = 'web_vitals_hourly_mv')
GROUP BY project_id, hour, metric_name;
