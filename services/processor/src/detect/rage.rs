//! Rage clicks: a burst of clicks on one spot. A burst grows while each click lands within
//! `rage_radius_px` of the burst's first click (or on the same selector, on the same page) and
//! follows the previous one within `rage_window_ms`. When it ends, it is a rage click if some
//! `rage_window_ms` span of it holds at least `rage_min_clicks` clicks: one finding per burst.

use std::sync::Arc;

use serde::Serialize;

use super::{Click, Finding, InsightKind, Signal, Thresholds, evidence};

#[derive(Serialize)]
struct Evidence {
    clicks: usize,
    duration_ms: i64,
    radius_px: i32,
}

/// Clicks kept per burst; a longer burst still counts, its evidence is cut.
const MAX_BURST: usize = 200;

#[derive(Debug, Default)]
pub struct RageWindow {
    burst: Vec<Arc<Click>>,
    /// Clicks in the burst, including any past `MAX_BURST`.
    count: usize,
    last_ms: i64,
}

fn same_area(first: &Click, click: &Click, t: &Thresholds) -> bool {
    if first.url != click.url {
        return false;
    }
    if !first.selector.is_empty() && first.selector == click.selector {
        return true;
    }
    let (dx, dy) = (i64::from(first.x - click.x), i64::from(first.y - click.y));
    dx * dx + dy * dy <= i64::from(t.rage_radius_px) * i64::from(t.rage_radius_px)
}

/// Most clicks of `burst` inside any span of `window_ms`.
fn densest(burst: &[Arc<Click>], window_ms: i64) -> usize {
    let mut best = 0;
    let mut start = 0;
    for end in 0..burst.len() {
        while burst[end].at_ms - burst[start].at_ms > window_ms {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

pub fn observe(w: &mut RageWindow, signal: &Signal, t: &Thresholds) -> Option<Finding> {
    let at = match signal {
        Signal::Click(c) => c.at_ms,
        Signal::JsError { at_ms, .. }
        | Signal::MouseMove { at_ms, .. }
        | Signal::Scroll { at_ms, .. }
        | Signal::PageView { at_ms, .. }
        | Signal::ClickOutcome { at_ms, .. } => *at_ms,
    };
    let mut finding = None;
    if !w.burst.is_empty() && at - w.last_ms > t.rage_window_ms {
        finding = close(w, t);
    }
    let Signal::Click(click) = signal else {
        return finding;
    };
    if let Some(first) = w.burst.first()
        && !same_area(first, click, t)
    {
        finding = close(w, t).or(finding);
    }
    w.count += 1;
    w.last_ms = click.at_ms;
    if w.burst.len() < MAX_BURST {
        w.burst.push(click.clone());
    }
    finding
}

pub fn close(w: &mut RageWindow, t: &Thresholds) -> Option<Finding> {
    let burst = std::mem::take(&mut w.burst);
    let count = std::mem::take(&mut w.count);
    let first = burst.first()?;
    if densest(&burst, t.rage_window_ms) < t.rage_min_clicks {
        return None;
    }
    let last = burst.last().unwrap_or(first);
    Some(Finding {
        kind: InsightKind::RageClick,
        at_ms: first.at_ms,
        url: first.url.to_string(),
        x: first.x,
        y: first.y,
        selector: first.selector.to_string(),
        details: evidence(&Evidence {
            clicks: count,
            duration_ms: last.at_ms - first.at_ms,
            radius_px: t.rage_radius_px,
        }),
        related_event_ids: burst.iter().map(|c| c.event_id).collect(),
    })
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn click(at_ms: i64, x: i32, y: i32) -> Signal {
        Signal::Click(Arc::new(Click {
            event_id: Uuid::from_u64_pair(0, at_ms as u64),
            at_ms,
            url: "https://shop.example/".into(),
            x,
            y,
            selector: "".into(),
            selected_text: false,
        }))
    }

    fn run(signals: &[Signal]) -> Vec<Finding> {
        let t = Thresholds::default();
        let mut w = RageWindow::default();
        let mut found: Vec<Finding> = signals
            .iter()
            .filter_map(|s| observe(&mut w, s, &t))
            .collect();
        found.extend(close(&mut w, &t));
        found
    }

    #[test]
    fn six_quick_clicks_on_one_spot_are_one_rage_click() {
        let signals: Vec<Signal> = (0..8)
            .map(|i| click(1_000 + i * 150, 100 + (i as i32 % 3) * 5, 200))
            .collect();
        let found = run(&signals);
        assert_eq!(found.len(), 1, "one insight per burst");
        assert_eq!(
            found[0].details,
            r#"{"clicks":8,"duration_ms":1050,"radius_px":30}"#
        );
        assert_eq!(found[0].related_event_ids.len(), 8);
    }

    #[test]
    fn five_clicks_are_not_enough() {
        let signals: Vec<Signal> = (0..5).map(|i| click(1_000 + i * 100, 100, 200)).collect();
        assert!(run(&signals).is_empty());
    }

    #[test]
    fn slow_or_scattered_clicks_are_not_rage() {
        let slow: Vec<Signal> = (0..8).map(|i| click(1_000 + i * 2_100, 100, 200)).collect();
        assert!(run(&slow).is_empty());
        let scattered: Vec<Signal> = (0..8)
            .map(|i| click(1_000 + i * 100, 100 + i as i32 * 40, 200))
            .collect();
        assert!(run(&scattered).is_empty());
    }

    #[test]
    fn two_bursts_are_two_insights() {
        let mut signals: Vec<Signal> = (0..6).map(|i| click(1_000 + i * 100, 100, 200)).collect();
        signals.extend((0..6).map(|i| click(10_000 + i * 100, 500, 600)));
        assert_eq!(run(&signals).len(), 2);
    }
}
