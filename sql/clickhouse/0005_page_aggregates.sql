-- Aggregates kept up to date on insert into `events`.

-- Click heatmap grid: x in 0.5 % columns of the viewport width (so any width maps onto one
-- grid), y in 10 px rows of the document, per path, viewport class and day.
CREATE TABLE IF NOT EXISTS heatmap_clicks
(
    project_id      UUID,
    path            String,
    viewport_bucket LowCardinality(String),
    day             Date,
    grid_x          UInt16,
    grid_y          UInt32,
    clicks          UInt64
)
ENGINE = SummingMergeTree(clicks)
PARTITION BY toYYYYMM(day)
ORDER BY (project_id, path, viewport_bucket, day, grid_x, grid_y)
TTL day + INTERVAL {{events_ttl_days}} DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS heatmap_clicks_mv TO heatmap_clicks AS
SELECT
    project_id,
    path,
    multiIf(viewport_width < 768, 'mobile', viewport_width < 1024, 'tablet', 'desktop') AS viewport_bucket,
    toDate(timestamp) AS day,
    toUInt16(least(199, intDiv(greatest(x, 0) * 200, greatest(viewport_width, 1)))) AS grid_x,
    toUInt32(intDiv(greatest(page_y, 0), 10)) AS grid_y,
    toUInt64(1) AS clicks
FROM events
WHERE event_type = 'click' AND viewport_width > 0;

-- Scroll depth: the deepest point each session reached on each path and day.
CREATE TABLE IF NOT EXISTS scroll_depth
(
    project_id UUID,
    path       String,
    day        Date,
    session_id UUID,
    max_depth  SimpleAggregateFunction(max, UInt8)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (project_id, path, day, session_id)
TTL day + INTERVAL {{events_ttl_days}} DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS scroll_depth_mv TO scroll_depth AS
SELECT project_id, path, toDate(timestamp) AS day, session_id, max(scroll_depth) AS max_depth
FROM events
WHERE event_type = 'scroll'
GROUP BY project_id, path, day, session_id;

-- Time on page: first and last event of each session on each path and day; time on page is
-- last_seen - first_seen. min/max are idempotent, so redelivered events cannot skew it.
CREATE TABLE IF NOT EXISTS page_time
(
    project_id UUID,
    path       String,
    day        Date,
    session_id UUID,
    first_seen SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_seen  SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (project_id, path, day, session_id)
TTL day + INTERVAL {{events_ttl_days}} DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS page_time_mv TO page_time AS
SELECT
    project_id,
    path,
    toDate(timestamp) AS day,
    session_id,
    min(timestamp) AS first_seen,
    max(timestamp) AS last_seen
FROM events
WHERE path != ''
GROUP BY project_id, path, day, session_id;
