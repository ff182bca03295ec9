//! Error clicks: a JS error within `error_click_window_ms` after a click. The error is blamed on
//! the latest click before it; each click is blamed at most once.

use std::collections::VecDeque;
use std::sync::Arc;

use serde::Serialize;

use super::{Click, Finding, InsightKind, Signal, Thresholds, evidence};

#[derive(Serialize)]
struct Evidence<'a> {
    delay_ms: i64,
    error: &'a str,
}

const MAX_RECENT: usize = 16;

#[derive(Debug, Default)]
pub struct ErrorClickWindow {
    recent: VecDeque<Arc<Click>>,
}

pub fn observe(w: &mut ErrorClickWindow, signal: &Signal, t: &Thresholds) -> Option<Finding> {
    match signal {
        Signal::Click(click) => {
            if w.recent.len() >= MAX_RECENT {
                w.recent.pop_front();
            }
            w.recent.push_back(click.clone());
            None
        }
        Signal::JsError {
            event_id,
            at_ms,
            message,
        } => {
            w.recent
                .retain(|c| at_ms - c.at_ms <= t.error_click_window_ms);
            let index = w.recent.iter().rposition(|c| c.at_ms <= *at_ms)?;
            let click = w.recent.remove(index)?;
            Some(Finding {
                kind: InsightKind::ErrorClick,
                at_ms: click.at_ms,
                url: click.url.to_string(),
                x: click.x,
                y: click.y,
                selector: click.selector.to_string(),
                details: evidence(&Evidence {
                    delay_ms: at_ms - click.at_ms,
                    error: message,
                }),
                related_event_ids: vec![click.event_id, *event_id],
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    /// Clicks' ids count up from 1; errors' from 1 << 32.
    fn id(n: i64) -> Uuid {
        Uuid::from_u64_pair(0, n as u64)
    }

    fn click(at_ms: i64) -> Signal {
        Signal::Click(Arc::new(Click {
            event_id: id(at_ms),
            at_ms,
            url: "u".into(),
            x: 1,
            y: 2,
            selector: "#pay".into(),
            selected_text: false,
        }))
    }

    fn error(at_ms: i64) -> Signal {
        Signal::JsError {
            event_id: id((1 << 32) + at_ms),
            at_ms,
            message: "boom".into(),
        }
    }

    #[test]
    fn error_soon_after_a_click_is_an_error_click() {
        let t = Thresholds::default();
        let mut w = ErrorClickWindow::default();
        assert!(observe(&mut w, &click(1_000), &t).is_none());
        let found = observe(&mut w, &error(1_400), &t).unwrap();
        assert_eq!(found.related_event_ids, [id(1_000), id((1 << 32) + 1_400)]);
        // The same click is not blamed twice, and a late error blames nothing.
        assert!(observe(&mut w, &error(1_500), &t).is_none());
        observe(&mut w, &click(5_000), &t);
        assert!(observe(&mut w, &error(6_500), &t).is_none());
    }
}
