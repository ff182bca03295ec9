//! [`AnalyticsStore`] on an embedded SQLite file, for standalone mode.
//!
//! The tables mirror ClickHouse's (`sql/sqlite/analytics`), keyed so a redelivered row is read
//! once: events and insights by id (first copy kept), session rows by session (highest version
//! kept), replay chunks by session and index. There are no rollups: aggregates are computed at
//! query time, which is fast enough for the sites standalone mode is for; percentiles are
//! computed the way ClickHouse's `quantile` does (see [`p75`]).

use std::collections::BTreeMap;
use std::path::Path;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use rusqlite::types::Value;
use rusqlite::{Connection, Row, params, params_from_iter};
use uuid::Uuid;

mod rows;

use super::model::*;
use super::{AnalyticsStore, EventKey, EventRow, InsightRow, ReplayChunkRow, SessionRow};
use crate::backend::sqlite_db::{Durability, SqliteDb};
use crate::error::{Error, Result};
use rows::*;

/// Replay chunks read per round trip while streaming.
const REPLAY_PAGE: i64 = 8;
const DAY_MS: i64 = 86_400_000;

/// [`AnalyticsStore`] on SQLite.
#[derive(Clone, Debug)]
pub struct SqliteAnalytics {
    db: SqliteDb,
}

/// The session-row counters; `bucket` is the bucket expression over `started_at`.
fn counters_sql(bucket: &str, group: &str) -> String {
    format!(
        "SELECT {bucket} AS bucket_ms, count(*),
                count(DISTINCT CASE WHEN user_id != '' THEN user_id ELSE anonymous_id END),
                coalesce(sum(is_bounce), 0), coalesce(avg(duration_ms), 0.0),
                coalesce(sum(has_rage_click), 0), coalesce(sum(has_dead_click), 0),
                coalesce(sum(has_error), 0), coalesce(sum(page_count), 0),
                coalesce(sum(error_count), 0)
         FROM sessions WHERE project_id = ?1 AND started_at >= ?2 AND started_at < ?3{group}"
    )
}

/// Up to five distinct ids from a `group_concat`, sorted.
fn examples(concatenated: Option<String>) -> Vec<String> {
    let mut ids: Vec<String> = concatenated
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    ids.sort();
    ids.dedup();
    ids.truncate(5);
    ids
}

fn collect<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map(params, map)?;
    Ok(rows.collect::<rusqlite::Result<Vec<T>>>()?)
}

fn overview(conn: &Connection, project: &str, range: TimeRange) -> Result<OverviewData> {
    let bucket_seconds = range.bucket_seconds();
    let width = i64::from(bucket_seconds) * 1000;
    let (from, to) = (range.from_ms, range.to_ms);
    let totals = collect(
        conn,
        &counters_sql("0", ""),
        params![project, from, to],
        counters_from,
    )?
    .pop()
    .unwrap_or_default();
    let series = collect(
        conn,
        &counters_sql(
            &format!("(started_at / {width}) * {width}"),
            " GROUP BY bucket_ms ORDER BY bucket_ms",
        ),
        params![project, from, to],
        counters_from,
    )?;
    let frustration = collect(
        conn,
        &format!(
            "SELECT (timestamp / {width}) * {width} AS bucket_ms,
                    sum(insight_type = 'rage_click'), sum(insight_type = 'dead_click')
             FROM insights WHERE project_id = ?1 AND timestamp >= ?2 AND timestamp < ?3
             GROUP BY bucket_ms ORDER BY bucket_ms"
        ),
        params![project, from, to],
        |row| {
            Ok(Frustration {
                bucket_ms: row.get(0)?,
                rage_clicks: row.get::<_, i64>(1)? as u64,
                dead_clicks: row.get::<_, i64>(2)? as u64,
            })
        },
    )?;
    let top = |column: &str| {
        collect(
            conn,
            &format!(
                "SELECT {column} AS key, count(*) AS n FROM sessions
                 WHERE project_id = ?1 AND started_at >= ?2 AND started_at < ?3
                 GROUP BY key ORDER BY n DESC, key LIMIT 10"
            ),
            params![project, from, to],
            count_from,
        )
    };
    let top_pages = collect(
        conn,
        "SELECT path AS key, count(*) AS n FROM events
         WHERE project_id = ?1 AND event_type = 'page_view' AND timestamp >= ?2 AND timestamp < ?3
         GROUP BY key ORDER BY n DESC, key LIMIT 10",
        params![project, from, to],
        count_from,
    )?;
    let samples = collect(
        conn,
        "SELECT timestamp, metric_name, metric_value FROM events
         WHERE project_id = ?1 AND event_type = 'web_vitals' AND metric_name != ''
           AND timestamp >= ?2 AND timestamp < ?3",
        params![project, from, to],
        |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, f64>(2)?,
            ))
        },
    )?;
    let mut whole: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut per_bucket: BTreeMap<(i64, String), Vec<f64>> = BTreeMap::new();
    for (at, name, value) in samples {
        whole.entry(name.clone()).or_default().push(value);
        per_bucket
            .entry((TimeRange::bucket_of(at, bucket_seconds), name))
            .or_default()
            .push(value);
    }
    let vital = |bucket_ms: i64, name: String, mut values: Vec<f64>| Vital {
        bucket_ms,
        samples: values.len() as u64,
        p75: p75(&mut values),
        name,
    };
    Ok(OverviewData {
        totals,
        series,
        frustration,
        referrers: top("referrer")?,
        countries: top("country_code")?,
        devices: top("device_type")?,
        browsers: top("browser")?,
        top_pages,
        vitals: whole
            .into_iter()
            .map(|(name, values)| vital(0, name, values))
            .collect(),
        vitals_series: per_bucket
            .into_iter()
            .map(|((bucket, name), values)| vital(bucket, name, values))
            .collect(),
    })
}

fn sessions(
    conn: &Connection,
    project: &str,
    filter: &SessionFilter,
) -> Result<Vec<SessionSummary>> {
    let sort_expr = match filter.sort {
        SessionSort::StartedAt => "started_at",
        SessionSort::Duration => "duration_ms",
        SessionSort::Events => "event_count",
    };
    let range = filter.range;
    let mut sql = format!(
        "SELECT {SUMMARY_COLUMNS}, {sort_expr} AS sort_key FROM sessions
         WHERE project_id = ? AND started_at >= ? AND started_at < ?"
    );
    let mut values = vec![text(project), int(range.from_ms), int(range.to_ms)];
    for (column, value) in [
        ("user_id", &filter.user_id),
        ("anonymous_id", &filter.anonymous_id),
        ("country_code", &filter.country),
        ("device_type", &filter.device),
        ("browser", &filter.browser),
    ] {
        if let Some(v) = value {
            sql.push_str(&format!(" AND {column} = ?"));
            values.push(text(v));
        }
    }
    if let Some(path) = &filter.path {
        // The days the range touches, and the day after its end (as ClickHouse's `page_time`).
        let days = TimeRange {
            from_ms: range.from_ms,
            to_ms: range.to_ms + DAY_MS,
        }
        .whole_days();
        sql.push_str(
            " AND session_id IN (SELECT session_id FROM events WHERE project_id = ? AND path = ?
               AND timestamp >= ? AND timestamp < ?)",
        );
        values.extend([
            text(project),
            text(path),
            int(days.from_ms),
            int(days.to_ms),
        ]);
    }
    if let Some(url) = &filter.url {
        sql.push_str(
            " AND (instr(lower(entry_url), lower(?)) > 0 OR session_id IN (SELECT session_id FROM events
               WHERE project_id = ? AND event_type = 'page_view' AND timestamp >= ? AND timestamp < ?
               AND instr(lower(url), lower(?)) > 0))",
        );
        values.extend([
            text(url),
            text(project),
            int(range.from_ms),
            int(range.to_ms + DAY_MS),
            text(url),
        ]);
    }
    for (flag, value) in [
        ("has_error", filter.has_error),
        ("has_rage_click", filter.has_rage_click),
        ("has_dead_click", filter.has_dead_click),
    ] {
        if let Some(v) = value {
            sql.push_str(&format!(" AND {flag} = ?"));
            values.push(int(v));
        }
    }
    for (clause, value) in [
        (" AND duration_ms >= ?", filter.min_duration_ms),
        (" AND duration_ms <= ?", filter.max_duration_ms),
        (" AND event_count >= ?", filter.min_events.map(u64::from)),
    ] {
        if let Some(v) = value {
            sql.push_str(clause);
            values.push(Value::Integer(i64::try_from(v).unwrap_or(i64::MAX)));
        }
    }
    let (cmp, dir) = if filter.descending {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    if let Some((key, id)) = filter.cursor {
        sql.push_str(&format!(" AND ({sort_expr}, session_id) {cmp} (?, ?)"));
        values.extend([int(key), text(&id.to_string())]);
    }
    sql.push_str(&format!(
        " ORDER BY sort_key {dir}, session_id {dir} LIMIT ?"
    ));
    values.push(int(filter.limit));
    collect(conn, &sql, params_from_iter(values), summary_from)
}

fn heatmap(conn: &Connection, project: &str, query: &HeatmapQuery) -> Result<HeatmapData> {
    let days = query.range.whole_days();
    let (min_w, max_w) = query.device.widths();
    let cells = collect(
        conn,
        &format!(
            "SELECT min({max_x}, (max(x, 0) * {HEATMAP_COLUMNS}) / max(viewport_width, 1)) AS gx,
                    max(page_y, 0) / {HEATMAP_ROW_PX} AS gy, count(*)
             FROM events WHERE project_id = ?1 AND event_type = 'click' AND viewport_width > 0
               AND path = ?2 AND viewport_width >= ?3 AND viewport_width < ?4
               AND timestamp >= ?5 AND timestamp < ?6
             GROUP BY gx, gy ORDER BY gy, gx LIMIT 100000",
            max_x = HEATMAP_COLUMNS - 1
        ),
        params![project, query.path, min_w, max_w, days.from_ms, days.to_ms],
        |row| {
            Ok(Cell {
                grid_x: row.get(0)?,
                grid_y: row.get(1)?,
                clicks: row.get::<_, i64>(2)? as u64,
            })
        },
    )?;
    let maxima = collect(
        conn,
        "SELECT max(scroll_depth) FROM events
         WHERE project_id = ?1 AND event_type = 'scroll' AND path = ?2
           AND timestamp >= ?3 AND timestamp < ?4
         GROUP BY session_id",
        params![project, query.path, days.from_ms, days.to_ms],
        |row| row.get::<_, i64>(0),
    )?;
    let depths = if maxima.is_empty() {
        Vec::new()
    } else {
        (0..=10u8)
            .map(|d| Depth {
                depth: d * 10,
                sessions: maxima.iter().filter(|m| **m >= i64::from(d) * 10).count() as u64,
            })
            .collect()
    };
    let elements = collect(
        conn,
        "SELECT target_selector, min(target_text), count(*) AS clicks, count(DISTINCT session_id)
         FROM events WHERE project_id = ?1 AND event_type = 'click'
           AND timestamp >= ?2 AND timestamp < ?3 AND path = ?4 AND target_selector != ''
           AND viewport_width >= ?5 AND viewport_width < ?6
         GROUP BY target_selector ORDER BY clicks DESC, target_selector LIMIT 20",
        params![
            project,
            query.range.from_ms,
            query.range.to_ms,
            query.path,
            min_w,
            max_w
        ],
        |row| {
            Ok(Element {
                selector: row.get(0)?,
                text: row.get(1)?,
                clicks: row.get::<_, i64>(2)? as u64,
                sessions: row.get::<_, i64>(3)? as u64,
            })
        },
    )?;
    Ok(HeatmapData {
        cells,
        depths,
        elements,
    })
}

impl SqliteAnalytics {
    /// Opens (creating and migrating as needed) the store in the file at `path`.
    pub async fn open(path: &Path, durability: Durability) -> Result<Self> {
        Ok(Self {
            db: SqliteDb::open(path, durability, "sqlite/analytics").await?,
        })
    }

    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.db.read(f).await
    }

    /// Inserts `rows` in one transaction with `sql`, each row's values from `values`.
    async fn insert<R: Send + Sync + 'static>(
        &self,
        sql: String,
        rows: Vec<R>,
        values: fn(&R) -> Vec<Value>,
    ) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        self.db
            .write(move |conn| {
                let tx = conn.transaction()?;
                {
                    let mut statement = tx.prepare_cached(&sql)?;
                    for row in &rows {
                        statement.execute(params_from_iter(values(row)))?;
                    }
                }
                tx.commit()?;
                Ok(())
            })
            .await
    }
}

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

#[async_trait]
impl AnalyticsStore for SqliteAnalytics {
    async fn insert_events(&self, rows: &[EventRow]) -> Result<()> {
        let sql = format!(
            "INSERT OR IGNORE INTO events ({EVENT_COLUMNS}) VALUES ({})",
            placeholders(42)
        );
        self.insert(sql, rows.to_vec(), event_values).await
    }

    async fn insert_sessions(&self, rows: &[SessionRow]) -> Result<()> {
        let updates: Vec<String> = SESSION_COLUMNS[2..]
            .iter()
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        let sql = format!(
            "INSERT INTO sessions ({}) VALUES ({})
             ON CONFLICT (project_id, session_id) DO UPDATE SET {}
             WHERE excluded.version >= sessions.version",
            SESSION_COLUMNS.join(", "),
            placeholders(SESSION_COLUMNS.len()),
            updates.join(", ")
        );
        self.insert(sql, rows.to_vec(), session_values).await
    }

    async fn insert_insights(&self, rows: &[InsightRow]) -> Result<()> {
        let sql = format!(
            "INSERT OR REPLACE INTO insights (project_id, insight_id, session_id, insight_type,
                timestamp, url, path, x, y, selector, details, related_event_ids, country_code,
                browser, device_type) VALUES ({})",
            placeholders(15)
        );
        self.insert(sql, rows.to_vec(), |r| {
            let related: Vec<String> = r.related_event_ids.iter().map(Uuid::to_string).collect();
            vec![
                text(&r.project_id.to_string()),
                text(&r.insight_id.to_string()),
                text(&r.session_id.to_string()),
                text(&r.insight_type),
                int(ms(r.timestamp)),
                text(&r.url),
                text(&r.path),
                int(r.x),
                int(r.y),
                text(&r.selector),
                text(&r.details),
                Value::Text(serde_json::to_string(&related).unwrap_or_else(|_| "[]".into())),
                text(&r.country_code),
                text(&r.browser),
                text(&r.device_type),
            ]
        })
        .await
    }

    async fn insert_replay_chunks(&self, rows: &[ReplayChunkRow]) -> Result<()> {
        let sql = format!(
            "INSERT OR REPLACE INTO replay_chunks (project_id, session_id, chunk_index,
                first_timestamp, last_timestamp, has_full_snapshot, event_count, encoding,
                uncompressed_size, data, received_at) VALUES ({})",
            placeholders(11)
        );
        self.insert(sql, rows.to_vec(), |r| {
            vec![
                text(&r.project_id.to_string()),
                text(&r.session_id.to_string()),
                int(r.chunk_index),
                int(ms(r.first_timestamp)),
                int(ms(r.last_timestamp)),
                int(r.has_full_snapshot),
                int(r.event_count),
                text(&r.encoding),
                Value::Integer(r.uncompressed_size as i64),
                Value::Blob(r.data.clone()),
                int(ms(r.received_at)),
            ]
        })
        .await
    }

    async fn session_events(&self, project_id: Uuid, session_id: Uuid) -> Result<Vec<EventRow>> {
        self.read(move |conn| {
            collect(
                conn,
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE project_id = ?1 AND session_id = ?2
                     ORDER BY timestamp, sequence, event_id"
                ),
                params![project_id.to_string(), session_id.to_string()],
                event_from,
            )
        })
        .await
    }

    async fn stored_event_ids(&self, rows: &[EventKey]) -> Result<Vec<(Uuid, Uuid, Uuid)>> {
        let keys: Vec<(Uuid, Uuid, Uuid)> = rows
            .iter()
            .map(|r| (r.project_id, r.session_id, r.event_id))
            .collect();
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT 1 FROM events WHERE project_id = ?1 AND event_id = ?2 AND session_id = ?3",
            )?;
            let mut found = Vec::new();
            for (project, session, event) in keys {
                let params = params![project.to_string(), event.to_string(), session.to_string()];
                if statement.exists(params)? {
                    found.push((project, session, event));
                }
            }
            Ok(found)
        })
        .await
    }

    async fn session_rows(&self, keys: &[(Uuid, Uuid)]) -> Result<Vec<SessionRow>> {
        let keys = keys.to_vec();
        self.read(move |conn| {
            let sql = format!(
                "SELECT {} FROM sessions WHERE project_id = ?1 AND session_id = ?2",
                SESSION_COLUMNS.join(", ")
            );
            let mut rows = Vec::new();
            for (project, session) in keys {
                rows.extend(collect(
                    conn,
                    &sql,
                    params![project.to_string(), session.to_string()],
                    session_from,
                )?);
            }
            Ok(rows)
        })
        .await
    }

    async fn overview(&self, project: Uuid, range: TimeRange) -> Result<OverviewData> {
        self.read(move |conn| overview(conn, &project.to_string(), range))
            .await
    }

    async fn sessions(&self, project: Uuid, filter: &SessionFilter) -> Result<Vec<SessionSummary>> {
        let filter = filter.clone();
        self.read(move |conn| sessions(conn, &project.to_string(), &filter))
            .await
    }

    async fn session(&self, project: Uuid, session: Uuid) -> Result<Option<SessionSummary>> {
        self.read(move |conn| {
            Ok(collect(
                conn,
                &format!(
                    "SELECT {SUMMARY_COLUMNS}, 0 FROM sessions WHERE project_id = ?1 AND session_id = ?2"
                ),
                params![project.to_string(), session.to_string()],
                summary_from,
            )?
            .pop())
        })
        .await
    }

    async fn timeline(
        &self,
        project: Uuid,
        session: Uuid,
        limit: u32,
    ) -> Result<Vec<TimelineEvent>> {
        self.read(move |conn| {
            collect(
                conn,
                "SELECT event_id, event_type, timestamp, url, path, x, y, target_selector,
                        target_text, error_message, metric_name, metric_value, payload
                 FROM events WHERE project_id = ?1 AND session_id = ?2
                 ORDER BY timestamp, sequence, event_id LIMIT ?3",
                params![project.to_string(), session.to_string(), limit],
                |row| {
                    Ok(TimelineEvent {
                        event_id: row.get(0)?,
                        event_type: row.get(1)?,
                        timestamp_ms: row.get(2)?,
                        url: row.get(3)?,
                        path: row.get(4)?,
                        x: row.get(5)?,
                        y: row.get(6)?,
                        target_selector: row.get(7)?,
                        target_text: row.get(8)?,
                        error_message: row.get(9)?,
                        metric_name: row.get(10)?,
                        metric_value: row.get(11)?,
                        payload: row.get(12)?,
                    })
                },
            )
        })
        .await
    }

    async fn session_insights(&self, project: Uuid, session: Uuid) -> Result<Vec<SessionInsight>> {
        self.read(move |conn| {
            collect(
                conn,
                "SELECT insight_id, insight_type, timestamp, url, path, x, y, selector, details
                 FROM insights WHERE project_id = ?1 AND session_id = ?2
                 ORDER BY timestamp, insight_id",
                params![project.to_string(), session.to_string()],
                |row| {
                    Ok(SessionInsight {
                        insight_id: row.get(0)?,
                        insight_type: row.get(1)?,
                        timestamp_ms: row.get(2)?,
                        url: row.get(3)?,
                        path: row.get(4)?,
                        x: row.get(5)?,
                        y: row.get(6)?,
                        selector: row.get(7)?,
                        details: row.get(8)?,
                    })
                },
            )
        })
        .await
    }

    async fn replay(
        &self,
        project: Uuid,
        session: Uuid,
    ) -> Result<BoxStream<'static, Result<ReplayChunk>>> {
        let store = self.clone();
        let (project, session) = (project.to_string(), session.to_string());
        // Pages of chunks after the last one sent, each read as the stream is polled.
        let pages = futures::stream::try_unfold(Some(-1i64), move |after| {
            let (store, project, session) = (store.clone(), project.clone(), session.clone());
            async move {
                let Some(after) = after else {
                    return Ok::<_, Error>(None);
                };
                let page = store
                    .read(move |conn| {
                        collect(
                            conn,
                            "SELECT chunk_index, first_timestamp, last_timestamp, has_full_snapshot,
                                    event_count, encoding, data
                             FROM replay_chunks WHERE project_id = ?1 AND session_id = ?2
                               AND chunk_index > ?3 ORDER BY chunk_index LIMIT ?4",
                            params![project, session, after, REPLAY_PAGE],
                            |row| {
                                Ok(ReplayChunk {
                                    chunk_index: row.get(0)?,
                                    first_ms: row.get(1)?,
                                    last_ms: row.get(2)?,
                                    has_full_snapshot: row.get(3)?,
                                    event_count: row.get(4)?,
                                    encoding: row.get(5)?,
                                    data: row.get(6)?,
                                })
                            },
                        )
                    })
                    .await?;
                let next = if (page.len() as i64) < REPLAY_PAGE {
                    None
                } else {
                    page.last().map(|c| i64::from(c.chunk_index))
                };
                if page.is_empty() {
                    return Ok(None);
                }
                Ok(Some((page, next)))
            }
        });
        Ok(pages
            .map(|page| match page {
                Ok(chunks) => futures::stream::iter(chunks.into_iter().map(Ok)).left_stream(),
                Err(error) => futures::stream::once(async { Err(error) }).right_stream(),
            })
            .flatten()
            .boxed())
    }

    async fn heatmap(&self, project: Uuid, query: &HeatmapQuery) -> Result<HeatmapData> {
        let query = query.clone();
        self.read(move |conn| heatmap(conn, &project.to_string(), &query))
            .await
    }

    async fn insight_groups(
        &self,
        project: Uuid,
        query: &InsightQuery,
    ) -> Result<Vec<InsightGroup>> {
        let query = query.clone();
        self.read(move |conn| {
            let kind = query.insight_type.clone().unwrap_or_default();
            let path = query.path.clone().unwrap_or_default();
            collect(
                conn,
                "SELECT insight_type, path, selector, count(*) AS n, count(DISTINCT session_id),
                        max(timestamp), group_concat(DISTINCT session_id)
                 FROM insights WHERE project_id = ?1 AND timestamp >= ?2 AND timestamp < ?3
                   AND (?4 = '' OR insight_type = ?4) AND (?5 = '' OR path = ?5)
                 GROUP BY insight_type, path, selector
                 ORDER BY n DESC, insight_type, path, selector LIMIT ?6",
                params![
                    project.to_string(),
                    query.range.from_ms,
                    query.range.to_ms,
                    kind,
                    path,
                    query.limit
                ],
                |row| {
                    Ok(InsightGroup {
                        insight_type: row.get(0)?,
                        path: row.get(1)?,
                        selector: row.get(2)?,
                        count: row.get::<_, i64>(3)? as u64,
                        sessions: row.get::<_, i64>(4)? as u64,
                        last_seen_ms: row.get(5)?,
                        example_sessions: examples(row.get(6)?),
                    })
                },
            )
        })
        .await
    }

    async fn error_groups(
        &self,
        project: Uuid,
        range: TimeRange,
        limit: u32,
    ) -> Result<Vec<ErrorGroup>> {
        self.read(move |conn| {
            collect(
                conn,
                "SELECT error_fingerprint, min(event_type), min(error_message),
                        substr(min(error_stack), 1, 4096), count(*) AS n,
                        count(DISTINCT session_id), min(timestamp), max(timestamp),
                        group_concat(DISTINCT session_id)
                 FROM events WHERE project_id = ?1
                   AND event_type IN ('js_error', 'network_error')
                   AND timestamp >= ?2 AND timestamp < ?3
                 GROUP BY error_fingerprint ORDER BY n DESC, error_fingerprint LIMIT ?4",
                params![project.to_string(), range.from_ms, range.to_ms, limit],
                |row| {
                    Ok(ErrorGroup {
                        fingerprint: row.get::<_, i64>(0)? as u64,
                        kind: row.get(1)?,
                        message: row.get(2)?,
                        top_stack: row.get(3)?,
                        count: row.get::<_, i64>(4)? as u64,
                        sessions: row.get::<_, i64>(5)? as u64,
                        first_seen_ms: row.get(6)?,
                        last_seen_ms: row.get(7)?,
                        example_sessions: examples(row.get(8)?),
                    })
                },
            )
        })
        .await
    }

    async fn live_sessions(
        &self,
        project: Uuid,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<SessionSummary>> {
        self.read(move |conn| {
            collect(
                conn,
                &format!(
                    "SELECT {SUMMARY_COLUMNS}, 0 FROM sessions
                     WHERE project_id = ?1 AND is_active AND ended_at >= ?2
                     ORDER BY ended_at DESC, session_id LIMIT ?3"
                ),
                params![project.to_string(), since_ms, limit],
                summary_from,
            )
        })
        .await
    }

    async fn funnel(&self, project: Uuid, query: &FunnelQuery) -> Result<FunnelData> {
        let query = query.clone();
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT session_id, timestamp, event_type, path, custom_name FROM events
                 WHERE project_id = ?1 AND event_type IN ('page_view', 'custom')
                   AND timestamp >= ?2 AND timestamp < ?3
                 ORDER BY session_id, timestamp",
            )?;
            let mut rows = statement.query(params![
                project.to_string(),
                query.range.from_ms,
                query.range.to_ms
            ])?;
            let mut levels = vec![0u64; query.steps.len() + 1];
            // One session's events at a time.
            let mut session: Option<String> = None;
            let mut events: Vec<(i64, String, String, String)> = Vec::new();
            let mut finish = |events: &mut Vec<(i64, String, String, String)>| {
                let level = funnel_level(
                    &query.steps,
                    events
                        .iter()
                        .map(|(at, t, p, c)| (*at, t.as_str(), p.as_str(), c.as_str())),
                );
                levels[level] += 1;
                events.clear();
            };
            while let Some(row) = rows.next()? {
                let id: String = row.get(0)?;
                if session.as_deref() != Some(id.as_str()) {
                    if session.is_some() {
                        finish(&mut events);
                    }
                    session = Some(id);
                }
                events.push((row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?));
            }
            if session.is_some() {
                finish(&mut events);
            }
            Ok(FunnelData::from_levels(
                query.steps.len(),
                levels.into_iter().enumerate().skip(1),
            ))
        })
        .await
    }

    async fn erase(&self, project: Uuid, subject: &ErasureSubject) -> Result<u64> {
        let column = subject.column();
        let value = match subject {
            ErasureSubject::Session(id) => id.to_string(),
            ErasureSubject::User(id) | ErasureSubject::Anonymous(id) => id.clone(),
        };
        let project = project.to_string();
        self.db
            .write(move |conn| {
                let tx = conn.transaction()?;
                let sessions: Vec<String> = collect(
                    &tx,
                    &format!(
                        "SELECT session_id FROM sessions WHERE project_id = ?1 AND {column} = ?2
                         UNION
                         SELECT session_id FROM events WHERE project_id = ?1 AND {column} = ?2"
                    ),
                    params![project, value],
                    |row| row.get(0),
                )?;
                for table in ["events", "insights", "replay_chunks", "sessions"] {
                    let mut delete = tx.prepare_cached(&format!(
                        "DELETE FROM {table} WHERE project_id = ?1 AND session_id = ?2"
                    ))?;
                    for session in &sessions {
                        delete.execute(params![project, session])?;
                    }
                }
                tx.commit()?;
                Ok(sessions.len() as u64)
            })
            .await
    }
}
