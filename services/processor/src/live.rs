//! Live updates: compact JSON messages on the Redis channel `gosight:live:<project_id>`, read by
//! the API's live WebSocket. Best effort: a missed update is healed by the next one, and the
//! dashboard reads a snapshot from ClickHouse when it connects.

use std::borrow::Cow;

use gosight_common::backend::{InsightRow, SessionRow};
use gosight_proto::Event;
use gosight_proto::event::Payload;
use serde::Serialize;
use uuid::Uuid;

use crate::convert::event_type_name;

pub fn channel(project_id: Uuid) -> String {
    format!("gosight:live:{project_id}")
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveUpdate {
    Started {
        project_id: Uuid,
        session_id: Uuid,
        url: String,
        country: String,
        device: String,
        browser: String,
    },
    Page {
        project_id: Uuid,
        session_id: Uuid,
        url: String,
        at_ms: i64,
    },
    /// The latest action; `count` actions of the session since the previous update (clicks and
    /// the like in one round are folded into one update, errors never are).
    Action {
        project_id: Uuid,
        session_id: Uuid,
        event_type: Cow<'static, str>,
        label: String,
        at_ms: i64,
        count: u32,
    },
    Insight {
        project_id: Uuid,
        session_id: Uuid,
        insight_type: String,
        url: String,
    },
    Ended {
        project_id: Uuid,
        session_id: Uuid,
        duration_ms: u64,
        page_count: u32,
    },
}

impl LiveUpdate {
    pub fn project_id(&self) -> Uuid {
        match self {
            LiveUpdate::Started { project_id, .. }
            | LiveUpdate::Page { project_id, .. }
            | LiveUpdate::Action { project_id, .. }
            | LiveUpdate::Insight { project_id, .. }
            | LiveUpdate::Ended { project_id, .. } => *project_id,
        }
    }

    pub fn started(row: &SessionRow) -> Self {
        LiveUpdate::Started {
            project_id: row.project_id,
            session_id: row.session_id,
            url: row.entry_url.to_string(),
            country: row.country_code.to_string(),
            device: row.device_type.to_string(),
            browser: row.browser.to_string(),
        }
    }

    /// Page changes and actions a person watching would notice; pointer moves, scrolls, vitals
    /// and the like are not sent one by one.
    pub fn worth_sending(event: &Event) -> bool {
        matches!(
            event.payload.as_ref(),
            Some(
                Payload::PageView(_)
                    | Payload::Click(_)
                    | Payload::JsError(_)
                    | Payload::NetworkError(_)
                    | Payload::Custom(_)
                    | Payload::Input(_)
            )
        )
    }

    pub fn from_event(row: &SessionRow, event: &Event) -> Self {
        let at_ms = event.timestamp.map(|t| t.unix_ms).unwrap_or_default();
        match event.payload.as_ref() {
            Some(Payload::PageView(_)) => LiveUpdate::Page {
                project_id: row.project_id,
                session_id: row.session_id,
                url: event
                    .page
                    .as_ref()
                    .map(|p| p.url.clone())
                    .unwrap_or_default(),
                at_ms,
            },
            payload => LiveUpdate::Action {
                project_id: row.project_id,
                session_id: row.session_id,
                event_type: Cow::Borrowed(event_type_name(event.r#type())),
                label: match payload {
                    Some(Payload::Click(c)) => c
                        .target
                        .as_ref()
                        .map(|t| t.text.clone())
                        .unwrap_or_default(),
                    Some(Payload::JsError(e)) => e.message.clone(),
                    Some(Payload::Custom(c)) => c.name.clone(),
                    _ => String::new(),
                },
                at_ms,
                count: 1,
            },
        }
    }

    /// Folds `next` into `self` when both are actions a viewer need not see one by one (not
    /// errors): `self` becomes the later one, counting both. `next` is handed back otherwise.
    pub fn fold(&mut self, next: LiveUpdate) -> Option<LiveUpdate> {
        let foldable = |ty: &str| ty != "js_error" && ty != "network_error";
        match (&mut *self, next) {
            (
                LiveUpdate::Action {
                    session_id,
                    event_type,
                    label,
                    at_ms,
                    count,
                    ..
                },
                LiveUpdate::Action {
                    session_id: next_session,
                    event_type: next_type,
                    label: next_label,
                    at_ms: next_at,
                    count: next_count,
                    ..
                },
            ) if *session_id == next_session && foldable(event_type) && foldable(&next_type) => {
                *event_type = next_type;
                *label = next_label;
                *at_ms = next_at;
                *count += next_count;
                None
            }
            (_, next) => Some(next),
        }
    }

    pub fn insight(row: &InsightRow) -> Self {
        LiveUpdate::Insight {
            project_id: row.project_id,
            session_id: row.session_id,
            insight_type: row.insight_type.clone(),
            url: row.url.clone(),
        }
    }

    pub fn ended(row: &SessionRow) -> Self {
        LiveUpdate::Ended {
            project_id: row.project_id,
            session_id: row.session_id,
            duration_ms: row.duration_ms,
            page_count: row.page_count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(session: Uuid, ty: &str, at_ms: i64) -> LiveUpdate {
        LiveUpdate::Action {
            project_id: Uuid::nil(),
            session_id: session,
            event_type: ty.to_string().into(),
            label: format!("{ty}@{at_ms}"),
            at_ms,
            count: 1,
        }
    }

    #[test]
    fn actions_fold_into_the_latest_errors_do_not() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut first = action(a, "click", 1);
        assert_eq!(first.fold(action(a, "input_change", 2)), None);
        let LiveUpdate::Action {
            count: 2,
            event_type,
            at_ms: 2,
            ..
        } = &first
        else {
            panic!("not folded: {first:?}");
        };
        assert_eq!(event_type, "input_change");
        // Another session's action, an error, or anything after an error stays on its own.
        assert!(first.fold(action(b, "click", 3)).is_some());
        assert!(first.fold(action(a, "js_error", 4)).is_some());
        let mut error = action(a, "js_error", 5);
        assert!(error.fold(action(a, "click", 6)).is_some());
        let mut page = LiveUpdate::Page {
            project_id: Uuid::nil(),
            session_id: a,
            url: String::new(),
            at_ms: 7,
        };
        assert!(page.fold(action(a, "click", 8)).is_some());
    }
}
