//! Query parameters shared by the analytics endpoints: the time range and cursors.
//!
//! Times are RFC 3339 (`2026-12-01T00:00:00Z`) and go to ClickHouse as bound Unix milliseconds,
//! never spliced into SQL.

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{ApiError, ApiResult};

/// The longest range one query may cover.
pub const MAX_RANGE_DAYS: i64 = 400;
/// The range when none is given.
pub const DEFAULT_RANGE_DAYS: i64 = 7;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RangeParams {
    pub from: Option<String>,
    pub to: Option<String>,
}

/// A half-open time range `[from, to)` in Unix milliseconds.
pub use gosight_common::backend::analytics::TimeRange as Range;

fn parse_time(field: &str, value: &str) -> ApiResult<OffsetDateTime> {
    OffsetDateTime::parse(value, &Rfc3339)
        .map_err(|_| ApiError::invalid(field, "not an RFC 3339 time such as 2026-12-01T00:00:00Z"))
}

/// From a request's `from` and `to`; default the last [`DEFAULT_RANGE_DAYS`] days up to the end
/// of the current minute.
pub fn parse_range(from: Option<&str>, to: Option<&str>) -> ApiResult<Range> {
    let now = OffsetDateTime::now_utc();
    let to = match to {
        Some(v) => parse_time("to", v)?,
        // The end of the current minute: aligned, so the rollups answer without raw rows.
        None => {
            let minute = i128::from(MINUTE_MS) * 1_000_000;
            OffsetDateTime::from_unix_timestamp_nanos(
                (now.unix_timestamp_nanos() / minute + 1) * minute,
            )
            .unwrap_or(now)
        }
    };
    let from = match from {
        Some(v) => parse_time("from", v)?,
        None => to - time::Duration::days(DEFAULT_RANGE_DAYS),
    };
    if from >= to {
        return Err(ApiError::invalid("from", "must be before `to`"));
    }
    if to - from > time::Duration::days(MAX_RANGE_DAYS) {
        return Err(ApiError::invalid(
            "to",
            "the range may cover at most 400 days",
        ));
    }
    Ok(Range {
        from_ms: (from.unix_timestamp_nanos() / 1_000_000) as i64,
        to_ms: (to.unix_timestamp_nanos() / 1_000_000) as i64,
    })
}

const MINUTE_MS: i64 = 60_000;

/// Unix milliseconds as RFC 3339, for responses.
pub fn rfc3339_ms(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// Checks a free-text filter: bound length, no control characters. It is bound as a parameter,
/// so no character can change the query.
pub fn text_filter(field: &str, value: &Option<String>) -> ApiResult<Option<String>> {
    let Some(value) = value else { return Ok(None) };
    if value.chars().count() > 2048 || value.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            field,
            "at most 2048 characters, no control characters",
        ));
    }
    Ok(Some(value.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_are_checked() {
        let ok = parse_range(Some("2026-12-01T00:00:00Z"), Some("2026-12-02T00:00:00Z")).unwrap();
        assert_eq!(ok.to_ms - ok.from_ms, 86_400_000);
        assert_eq!(ok.bucket_seconds(), 3600);
        let bad = parse_range(Some("yesterday"), None);
        assert!(matches!(bad, Err(ApiError::Invalid { field, .. }) if field == "from"));
        let reversed = parse_range(Some("2026-12-02T00:00:00Z"), Some("2026-12-01T00:00:00Z"));
        assert!(reversed.is_err());
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00Z");
    }
}
