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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub from_ms: i64,
    pub to_ms: i64,
}

fn parse_time(field: &str, value: &str) -> ApiResult<OffsetDateTime> {
    OffsetDateTime::parse(value, &Rfc3339)
        .map_err(|_| ApiError::invalid(field, "not an RFC 3339 time such as 2026-12-01T00:00:00Z"))
}

impl Range {
    /// From a request's `from` and `to`; default the last [`DEFAULT_RANGE_DAYS`] days up to now.
    pub fn parse(from: Option<&str>, to: Option<&str>) -> ApiResult<Self> {
        let now = OffsetDateTime::now_utc();
        let to = match to {
            Some(v) => parse_time("to", v)?,
            None => now + time::Duration::minutes(1),
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
        Ok(Self {
            from_ms: (from.unix_timestamp_nanos() / 1_000_000) as i64,
            to_ms: (to.unix_timestamp_nanos() / 1_000_000) as i64,
        })
    }

    /// A bucket width for time series giving at most about 200 points: hour, day or week.
    pub fn bucket_seconds(&self) -> u32 {
        let hours = (self.to_ms - self.from_ms) / 3_600_000;
        match hours {
            0..=72 => 3600,
            73..=2400 => 86_400,
            _ => 7 * 86_400,
        }
    }
}

const HOUR_MS: i64 = 3_600_000;

/// A range cut for reading hourly aggregates: the whole hours inside it, and the partial hours
/// at its edges, which are read from raw rows. Together they cover the range exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourSplit {
    /// Whole hours `[from, to)`; empty (`from == to`) when the range holds none.
    pub hours: Range,
    /// The part before the first whole hour, and the part after the last.
    pub edges: [Range; 2],
}

impl Range {
    pub fn split_hours(&self) -> HourSplit {
        let first = self.from_ms.div_euclid(HOUR_MS) * HOUR_MS
            + if self.from_ms.rem_euclid(HOUR_MS) == 0 {
                0
            } else {
                HOUR_MS
            };
        let last = self.to_ms.div_euclid(HOUR_MS) * HOUR_MS;
        if first >= last {
            let empty = Range {
                from_ms: self.to_ms,
                to_ms: self.to_ms,
            };
            return HourSplit {
                hours: Range {
                    from_ms: first,
                    to_ms: first,
                },
                edges: [*self, empty],
            };
        }
        HourSplit {
            hours: Range {
                from_ms: first,
                to_ms: last,
            },
            edges: [
                Range {
                    from_ms: self.from_ms,
                    to_ms: first,
                },
                Range {
                    from_ms: last,
                    to_ms: self.to_ms,
                },
            ],
        }
    }
}

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
        let ok = Range::parse(Some("2026-12-01T00:00:00Z"), Some("2026-12-02T00:00:00Z")).unwrap();
        assert_eq!(ok.to_ms - ok.from_ms, 86_400_000);
        assert_eq!(ok.bucket_seconds(), 3600);
        let bad = Range::parse(Some("yesterday"), None);
        assert!(matches!(bad, Err(ApiError::Invalid { field, .. }) if field == "from"));
        let reversed = Range::parse(Some("2026-12-02T00:00:00Z"), Some("2026-12-01T00:00:00Z"));
        assert!(reversed.is_err());
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00Z");
    }

    fn covered(split: &HourSplit) -> i64 {
        let len = |r: &Range| r.to_ms - r.from_ms;
        len(&split.hours) + split.edges.iter().map(len).sum::<i64>()
    }

    #[test]
    fn hour_split_covers_the_range_once() {
        let h = HOUR_MS;
        let cases = [
            (0, 3 * h),
            (10, 3 * h + 5),
            (10, 20),
            (h - 1, h + 1),
            (5 * h, 6 * h),
            (-h - 7, 2 * h),
        ];
        for (from_ms, to_ms) in cases {
            let range = Range { from_ms, to_ms };
            let split = range.split_hours();
            assert_eq!(covered(&split), to_ms - from_ms, "{range:?}");
            assert_eq!(split.hours.from_ms.rem_euclid(h), 0, "{range:?}");
            assert_eq!(split.hours.to_ms.rem_euclid(h), 0, "{range:?}");
            for edge in split.edges {
                assert!(
                    edge.from_ms <= edge.to_ms && edge.to_ms - edge.from_ms < 2 * h,
                    "{range:?}"
                );
                assert!(edge.from_ms >= from_ms && edge.to_ms <= to_ms, "{range:?}");
            }
        }
        let exact = Range {
            from_ms: 0,
            to_ms: 3 * h,
        }
        .split_hours();
        assert_eq!(
            exact.hours,
            Range {
                from_ms: 0,
                to_ms: 3 * h
            }
        );
        let inside = Range {
            from_ms: 10,
            to_ms: 20,
        }
        .split_hours();
        assert_eq!(
            inside.edges[0],
            Range {
                from_ms: 10,
                to_ms: 20
            }
        );
        assert_eq!(inside.hours.from_ms, inside.hours.to_ms);
    }
}
