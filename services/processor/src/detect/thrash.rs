//! Thrashed cursor: the pointer shaken back and forth. A reversal is a change of horizontal or
//! vertical direction between two legs that both move at least `thrash_min_speed_px_s`. Reversals
//! chain into a burst while each follows the last within `thrash_window_ms`; a burst with at least
//! `thrash_min_reversals` reversals inside one `thrash_window_ms` span is one finding.

use std::sync::Arc;

use serde::Serialize;

use super::{Finding, InsightKind, Signal, Thresholds, evidence};

#[derive(Serialize)]
struct Evidence {
    duration_ms: i64,
    min_speed_px_s: f64,
    reversals: usize,
}

const MAX_REVERSALS: usize = 200;

#[derive(Debug, Default)]
pub struct ThrashWindow {
    last: Option<(i64, i32, i32)>,
    /// Direction and speed of the previous leg per axis: (sign, px/s).
    leg_x: (i32, f64),
    leg_y: (i32, f64),
    /// Reversals of the current burst: (time, x, y).
    reversals: Vec<(i64, i32, i32)>,
    url: Arc<str>,
}

fn leg(delta: i32, dt_ms: i64) -> (i32, f64) {
    (
        delta.signum(),
        f64::from(delta.abs()) * 1000.0 / dt_ms as f64,
    )
}

fn reversed(prev: (i32, f64), now: (i32, f64), min_speed: f64) -> bool {
    prev.0 != 0 && now.0 != 0 && prev.0 != now.0 && prev.1 >= min_speed && now.1 >= min_speed
}

pub fn observe(w: &mut ThrashWindow, signal: &Signal, t: &Thresholds) -> Option<Finding> {
    let mut finding = None;
    match signal {
        Signal::MouseMove { at_ms, x, y } => {
            if let Some(&(last_at, _, _)) = w.reversals.last()
                && at_ms - last_at > t.thrash_window_ms
            {
                finding = close(w, t);
            }
            if let Some((pat, px, py)) = w.last
                && *at_ms > pat
            {
                let dt = at_ms - pat;
                let (lx, ly) = (leg(x - px, dt), leg(y - py, dt));
                let min = t.thrash_min_speed_px_s;
                if (reversed(w.leg_x, lx, min) || reversed(w.leg_y, ly, min))
                    && w.reversals.len() < MAX_REVERSALS
                {
                    w.reversals.push((pat, px, py));
                }
                if lx.0 != 0 {
                    w.leg_x = lx;
                }
                if ly.0 != 0 {
                    w.leg_y = ly;
                }
            }
            w.last = Some((*at_ms, *x, *y));
        }
        Signal::PageView { url, .. } => {
            finding = close(w, t);
            w.url.clone_from(url);
            w.last = None;
        }
        Signal::Click(click) => w.url.clone_from(&click.url),
        _ => {}
    }
    finding
}

pub fn close(w: &mut ThrashWindow, t: &Thresholds) -> Option<Finding> {
    let reversals = std::mem::take(&mut w.reversals);
    let first = *reversals.first()?;
    let mut best = 0;
    let mut start = 0;
    for end in 0..reversals.len() {
        while reversals[end].0 - reversals[start].0 > t.thrash_window_ms {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    if best < t.thrash_min_reversals {
        return None;
    }
    let last = reversals.last().copied().unwrap_or(first);
    Some(Finding {
        kind: InsightKind::ThrashedCursor,
        at_ms: first.0,
        url: w.url.to_string(),
        x: first.1,
        y: first.2,
        selector: String::new(),
        details: evidence(&Evidence {
            duration_ms: last.0 - first.0,
            min_speed_px_s: t.thrash_min_speed_px_s,
            reversals: reversals.len(),
        }),
        related_event_ids: vec![],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moves(points: &[(i64, i32, i32)]) -> Vec<Finding> {
        let t = Thresholds::default();
        let mut w = ThrashWindow::default();
        let mut found: Vec<Finding> = points
            .iter()
            .filter_map(|&(at_ms, x, y)| observe(&mut w, &Signal::MouseMove { at_ms, x, y }, &t))
            .collect();
        found.extend(close(&mut w, &t));
        found
    }

    #[test]
    fn fast_shaking_is_thrashing() {
        // Left-right every 100 ms over 200 px: 2000 px/s, a reversal at every point.
        let points: Vec<(i64, i32, i32)> = (0..10)
            .map(|i| (1_000 + i * 100, if i % 2 == 0 { 100 } else { 300 }, 50))
            .collect();
        let found = moves(&points);
        assert_eq!(found.len(), 1);
        let details: serde_json::Value = serde_json::from_str(&found[0].details).unwrap();
        assert!(details["reversals"].as_u64().unwrap() >= 5);
        assert_eq!(details["min_speed_px_s"], 400.0);
    }

    #[test]
    fn slow_or_straight_movement_is_not() {
        let slow: Vec<(i64, i32, i32)> = (0..10)
            .map(|i| (1_000 + i * 1_000, if i % 2 == 0 { 100 } else { 300 }, 50))
            .collect();
        assert!(moves(&slow).is_empty());
        let straight: Vec<(i64, i32, i32)> = (0..20)
            .map(|i| (1_000 + i * 50, i as i32 * 40, 50))
            .collect();
        assert!(moves(&straight).is_empty());
    }
}
