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
    /// From a request's `from` and `to`; default the last [`DEFAULT_RANGE_DAYS`] days up to the end
    /// of the current minute.
    pub fn parse(from: Option<&str>, to: Option<&str>) -> ApiResult<Self> {
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

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;

/// A range cut for reading rollups: the whole hours inside it (from an hourly rollup), the whole
/// minutes of the partial hours at its edges (from a minutely rollup), and what is left, the
/// partial minutes at its two ends (from raw rows; none for minute-aligned bounds). The parts
/// cover the range exactly once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupSplit {
    pub hours: Option<Range>,
    pub minutes: Vec<Range>,
    pub raw: Vec<Range>,
}

impl Range {
    fn is_empty(&self) -> bool {
        self.from_ms >= self.to_ms
    }

    /// The whole `unit`s inside the range (if any), and the parts before and after them.
    fn split_units(&self, unit: i64) -> (Option<Range>, [Range; 2]) {
        let first = self.from_ms.div_euclid(unit) * unit
            + if self.from_ms.rem_euclid(unit) == 0 {
                0
            } else {
                unit
            };
        let last = self.to_ms.div_euclid(unit) * unit;
        if first >= last {
            let empty = Range {
                from_ms: self.to_ms,
                to_ms: self.to_ms,
            };
            return (None, [*self, empty]);
        }
        let head = Range {
            from_ms: self.from_ms,
            to_ms: first,
        };
        let tail = Range {
            from_ms: last,
            to_ms: self.to_ms,
        };
        (
            Some(Range {
                from_ms: first,
                to_ms: last,
            }),
            [head, tail],
        )
    }

    pub fn rollup_split(&self) -> RollupSplit {
        let (hours, edges) = self.split_units(HOUR_MS);
        let mut split = RollupSplit {
            hours,
            minutes: Vec::new(),
            raw: Vec::new(),
        };
        for edge in edges.iter().filter(|e| !e.is_empty()) {
            let (minutes, rest) = edge.split_units(MINUTE_MS);
            split.minutes.extend(minutes);
            split.raw.extend(rest.into_iter().filter(|r| !r.is_empty()));
        }
        split
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

    fn covered(split: &RollupSplit) -> i64 {
        let len = |r: &Range| r.to_ms - r.from_ms;
        split
            .hours
            .iter()
            .chain(&split.minutes)
            .chain(&split.raw)
            .map(len)
            .sum()
    }

    #[test]
    fn rollup_split_covers_the_range_once() {
        let (m, h) = (MINUTE_MS, HOUR_MS);
        let cases = [
            (0, 3 * h),
            (10, 3 * h + 5),
            (10, 20),
            (h - 1, h + 1),
            (5 * h, 6 * h),
            (-h - 7, 2 * h),
            (3 * m, 2 * h + 7 * m),
            (3 * m + 1, 4 * m),
        ];
        for (from_ms, to_ms) in cases {
            let range = Range { from_ms, to_ms };
            let split = range.rollup_split();
            assert_eq!(covered(&split), to_ms - from_ms, "{range:?}");
            let parts = split.hours.iter().chain(&split.minutes).chain(&split.raw);
            let mut parts: Vec<Range> = parts.copied().collect();
            parts.sort_by_key(|r| r.from_ms);
            for pair in parts.windows(2) {
                assert!(pair[0].to_ms <= pair[1].from_ms, "overlap in {range:?}");
            }
            for r in split.hours.iter() {
                assert!(r.from_ms % h == 0 && r.to_ms % h == 0, "{range:?}");
            }
            for r in &split.minutes {
                assert!(r.from_ms.rem_euclid(m) == 0 && r.to_ms.rem_euclid(m) == 0);
                assert!(r.to_ms - r.from_ms < h, "{range:?}");
            }
            for r in &split.raw {
                assert!(r.to_ms - r.from_ms < m && !r.is_empty(), "{range:?}");
            }
        }
        let aligned = Range {
            from_ms: 3 * m,
            to_ms: 2 * h + 7 * m,
        }
        .rollup_split();
        assert_eq!(
            aligned.hours,
            Some(Range {
                from_ms: h,
                to_ms: 2 * h
            })
        );
        assert_eq!(aligned.minutes.len(), 2);
        assert!(
            aligned.raw.is_empty(),
            "minute-aligned bounds read no raw rows"
        );
        let inside = Range {
            from_ms: 10,
            to_ms: 20,
        }
        .rollup_split();
        assert_eq!((inside.hours, inside.minutes.len()), (None, 0));
        assert_eq!(
            inside.raw,
            [Range {
                from_ms: 10,
                to_ms: 20
            }]
        );
    }
}
