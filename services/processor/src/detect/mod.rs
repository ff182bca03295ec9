//! UX insight detectors: plain functions over plain window structs, no runtime, no I/O.
//!
//! Each session actor owns one [`Windows`] and feeds it every event in timestamp order through
//! [`Windows::observe`], and calls [`Windows::close`] when the session ends; both give the
//! insights found. Thresholds are per project ([`Thresholds`], defaults below).
//!
//! | insight | default rule |
//! |---|---|
//! | rage click | more than 5 clicks (≥ 6) within 2 s, each within 30 px of the first or on the same selector; one insight per burst, emitted when the burst ends |
//! | dead click | a click whose outcome (from the SDK, 1 s window) shows no DOM mutation, navigation, scroll or focus change; clicks on editable elements and text selections never count |
//! | thrashed cursor | ≥ 5 direction reversals within 1.5 s, each leg at ≥ 400 px/s |
//! | error click | a click followed by a JS error within 1 s |
//! | excessive scrolling | ≥ 4 changes of scroll direction on one page within 10 s, each leg ≥ 100 px |
//! | quick back | returning to the previous URL within 5 s of leaving it |

mod dead;
mod error_click;
mod quick_back;
mod rage;
mod scroll;
mod thrash;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use dead::DeadClickWindow;
pub use error_click::ErrorClickWindow;
pub use quick_back::QuickBackWindow;
pub use rage::RageWindow;
pub use scroll::ScrollWindow;
pub use thrash::ThrashWindow;

/// What a detector found, before the session actor adds session and page context.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub kind: InsightKind,
    /// When it happened (the first event of the evidence), Unix ms.
    pub at_ms: i64,
    pub url: String,
    pub x: i32,
    pub y: i32,
    pub selector: String,
    /// The evidence: a JSON object for the `details` column, from [`evidence`].
    pub details: String,
    pub related_event_ids: Vec<Uuid>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InsightKind {
    RageClick,
    DeadClick,
    ThrashedCursor,
    ErrorClick,
    ExcessiveScrolling,
    QuickBack,
}

impl InsightKind {
    pub fn as_str(self) -> &'static str {
        match self {
            InsightKind::RageClick => "rage_click",
            InsightKind::DeadClick => "dead_click",
            InsightKind::ThrashedCursor => "thrashed_cursor",
            InsightKind::ErrorClick => "error_click",
            InsightKind::ExcessiveScrolling => "excessive_scrolling",
            InsightKind::QuickBack => "quick_back",
        }
    }
}

/// A finding's evidence as the JSON object the `details` column holds: `value` is a struct of
/// the detector's, its fields in alphabetical order (as the keys of a JSON map come out).
pub fn evidence(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Per-project thresholds; every field has the documented default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    pub rage_min_clicks: usize,
    pub rage_window_ms: i64,
    pub rage_radius_px: i32,
    pub dead_click_window_ms: u32,
    pub thrash_min_reversals: usize,
    pub thrash_window_ms: i64,
    pub thrash_min_speed_px_s: f64,
    pub error_click_window_ms: i64,
    pub scroll_min_reversals: usize,
    pub scroll_window_ms: i64,
    pub scroll_min_leg_px: i32,
    pub quick_back_ms: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            rage_min_clicks: 6,
            rage_window_ms: 2_000,
            rage_radius_px: 30,
            dead_click_window_ms: 1_000,
            thrash_min_reversals: 5,
            thrash_window_ms: 1_500,
            thrash_min_speed_px_s: 400.0,
            error_click_window_ms: 1_000,
            scroll_min_reversals: 4,
            scroll_window_ms: 10_000,
            scroll_min_leg_px: 100,
            quick_back_ms: 5_000,
        }
    }
}

impl Thresholds {
    /// The longest time any detector looks back.
    pub fn longest_window_ms(&self) -> i64 {
        [
            self.rage_window_ms,
            i64::from(self.dead_click_window_ms),
            self.thrash_window_ms,
            self.error_click_window_ms,
            self.scroll_window_ms,
            self.quick_back_ms,
        ]
        .into_iter()
        .max()
        .unwrap_or_default()
    }
}

/// A click as the detectors need it.
#[derive(Debug, Clone, PartialEq)]
pub struct Click {
    pub event_id: Uuid,
    pub at_ms: i64,
    pub url: Arc<str>,
    pub x: i32,
    pub y: i32,
    pub selector: Arc<str>,
    /// The click ended a text selection: never a dead click.
    pub selected_text: bool,
}

/// What a detector is fed: the few event kinds detection looks at, each with its event's id (the
/// ingest lets only UUIDs through). Strings a window may keep (URLs, selectors) are shared, not
/// copied, as windows hold them for seconds.
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    /// Shared: several windows keep the same click.
    Click(Arc<Click>),
    /// The SDK's report on what followed a click.
    ClickOutcome {
        click_event_id: Uuid,
        at_ms: i64,
        /// The page mutated, navigated, scrolled or moved focus within the window.
        responded: bool,
        editable_target: bool,
    },
    JsError {
        event_id: Uuid,
        at_ms: i64,
        message: String,
    },
    MouseMove {
        at_ms: i64,
        x: i32,
        y: i32,
    },
    Scroll {
        event_id: Uuid,
        at_ms: i64,
        url: Arc<str>,
        scroll_y: i32,
    },
    PageView {
        event_id: Uuid,
        at_ms: i64,
        url: Arc<str>,
    },
}

/// Quiet this long, a session's windows are closed and freed (unless its project's thresholds
/// span longer windows): longer than any default window.
pub const QUIET_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// All detection windows of one session.
#[derive(Debug, Default)]
pub struct Windows {
    pub rage: RageWindow,
    pub dead: DeadClickWindow,
    pub thrash: ThrashWindow,
    pub error_click: ErrorClickWindow,
    pub scroll: ScrollWindow,
    pub quick_back: QuickBackWindow,
}

impl Windows {
    /// Feeds one signal to every detector; what they found is appended to `found`.
    pub fn observe(&mut self, signal: &Signal, t: &Thresholds, found: &mut Vec<Finding>) {
        found.extend(rage::observe(&mut self.rage, signal, t));
        found.extend(dead::observe(&mut self.dead, signal, t));
        found.extend(thrash::observe(&mut self.thrash, signal, t));
        found.extend(error_click::observe(&mut self.error_click, signal, t));
        found.extend(scroll::observe(&mut self.scroll, signal, t));
        found.extend(quick_back::observe(&mut self.quick_back, signal, t));
    }

    /// Ends every open window (session end or idle): bursts still open are reported.
    pub fn close(&mut self, t: &Thresholds) -> Vec<Finding> {
        let mut found = Vec::new();
        found.extend(rage::close(&mut self.rage, t));
        found.extend(thrash::close(&mut self.thrash, t));
        found.extend(scroll::close(&mut self.scroll, t));
        *self = Windows::default();
        found
    }
}
