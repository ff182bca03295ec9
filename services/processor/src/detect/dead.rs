//! Dead clicks: the SDK watches each click for `dead_click_window_ms` and reports whether the
//! page mutated, navigated, scrolled or moved focus. A click with none of these is dead, unless
//! it landed in an editable element or ended a text selection (both normally change nothing).

use std::collections::VecDeque;
use std::sync::Arc;

use serde::Serialize;

use super::{Click, Finding, InsightKind, Signal, Thresholds, evidence};

#[derive(Serialize)]
struct Evidence {
    observed_ms: u32,
}

/// Clicks waiting for their outcome; older ones are forgotten (the outcome never came).
const MAX_PENDING: usize = 64;
const FORGET_AFTER_MS: i64 = 30_000;

#[derive(Debug, Default)]
pub struct DeadClickWindow {
    pending: VecDeque<Arc<Click>>,
}

pub fn observe(w: &mut DeadClickWindow, signal: &Signal, t: &Thresholds) -> Option<Finding> {
    match signal {
        Signal::Click(click) => {
            while w
                .pending
                .front()
                .is_some_and(|c| click.at_ms - c.at_ms > FORGET_AFTER_MS)
                || w.pending.len() >= MAX_PENDING
            {
                w.pending.pop_front();
            }
            w.pending.push_back(click.clone());
            None
        }
        Signal::ClickOutcome {
            click_event_id,
            responded,
            editable_target,
            ..
        } => {
            let index = w
                .pending
                .iter()
                .position(|c| c.event_id == *click_event_id)?;
            let click = w.pending.remove(index)?;
            if *responded || *editable_target || click.selected_text {
                return None;
            }
            Some(Finding {
                kind: InsightKind::DeadClick,
                at_ms: click.at_ms,
                url: click.url.to_string(),
                x: click.x,
                y: click.y,
                selector: click.selector.to_string(),
                details: evidence(&Evidence {
                    observed_ms: t.dead_click_window_ms,
                }),
                related_event_ids: vec![click.event_id],
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn click(id: u64, selected_text: bool) -> Signal {
        Signal::Click(Arc::new(Click {
            event_id: Uuid::from_u64_pair(0, id),
            at_ms: 1_000,
            url: "https://shop.example/".into(),
            x: 5,
            y: 6,
            selector: "#buy".into(),
            selected_text,
        }))
    }

    fn outcome(id: u64, responded: bool, editable_target: bool) -> Signal {
        Signal::ClickOutcome {
            click_event_id: Uuid::from_u64_pair(0, id),
            at_ms: 2_000,
            responded,
            editable_target,
        }
    }

    #[test]
    fn unanswered_click_is_dead_others_are_not() {
        let t = Thresholds::default();
        let mut w = DeadClickWindow::default();
        let cases = [
            ("dead", false, false, false, true),
            ("answered", false, true, false, false),
            ("text-field", false, false, true, false),
            ("selection", true, false, false, false),
        ];
        for (id, (case, selected, responded, editable, dead)) in (1..).zip(cases) {
            assert!(observe(&mut w, &click(id, selected), &t).is_none());
            let found = observe(&mut w, &outcome(id, responded, editable), &t);
            assert_eq!(found.is_some(), dead, "{case}");
            if let Some(found) = found {
                assert_eq!(found.related_event_ids, [Uuid::from_u64_pair(0, id)]);
            }
        }
        // An outcome for a click never seen finds nothing.
        assert!(observe(&mut w, &outcome(99, false, false), &t).is_none());
    }
}
