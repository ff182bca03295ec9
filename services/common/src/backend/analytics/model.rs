//! What the analytics store answers: the query parameters and result rows of the API's reads,
//! shared by every [`super::AnalyticsStore`] so they answer alike.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// A half-open time range `[from, to)` in Unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub from_ms: i64,
    pub to_ms: i64,
}

/// A range cut for reading rollups: the whole hours inside it (from an hourly rollup), the whole
/// minutes of the partial hours at its edges (from a minutely rollup), and what is left, the
/// partial minutes at its two ends (from raw rows; none for minute-aligned bounds). The parts
/// cover the range exactly once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupSplit {
    pub hours: Option<TimeRange>,
    pub minutes: Vec<TimeRange>,
    pub raw: Vec<TimeRange>,
}

impl TimeRange {
    /// A bucket width for time series giving at most about 200 points: hour, day or week.
    pub fn bucket_seconds(&self) -> u32 {
        let hours = (self.to_ms - self.from_ms) / HOUR_MS;
        match hours {
            0..=72 => 3600,
            73..=2400 => 86_400,
            _ => 7 * 86_400,
        }
    }

    /// The series bucket `at_ms` falls in (buckets are aligned to the Unix epoch, in UTC).
    pub fn bucket_of(at_ms: i64, bucket_seconds: u32) -> i64 {
        let width = i64::from(bucket_seconds) * 1000;
        at_ms.div_euclid(width) * width
    }

    /// `[start of from's UTC day, end of to's UTC day)`: the days a per-day rollup covers.
    pub fn whole_days(&self) -> TimeRange {
        TimeRange {
            from_ms: self.from_ms.div_euclid(DAY_MS) * DAY_MS,
            to_ms: self.to_ms.div_euclid(DAY_MS) * DAY_MS + DAY_MS,
        }
    }

    fn is_empty(&self) -> bool {
        self.from_ms >= self.to_ms
    }

    /// The whole `unit`s inside the range (if any), and the parts before and after them.
    fn split_units(&self, unit: i64) -> (Option<TimeRange>, [TimeRange; 2]) {
        let first = self.from_ms.div_euclid(unit) * unit
            + if self.from_ms.rem_euclid(unit) == 0 {
                0
            } else {
                unit
            };
        let last = self.to_ms.div_euclid(unit) * unit;
        if first >= last {
            let empty = TimeRange {
                from_ms: self.to_ms,
                to_ms: self.to_ms,
            };
            return (None, [*self, empty]);
        }
        let head = TimeRange {
            from_ms: self.from_ms,
            to_ms: first,
        };
        let tail = TimeRange {
            from_ms: last,
            to_ms: self.to_ms,
        };
        (
            Some(TimeRange {
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

/// One session in a list, or a session's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clickhouse::Row)]
pub struct SessionSummary {
    pub session_id: String,
    pub user_id: String,
    pub anonymous_id: String,
    pub started_ms: i64,
    pub ended_ms: i64,
    pub duration_ms: u64,
    pub is_active: bool,
    pub entry_url: String,
    pub entry_path: String,
    pub exit_path: String,
    pub referrer: String,
    pub page_count: u32,
    pub event_count: u32,
    pub click_count: u32,
    pub error_count: u32,
    pub max_scroll_depth: u8,
    pub has_error: bool,
    pub has_rage_click: bool,
    pub has_dead_click: bool,
    pub is_bounce: bool,
    pub has_replay: bool,
    pub country_code: String,
    pub city: String,
    pub browser: String,
    pub browser_version: String,
    pub os: String,
    pub device_type: String,
    pub viewport_width: u32,
    pub viewport_height: u32,
    pub utm_source: String,
    pub utm_medium: String,
    pub utm_campaign: String,
    /// The value the list is sorted by (for its cursor); 0 outside lists.
    pub sort_key: i64,
}

/// What sessions lists are sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionSort {
    StartedAt,
    Duration,
    Events,
}

/// A sessions list query. Text filters are bound as parameters by every store.
#[derive(Debug, Clone)]
pub struct SessionFilter {
    pub range: TimeRange,
    pub user_id: Option<String>,
    /// One browser's sessions.
    pub anonymous_id: Option<String>,
    /// Sessions that visited this path.
    pub path: Option<String>,
    /// Sessions whose entry URL or any page URL contains this text (ASCII case-insensitive).
    pub url: Option<String>,
    pub country: Option<String>,
    pub device: Option<String>,
    pub browser: Option<String>,
    pub has_error: Option<bool>,
    pub has_rage_click: Option<bool>,
    pub has_dead_click: Option<bool>,
    pub min_duration_ms: Option<u64>,
    pub max_duration_ms: Option<u64>,
    pub min_events: Option<u32>,
    pub sort: SessionSort,
    pub descending: bool,
    /// Rows strictly after this (sort key, session id), in the list's order.
    pub cursor: Option<(i64, Uuid)>,
    pub limit: u32,
}

/// One event of a session's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clickhouse::Row)]
pub struct TimelineEvent {
    pub event_id: String,
    pub event_type: String,
    pub timestamp_ms: i64,
    pub url: String,
    pub path: String,
    pub x: i32,
    pub y: i32,
    pub target_selector: String,
    pub target_text: String,
    pub error_message: String,
    pub metric_name: String,
    pub metric_value: f64,
    pub payload: String,
}

/// One insight of a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clickhouse::Row)]
pub struct SessionInsight {
    pub insight_id: String,
    pub insight_type: String,
    pub timestamp_ms: i64,
    pub url: String,
    pub path: String,
    pub x: i32,
    pub y: i32,
    pub selector: String,
    pub details: String,
}

/// One replay chunk as stored, for playback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clickhouse::Row)]
pub struct ReplayChunk {
    pub chunk_index: u32,
    pub first_ms: i64,
    pub last_ms: i64,
    pub has_full_snapshot: bool,
    pub event_count: u32,
    pub encoding: String,
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// Session-row counters over a range (`bucket_ms` 0) or one series bucket.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, clickhouse::Row)]
pub struct SessionCounters {
    pub bucket_ms: i64,
    pub sessions: u64,
    pub users: u64,
    pub bounces: u64,
    pub avg_duration_ms: f64,
    pub rage_sessions: u64,
    pub dead_sessions: u64,
    pub error_sessions: u64,
    pub page_views: u64,
    pub errors: u64,
}

/// Rage and dead click insights in one series bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clickhouse::Row)]
pub struct Frustration {
    pub bucket_ms: i64,
    pub rage_clicks: u64,
    pub dead_clicks: u64,
}

/// A key and how often it occurs, for top lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, clickhouse::Row)]
pub struct Count {
    pub key: String,
    pub count: u64,
}

/// A web vital's p75 over the range (`bucket_ms` 0) or one series bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clickhouse::Row)]
pub struct Vital {
    pub bucket_ms: i64,
    pub name: String,
    pub p75: f64,
    pub samples: u64,
}

/// Everything the overview shows, before it is shaped into the answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OverviewData {
    pub totals: SessionCounters,
    /// Per series bucket that has sessions, in bucket order.
    pub series: Vec<SessionCounters>,
    pub frustration: Vec<Frustration>,
    /// The ten most frequent of each, most frequent first, ties by key.
    pub referrers: Vec<Count>,
    pub countries: Vec<Count>,
    pub devices: Vec<Count>,
    pub browsers: Vec<Count>,
    pub top_pages: Vec<Count>,
    /// Over the range, by name.
    pub vitals: Vec<Vital>,
    /// Per series bucket, by bucket and name.
    pub vitals_series: Vec<Vital>,
}

/// Viewport width classes of heatmaps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewportBucket {
    /// Below 768 px.
    Mobile,
    /// 768 to 1023 px.
    Tablet,
    /// 1024 px and wider.
    Desktop,
}

impl ViewportBucket {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "mobile" => Some(Self::Mobile),
            "tablet" => Some(Self::Tablet),
            "desktop" => Some(Self::Desktop),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mobile => "mobile",
            Self::Tablet => "tablet",
            Self::Desktop => "desktop",
        }
    }

    /// `[min, max)` viewport widths.
    pub fn widths(self) -> (u32, u32) {
        match self {
            Self::Mobile => (0, 768),
            Self::Tablet => (768, 1024),
            Self::Desktop => (1024, u32::MAX),
        }
    }
}

/// Columns of a click heatmap: x is cut in this many columns of the viewport width.
pub const HEATMAP_COLUMNS: u32 = 200;
/// Rows of a click heatmap: y is cut in rows of this many page pixels.
pub const HEATMAP_ROW_PX: u32 = 10;

#[derive(Debug, Clone)]
pub struct HeatmapQuery {
    /// Clicks are counted over the whole UTC days the range touches.
    pub range: TimeRange,
    pub path: String,
    pub device: ViewportBucket,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, clickhouse::Row)]
pub struct Cell {
    pub grid_x: u16,
    pub grid_y: u32,
    pub clicks: u64,
}

/// Sessions that scrolled at least `depth` percent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, clickhouse::Row)]
pub struct Depth {
    pub depth: u8,
    pub sessions: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, clickhouse::Row)]
pub struct Element {
    pub selector: String,
    pub text: String,
    pub clicks: u64,
    pub sessions: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeatmapData {
    /// By row, then column.
    pub cells: Vec<Cell>,
    /// 0, 10, ... 100 %.
    pub depths: Vec<Depth>,
    /// The 20 most clicked, most first, ties by selector.
    pub elements: Vec<Element>,
}

#[derive(Debug, Clone)]
pub struct InsightQuery {
    pub range: TimeRange,
    pub insight_type: Option<String>,
    pub path: Option<String>,
    pub limit: u32,
}

/// Insights of one type, path and selector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clickhouse::Row)]
pub struct InsightGroup {
    pub insight_type: String,
    pub path: String,
    pub selector: String,
    pub count: u64,
    pub sessions: u64,
    pub last_seen_ms: i64,
    /// Up to five of the sessions.
    pub example_sessions: Vec<String>,
}

/// Errors with one fingerprint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clickhouse::Row)]
pub struct ErrorGroup {
    pub fingerprint: u64,
    pub kind: String,
    pub message: String,
    /// The first 4,096 bytes of one of the stacks.
    pub top_stack: String,
    pub count: u64,
    pub sessions: u64,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// Up to five of the sessions.
    pub example_sessions: Vec<String>,
}

/// The 75th percentile with linear interpolation between the closest ranks (as ClickHouse's
/// `quantile` computes it for samples smaller than its reservoir). `values` need not be sorted.
pub fn p75(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let index = 0.75 * (values.len() - 1) as f64;
    let low = index.floor() as usize;
    let high = index.ceil() as usize;
    values[low] + (values[high] - values[low]) * (index - low as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covered(split: &RollupSplit) -> i64 {
        let len = |r: &TimeRange| r.to_ms - r.from_ms;
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
            let range = TimeRange { from_ms, to_ms };
            let split = range.rollup_split();
            assert_eq!(covered(&split), to_ms - from_ms, "{range:?}");
            let parts = split.hours.iter().chain(&split.minutes).chain(&split.raw);
            let mut parts: Vec<TimeRange> = parts.copied().collect();
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
        let aligned = TimeRange {
            from_ms: 3 * m,
            to_ms: 2 * h + 7 * m,
        }
        .rollup_split();
        assert_eq!(
            aligned.hours,
            Some(TimeRange {
                from_ms: h,
                to_ms: 2 * h
            })
        );
        assert_eq!(aligned.minutes.len(), 2);
        assert!(
            aligned.raw.is_empty(),
            "minute-aligned bounds read no raw rows"
        );
        let inside = TimeRange {
            from_ms: 10,
            to_ms: 20,
        }
        .rollup_split();
        assert_eq!((inside.hours, inside.minutes.len()), (None, 0));
        assert_eq!(
            inside.raw,
            [TimeRange {
                from_ms: 10,
                to_ms: 20
            }]
        );
    }

    #[test]
    fn buckets_and_days_are_aligned() {
        let range = TimeRange {
            from_ms: DAY_MS + 5,
            to_ms: 3 * DAY_MS + 7,
        };
        assert_eq!(range.bucket_seconds(), 3600);
        assert_eq!(
            range.whole_days(),
            TimeRange {
                from_ms: DAY_MS,
                to_ms: 4 * DAY_MS
            }
        );
        assert_eq!(TimeRange::bucket_of(HOUR_MS + 1, 3600), HOUR_MS);
        assert_eq!(TimeRange::bucket_of(-1, 3600), -HOUR_MS);
    }

    #[test]
    fn p75_interpolates_between_ranks() {
        assert_eq!(p75(&mut []), 0.0);
        assert_eq!(p75(&mut [7.0]), 7.0);
        assert_eq!(p75(&mut [4.0, 1.0, 3.0, 2.0]), 3.25);
        assert_eq!(p75(&mut [10.0, 20.0, 30.0, 40.0, 50.0]), 40.0);
    }
}

/// Whose stored data [`super::AnalyticsStore::erase`] removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErasureSubject {
    /// One session.
    Session(Uuid),
    /// Every session with this `user_id` on its row or on any of its events.
    User(String),
    /// Every session of this anonymous (browser) id.
    Anonymous(String),
}

impl ErasureSubject {
    /// The column of `sessions` and `events` the subject is found by.
    pub fn column(&self) -> &'static str {
        match self {
            ErasureSubject::Session(_) => "session_id",
            ErasureSubject::User(_) => "user_id",
            ErasureSubject::Anonymous(_) => "anonymous_id",
        }
    }
}

/// One step of a funnel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum FunnelStep {
    /// A page view of this path; a trailing `*` matches every path it starts.
    Page(String),
    /// A custom event (`GoSight.track`) of this name.
    Event(String),
}

impl FunnelStep {
    /// Whether an event of `event_type` on `path`, named `custom_name`, is this step.
    pub fn matches(&self, event_type: &str, path: &str, custom_name: &str) -> bool {
        match self {
            FunnelStep::Page(pattern) => {
                event_type == "page_view"
                    && match pattern.strip_suffix('*') {
                        Some(prefix) => path.starts_with(prefix),
                        None => path == pattern,
                    }
            }
            FunnelStep::Event(name) => event_type == "custom" && custom_name == name,
        }
    }
}

/// Most steps in one funnel.
pub const MAX_FUNNEL_STEPS: usize = 10;

#[derive(Debug, Clone)]
pub struct FunnelQuery {
    /// Events in this range count.
    pub range: TimeRange,
    pub steps: Vec<FunnelStep>,
}

/// How many sessions reached each step, in order: `sessions[i]` did step 0, then step 1, …,
/// then step `i`, within the range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunnelData {
    pub sessions: Vec<u64>,
}

impl FunnelData {
    /// From the number of sessions whose furthest step was each level (`1` = the first step).
    pub fn from_levels(steps: usize, levels: impl IntoIterator<Item = (usize, u64)>) -> Self {
        let mut sessions = vec![0; steps];
        for (level, count) in levels {
            for reached in sessions.iter_mut().take(level.min(steps)) {
                *reached += count;
            }
        }
        Self { sessions }
    }
}

/// How far one session's events (in time order, `(timestamp_ms, event_type, path,
/// custom_name)`) go through `steps`: the number of steps done in order. Events of the same
/// millisecond count in any order, and one event may do several steps in a row (a page view
/// of `/docs/install` for steps `/docs*` then `/docs/install`), as ClickHouse's `windowFunnel`
/// counts them.
pub fn funnel_level<'a>(
    steps: &[FunnelStep],
    events: impl IntoIterator<Item = (i64, &'a str, &'a str, &'a str)>,
) -> usize {
    let mut level = 0;
    let mut group: Vec<(&str, &str, &str)> = Vec::new();
    let mut group_at = None;
    let advance = |group: &[(&str, &str, &str)], level: &mut usize| {
        while let Some(step) = steps.get(*level) {
            if !group.iter().any(|(t, p, c)| step.matches(t, p, c)) {
                break;
            }
            *level += 1;
        }
    };
    for (at, event_type, path, custom_name) in events {
        if group_at != Some(at) {
            advance(&group, &mut level);
            group.clear();
            group_at = Some(at);
        }
        group.push((event_type, path, custom_name));
    }
    advance(&group, &mut level);
    level
}

#[cfg(test)]
mod funnel_tests {
    use super::*;

    fn page(p: &str) -> FunnelStep {
        FunnelStep::Page(p.into())
    }

    #[test]
    fn steps_count_in_order_only() {
        let steps = [
            page("/"),
            page("/pricing"),
            FunnelStep::Event("signup".into()),
        ];
        let level =
            |events: &[(i64, &str, &str, &str)]| funnel_level(&steps, events.iter().copied());
        assert_eq!(level(&[]), 0);
        assert_eq!(level(&[(1, "page_view", "/pricing", "")]), 0);
        assert_eq!(
            level(&[
                (1, "page_view", "/", ""),
                (2, "click", "/pricing", ""),
                (3, "page_view", "/pricing", "")
            ]),
            2
        );
        assert_eq!(
            level(&[
                (1, "page_view", "/", ""),
                (2, "custom", "/", "signup"),
                (3, "page_view", "/pricing", "")
            ]),
            2,
            "signing up before seeing the prices is not the funnel"
        );
        assert_eq!(
            level(&[
                (1, "page_view", "/", ""),
                (2, "page_view", "/pricing", ""),
                (3, "custom", "/pricing", "signup")
            ]),
            3
        );
    }

    #[test]
    fn one_event_or_one_millisecond_may_do_several_steps() {
        let docs = [page("/docs*"), page("/docs/install")];
        assert_eq!(
            funnel_level(&docs, [(1, "page_view", "/docs/install", "")]),
            2
        );
        assert_eq!(funnel_level(&docs, [(1, "page_view", "/doc", "")]), 0);
        let ab = [page("/a"), page("/b")];
        assert_eq!(
            funnel_level(
                &ab,
                [(5, "page_view", "/b", ""), (5, "page_view", "/a", "")]
            ),
            2
        );
        assert_eq!(
            funnel_level(
                &ab,
                [(5, "page_view", "/b", ""), (6, "page_view", "/a", "")]
            ),
            1
        );
    }

    #[test]
    fn levels_add_up_to_the_steps_reached() {
        let data = FunnelData::from_levels(3, [(1, 10), (3, 2), (2, 5)]);
        assert_eq!(data.sessions, [17, 7, 2]);
    }
}
