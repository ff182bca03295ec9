//! Excessive scrolling: scrolling up and down on one page as if searching. A direction change
//! counts when the leg before it covered at least `scroll_min_leg_px`; changes chain into a burst
//! while each follows the last within `scroll_window_ms`, and a burst with at least
//! `scroll_min_reversals` changes inside one window is one finding. A new page closes the burst.

use std::sync::Arc;

use serde::Serialize;
use uuid::Uuid;

use super::{Finding, InsightKind, Signal, Thresholds, evidence};

#[derive(Serialize)]
struct Evidence {
    direction_changes: usize,
    duration_ms: i64,
}

const MAX_CHANGES: usize = 200;

#[derive(Debug, Default)]
pub struct ScrollWindow {
    url: Arc<str>,
    last_y: Option<i32>,
    direction: i32,
    leg_start_y: i32,
    changes: Vec<i64>,
    event_ids: Vec<Uuid>,
}

pub fn observe(w: &mut ScrollWindow, signal: &Signal, t: &Thresholds) -> Option<Finding> {
    match signal {
        Signal::Scroll {
            event_id,
            at_ms,
            url,
            scroll_y,
        } => {
            let mut finding = None;
            if *url != w.url {
                finding = close(w, t);
                w.url = url.clone();
            } else if w
                .changes
                .last()
                .is_some_and(|last| at_ms - last > t.scroll_window_ms)
            {
                finding = close(w, t);
            }
            if let Some(last_y) = w.last_y {
                let direction = (scroll_y - last_y).signum();
                if direction != 0 && direction != w.direction {
                    if w.direction != 0
                        && (last_y - w.leg_start_y).abs() >= t.scroll_min_leg_px
                        && w.changes.len() < MAX_CHANGES
                    {
                        w.changes.push(*at_ms);
                        w.event_ids.push(*event_id);
                    }
                    w.direction = direction;
                    w.leg_start_y = last_y;
                }
            } else {
                w.leg_start_y = *scroll_y;
            }
            w.last_y = Some(*scroll_y);
            finding
        }
        Signal::PageView { url, .. } if *url != w.url => {
            let finding = close(w, t);
            *w = ScrollWindow {
                url: url.clone(),
                ..Default::default()
            };
            finding
        }
        _ => None,
    }
}

pub fn close(w: &mut ScrollWindow, t: &Thresholds) -> Option<Finding> {
    let changes = std::mem::take(&mut w.changes);
    let event_ids = std::mem::take(&mut w.event_ids);
    let first = *changes.first()?;
    let mut best = 0;
    let mut start = 0;
    for end in 0..changes.len() {
        while changes[end] - changes[start] > t.scroll_window_ms {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    if best < t.scroll_min_reversals {
        return None;
    }
    Some(Finding {
        kind: InsightKind::ExcessiveScrolling,
        at_ms: first,
        url: w.url.to_string(),
        x: 0,
        y: w.last_y.unwrap_or_default(),
        selector: String::new(),
        details: evidence(&Evidence {
            direction_changes: changes.len(),
            duration_ms: changes.last().copied().unwrap_or(first) - first,
        }),
        related_event_ids: event_ids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrolls(ys: &[i32], step_ms: i64) -> Vec<Finding> {
        let t = Thresholds::default();
        let mut w = ScrollWindow::default();
        let mut found: Vec<Finding> = ys
            .iter()
            .enumerate()
            .filter_map(|(i, &y)| {
                let signal = Signal::Scroll {
                    event_id: Uuid::from_u64_pair(0, i as u64),
                    at_ms: 1_000 + i as i64 * step_ms,
                    url: "https://docs.example/page".into(),
                    scroll_y: y,
                };
                observe(&mut w, &signal, &t)
            })
            .collect();
        found.extend(close(&mut w, &t));
        found
    }

    #[test]
    fn up_and_down_repeatedly_is_excessive() {
        let ys = [0, 400, 800, 300, 0, 600, 900, 200, 700, 100, 800];
        assert_eq!(scrolls(&ys, 300).len(), 1);
    }

    #[test]
    fn reading_down_the_page_is_not() {
        let ys: Vec<i32> = (0..30).map(|i| i * 120).collect();
        assert!(scrolls(&ys, 300).is_empty());
        // Small jitters below the leg threshold do not count either.
        let jitter = [0, 30, 0, 30, 0, 30, 0, 30, 0];
        assert!(scrolls(&jitter, 100).is_empty());
    }
}
