//! Quick back: leaving a page and returning to the previous one within `quick_back_ms` — the
//! page did not hold what the visitor expected. The finding is about the page left quickly.

use std::sync::Arc;

use serde::Serialize;
use uuid::Uuid;

use super::{Finding, InsightKind, Signal, Thresholds, evidence};

#[derive(Serialize)]
struct Evidence<'a> {
    back_to: &'a str,
    dwell_ms: i64,
}

#[derive(Debug, Default)]
pub struct QuickBackWindow {
    previous: Option<Arc<str>>,
    current: Option<(Arc<str>, i64, Uuid)>,
}

pub fn observe(w: &mut QuickBackWindow, signal: &Signal, t: &Thresholds) -> Option<Finding> {
    let Signal::PageView {
        event_id,
        at_ms,
        url,
    } = signal
    else {
        return None;
    };
    if w.current
        .as_ref()
        .is_some_and(|(current, _, _)| current == url)
    {
        return None;
    }
    let mut finding = None;
    if let (Some(previous), Some((left, entered_ms, entered_event))) = (&w.previous, &w.current)
        && previous == url
        && at_ms - entered_ms <= t.quick_back_ms
    {
        finding = Some(Finding {
            kind: InsightKind::QuickBack,
            at_ms: *entered_ms,
            url: left.to_string(),
            x: 0,
            y: 0,
            selector: String::new(),
            details: evidence(&Evidence {
                back_to: url,
                dwell_ms: at_ms - entered_ms,
            }),
            related_event_ids: vec![*entered_event, *event_id],
        });
    }
    w.previous = w.current.take().map(|(u, _, _)| u);
    w.current = Some((url.clone(), *at_ms, *event_id));
    finding
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(at_ms: i64, url: &str) -> Signal {
        Signal::PageView {
            event_id: Uuid::from_u64_pair(0, at_ms as u64),
            at_ms,
            url: url.into(),
        }
    }

    #[test]
    fn returning_within_seconds_is_a_quick_back() {
        let t = Thresholds::default();
        let mut w = QuickBackWindow::default();
        assert!(observe(&mut w, &view(0, "/list"), &t).is_none());
        assert!(observe(&mut w, &view(10_000, "/item/1"), &t).is_none());
        let found = observe(&mut w, &view(12_000, "/list"), &t).unwrap();
        assert_eq!(found.url, "/item/1");
        let details: serde_json::Value = serde_json::from_str(&found.details).unwrap();
        assert_eq!(
            details,
            serde_json::json!({ "back_to": "/list", "dwell_ms": 2_000 })
        );
        // Staying long enough is not.
        assert!(observe(&mut w, &view(20_000, "/item/2"), &t).is_none());
        assert!(observe(&mut w, &view(40_000, "/list"), &t).is_none());
    }
}
