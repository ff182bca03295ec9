//! Rows of the SQLite analytics tables: the values an insert binds and the structs a read maps
//! back, column for column with `sql/sqlite/analytics`.

use rusqlite::Row;
use rusqlite::types::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::super::model::{Count, SessionCounters, SessionSummary};
use super::super::{EventRow, SessionRow};

pub(super) fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

pub(super) fn datetime(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

pub(super) fn uuid(text: &str) -> rusqlite::Result<Uuid> {
    Uuid::try_parse(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

pub(super) fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

pub(super) fn int(v: impl Into<i64>) -> Value {
    Value::Integer(v.into())
}

pub(super) const EVENT_COLUMNS: &str =
    "project_id, session_id, event_id, event_type, timestamp, received_at,
    sequence, user_id, anonymous_id, url, path, title, referrer, x, y, page_x, page_y,
    viewport_width, viewport_height, document_height, scroll_depth, target_tag, target_selector,
    target_text, error_message, error_type, error_stack, error_fingerprint, http_status,
    metric_name, metric_value, custom_name, payload, country_code, subdivision, city, browser,
    browser_version, os, os_version, device_type, is_bot";

pub(super) fn event_values(r: &EventRow) -> Vec<Value> {
    vec![
        text(&r.project_id.to_string()),
        text(&r.session_id.to_string()),
        text(&r.event_id.to_string()),
        text(&r.event_type),
        int(ms(r.timestamp)),
        int(ms(r.received_at)),
        Value::Integer(r.sequence as i64),
        text(&r.user_id),
        text(&r.anonymous_id),
        text(&r.url),
        text(&r.path),
        text(&r.title),
        text(&r.referrer),
        int(r.x),
        int(r.y),
        int(r.page_x),
        int(r.page_y),
        int(r.viewport_width),
        int(r.viewport_height),
        int(r.document_height),
        int(r.scroll_depth),
        text(&r.target_tag),
        text(&r.target_selector),
        text(&r.target_text),
        text(&r.error_message),
        text(&r.error_type),
        text(&r.error_stack),
        Value::Integer(r.error_fingerprint as i64),
        int(r.http_status),
        text(&r.metric_name),
        Value::Real(r.metric_value),
        text(&r.custom_name),
        text(&r.payload),
        text(&r.country_code),
        text(&r.subdivision),
        text(&r.city),
        text(&r.browser),
        text(&r.browser_version),
        text(&r.os),
        text(&r.os_version),
        text(&r.device_type),
        int(r.is_bot),
    ]
}

pub(super) fn event_from(row: &Row<'_>) -> rusqlite::Result<EventRow> {
    Ok(EventRow {
        project_id: uuid(&row.get::<_, String>(0)?)?,
        session_id: uuid(&row.get::<_, String>(1)?)?,
        event_id: uuid(&row.get::<_, String>(2)?)?,
        event_type: row.get(3)?,
        timestamp: datetime(row.get(4)?),
        received_at: datetime(row.get(5)?),
        sequence: row.get::<_, i64>(6)? as u64,
        user_id: row.get(7)?,
        anonymous_id: row.get(8)?,
        url: row.get(9)?,
        path: row.get(10)?,
        title: row.get(11)?,
        referrer: row.get(12)?,
        x: row.get(13)?,
        y: row.get(14)?,
        page_x: row.get(15)?,
        page_y: row.get(16)?,
        viewport_width: row.get(17)?,
        viewport_height: row.get(18)?,
        document_height: row.get(19)?,
        scroll_depth: row.get(20)?,
        target_tag: row.get(21)?,
        target_selector: row.get(22)?,
        target_text: row.get(23)?,
        error_message: row.get(24)?,
        error_type: row.get(25)?,
        error_stack: row.get(26)?,
        error_fingerprint: row.get::<_, i64>(27)? as u64,
        http_status: row.get(28)?,
        metric_name: row.get(29)?,
        metric_value: row.get(30)?,
        custom_name: row.get(31)?,
        payload: row.get(32)?,
        country_code: row.get(33)?,
        subdivision: row.get(34)?,
        city: row.get(35)?,
        browser: row.get(36)?,
        browser_version: row.get(37)?,
        os: row.get(38)?,
        os_version: row.get(39)?,
        device_type: row.get(40)?,
        is_bot: row.get(41)?,
    })
}

pub(super) const SESSION_COLUMNS: &[&str] = &[
    "project_id",
    "session_id",
    "version",
    "user_id",
    "anonymous_id",
    "started_at",
    "ended_at",
    "duration_ms",
    "is_active",
    "entry_url",
    "entry_path",
    "exit_url",
    "exit_path",
    "referrer",
    "page_count",
    "event_count",
    "click_count",
    "error_count",
    "max_scroll_depth",
    "has_error",
    "has_rage_click",
    "has_dead_click",
    "is_bounce",
    "has_replay",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "country_code",
    "subdivision",
    "city",
    "browser",
    "browser_version",
    "os",
    "os_version",
    "device_type",
    "screen_width",
    "screen_height",
    "viewport_width",
    "viewport_height",
    "language",
    "last_partition",
    "last_offset",
];

pub(super) fn session_values(r: &SessionRow) -> Vec<Value> {
    vec![
        text(&r.project_id.to_string()),
        text(&r.session_id.to_string()),
        Value::Integer(r.version as i64),
        text(&r.user_id),
        text(&r.anonymous_id),
        int(ms(r.started_at)),
        int(ms(r.ended_at)),
        Value::Integer(r.duration_ms as i64),
        int(r.is_active),
        text(&r.entry_url),
        text(&r.entry_path),
        text(&r.exit_url),
        text(&r.exit_path),
        text(&r.referrer),
        int(r.page_count),
        int(r.event_count),
        int(r.click_count),
        int(r.error_count),
        int(r.max_scroll_depth),
        int(r.has_error),
        int(r.has_rage_click),
        int(r.has_dead_click),
        int(r.is_bounce),
        int(r.has_replay),
        text(&r.utm_source),
        text(&r.utm_medium),
        text(&r.utm_campaign),
        text(&r.utm_term),
        text(&r.utm_content),
        text(&r.country_code),
        text(&r.subdivision),
        text(&r.city),
        text(&r.browser),
        text(&r.browser_version),
        text(&r.os),
        text(&r.os_version),
        text(&r.device_type),
        int(r.screen_width),
        int(r.screen_height),
        int(r.viewport_width),
        int(r.viewport_height),
        text(&r.language),
        int(r.last_partition),
        int(r.last_offset),
    ]
}

pub(super) fn session_from(row: &Row<'_>) -> rusqlite::Result<SessionRow> {
    Ok(SessionRow {
        project_id: uuid(&row.get::<_, String>(0)?)?,
        session_id: uuid(&row.get::<_, String>(1)?)?,
        version: row.get::<_, i64>(2)? as u64,
        user_id: row.get(3)?,
        anonymous_id: row.get(4)?,
        started_at: datetime(row.get(5)?),
        ended_at: datetime(row.get(6)?),
        duration_ms: row.get::<_, i64>(7)? as u64,
        is_active: row.get(8)?,
        entry_url: row.get(9)?,
        entry_path: row.get(10)?,
        exit_url: row.get(11)?,
        exit_path: row.get(12)?,
        referrer: row.get(13)?,
        page_count: row.get(14)?,
        event_count: row.get(15)?,
        click_count: row.get(16)?,
        error_count: row.get(17)?,
        max_scroll_depth: row.get(18)?,
        has_error: row.get(19)?,
        has_rage_click: row.get(20)?,
        has_dead_click: row.get(21)?,
        is_bounce: row.get(22)?,
        has_replay: row.get(23)?,
        utm_source: row.get(24)?,
        utm_medium: row.get(25)?,
        utm_campaign: row.get(26)?,
        utm_term: row.get(27)?,
        utm_content: row.get(28)?,
        country_code: row.get(29)?,
        subdivision: row.get(30)?,
        city: row.get(31)?,
        browser: row.get(32)?,
        browser_version: row.get(33)?,
        os: row.get(34)?,
        os_version: row.get(35)?,
        device_type: row.get(36)?,
        screen_width: row.get(37)?,
        screen_height: row.get(38)?,
        viewport_width: row.get(39)?,
        viewport_height: row.get(40)?,
        language: row.get(41)?,
        last_partition: row.get(42)?,
        last_offset: row.get(43)?,
    })
}

pub(super) const SUMMARY_COLUMNS: &str = "session_id, user_id, anonymous_id, started_at, ended_at,
    duration_ms, is_active, entry_url, entry_path, exit_path, referrer, page_count, event_count,
    click_count, error_count, max_scroll_depth, has_error, has_rage_click, has_dead_click,
    is_bounce, has_replay, country_code, city, browser, browser_version, os, device_type,
    viewport_width, viewport_height, utm_source, utm_medium, utm_campaign";

pub(super) fn summary_from(row: &Row<'_>) -> rusqlite::Result<SessionSummary> {
    Ok(SessionSummary {
        session_id: row.get(0)?,
        user_id: row.get(1)?,
        anonymous_id: row.get(2)?,
        started_ms: row.get(3)?,
        ended_ms: row.get(4)?,
        duration_ms: row.get::<_, i64>(5)? as u64,
        is_active: row.get(6)?,
        entry_url: row.get(7)?,
        entry_path: row.get(8)?,
        exit_path: row.get(9)?,
        referrer: row.get(10)?,
        page_count: row.get(11)?,
        event_count: row.get(12)?,
        click_count: row.get(13)?,
        error_count: row.get(14)?,
        max_scroll_depth: row.get(15)?,
        has_error: row.get(16)?,
        has_rage_click: row.get(17)?,
        has_dead_click: row.get(18)?,
        is_bounce: row.get(19)?,
        has_replay: row.get(20)?,
        country_code: row.get(21)?,
        city: row.get(22)?,
        browser: row.get(23)?,
        browser_version: row.get(24)?,
        os: row.get(25)?,
        device_type: row.get(26)?,
        viewport_width: row.get(27)?,
        viewport_height: row.get(28)?,
        utm_source: row.get(29)?,
        utm_medium: row.get(30)?,
        utm_campaign: row.get(31)?,
        sort_key: row.get(32)?,
    })
}

pub(super) fn counters_from(row: &Row<'_>) -> rusqlite::Result<SessionCounters> {
    let n = |i: usize| -> rusqlite::Result<u64> { Ok(row.get::<_, i64>(i)?.max(0) as u64) };
    Ok(SessionCounters {
        bucket_ms: row.get(0)?,
        sessions: n(1)?,
        users: n(2)?,
        bounces: n(3)?,
        avg_duration_ms: row.get(4)?,
        rage_sessions: n(5)?,
        dead_sessions: n(6)?,
        error_sessions: n(7)?,
        page_views: n(8)?,
        errors: n(9)?,
    })
}

pub(super) fn count_from(row: &Row<'_>) -> rusqlite::Result<Count> {
    Ok(Count {
        key: row.get(0)?,
        count: row.get::<_, i64>(1)? as u64,
    })
}
