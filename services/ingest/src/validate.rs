//! Validation of a batch: the session must be sound, then each event is checked on its own and
//! an invalid event is rejected alone, with its reason, while the rest go through.
//!
//! Strings are cut (at a character boundary) rather than rejected:
//!
//! | field | limit |
//! |---|---|
//! | click/input target text | 100 characters |
//! | URLs (page, referrer, href, request, resource) | 2 KiB |
//! | error and console stacks | 16 KiB |
//! | error and console messages, titles, selectors | 1 KiB |
//! | custom event name / property values | 200 bytes / 1 KiB, at most 50 properties |
//! | mouse positions per event | 500 |

use std::collections::HashSet;

use gosight_proto::event::Payload;
use gosight_proto::{Event, EventType, RejectReason, Rejection, SessionMeta, payload_matches};
use uuid::Uuid;

use crate::error::IngestError;

pub const TARGET_TEXT_CHARS: usize = 100;
pub const URL_BYTES: usize = 2048;
pub const STACK_BYTES: usize = 16 * 1024;
pub const TEXT_BYTES: usize = 1024;
pub const CUSTOM_NAME_BYTES: usize = 200;
pub const MAX_PROPERTIES: usize = 50;
pub const MAX_MOUSE_POSITIONS: usize = 500;
/// Rejections listed one by one in an ack; the count covers all of them.
pub const MAX_LISTED_REJECTIONS: usize = 100;

/// Accepted time window for event timestamps, in Unix milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub min_ms: i64,
    pub max_ms: i64,
}

/// Cuts `s` to at most `max` bytes, at a character boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn cut(s: &mut String, max: usize) {
    let len = truncate(s, max).len();
    s.truncate(len);
}

fn cut_chars(s: &mut String, max_chars: usize) {
    if let Some((index, _)) = s.char_indices().nth(max_chars) {
        s.truncate(index);
    }
}

/// The batch's session: present, with a UUID session id. Without one, no event can be keyed,
/// so the whole batch is refused.
pub fn session(meta: Option<&SessionMeta>) -> Result<Uuid, IngestError> {
    let meta = meta.ok_or_else(|| IngestError::BadRequest("batch has no session".into()))?;
    Uuid::try_parse(&meta.session_id).map_err(|_| {
        IngestError::BadRequest(format!(
            "session.session_id must be a UUID, got {:?}",
            truncate(&meta.session_id, 64)
        ))
    })
}

/// Cuts the session's free-text fields.
pub fn clean_session(meta: &mut SessionMeta) {
    cut(&mut meta.user_id, 256);
    cut(&mut meta.anonymous_id, 256);
    cut(&mut meta.sdk_version, 64);
    if meta.user_traits.len() > MAX_PROPERTIES {
        let keep: Vec<String> = meta
            .user_traits
            .keys()
            .take(MAX_PROPERTIES)
            .cloned()
            .collect();
        meta.user_traits.retain(|k, _| keep.contains(k));
    }
    for value in meta.user_traits.values_mut() {
        cut(value, TEXT_BYTES);
    }
    if let Some(device) = meta.device.as_mut() {
        cut(&mut device.user_agent, 512);
        cut(&mut device.language, 35);
        cut(&mut device.timezone, 64);
    }
}

fn reject(index: usize, event: &Event, reason: RejectReason, message: String) -> Rejection {
    Rejection {
        index: index as u32,
        event_id: truncate(&event.event_id, 64).to_string(),
        reason: reason as i32,
        message,
    }
}

/// Checks one event and cuts its strings. `seen` holds the ids accepted so far in the batch.
pub fn event(
    index: usize,
    event: &mut Event,
    window: Window,
    seen: &mut HashSet<Uuid>,
) -> Result<Uuid, Rejection> {
    let Ok(id) = Uuid::try_parse(&event.event_id) else {
        return Err(reject(
            index,
            event,
            RejectReason::InvalidEventId,
            "event_id must be a UUID".into(),
        ));
    };
    let ty = EventType::try_from(event.r#type).unwrap_or(EventType::Unspecified);
    let Some(payload) = event.payload.as_ref() else {
        return Err(reject(
            index,
            event,
            RejectReason::MissingPayload,
            "event has no payload".into(),
        ));
    };
    if ty == EventType::Unspecified || !payload_matches(ty, payload) {
        return Err(reject(
            index,
            event,
            RejectReason::TypeMismatch,
            format!("type {} does not match its payload", event.r#type),
        ));
    }
    let Some(ts) = event.timestamp.map(|t| t.unix_ms) else {
        return Err(reject(
            index,
            event,
            RejectReason::TimestampOutOfRange,
            "event has no timestamp".into(),
        ));
    };
    if ts < window.min_ms || ts > window.max_ms {
        return Err(reject(
            index,
            event,
            RejectReason::TimestampOutOfRange,
            format!(
                "timestamp {ts} is outside the accepted window {}..{}",
                window.min_ms, window.max_ms
            ),
        ));
    }
    if !seen.insert(id) {
        return Err(reject(
            index,
            event,
            RejectReason::DuplicateEventId,
            "event_id appears earlier in this batch".into(),
        ));
    }
    clean(event);
    Ok(id)
}

fn clean(event: &mut Event) {
    if let Some(page) = event.page.as_mut() {
        cut(&mut page.url, URL_BYTES);
        cut(&mut page.path, URL_BYTES);
        cut(&mut page.referrer, URL_BYTES);
        cut(&mut page.title, TEXT_BYTES);
    }
    let Some(payload) = event.payload.as_mut() else {
        return;
    };
    let target = match payload {
        Payload::Click(click) => click.target.as_mut(),
        Payload::Input(input) => {
            cut(&mut input.value, TEXT_BYTES);
            input.target.as_mut()
        }
        Payload::PageView(view) => {
            cut(&mut view.previous_url, URL_BYTES);
            None
        }
        Payload::MouseMove(moves) => {
            moves.positions.truncate(MAX_MOUSE_POSITIONS);
            None
        }
        Payload::JsError(error) => {
            cut(&mut error.message, TEXT_BYTES);
            cut(&mut error.error_type, 128);
            cut(&mut error.source, URL_BYTES);
            cut(&mut error.stack, STACK_BYTES);
            error.frames.truncate(50);
            None
        }
        Payload::NetworkError(error) => {
            cut(&mut error.url, URL_BYTES);
            cut(&mut error.method, 16);
            cut(&mut error.status_text, 128);
            cut(&mut error.error_message, TEXT_BYTES);
            None
        }
        Payload::ConsoleLog(log) => {
            cut(&mut log.message, TEXT_BYTES);
            cut(&mut log.stack, STACK_BYTES);
            None
        }
        Payload::ResourceLoad(resource) => {
            cut(&mut resource.url, URL_BYTES);
            cut(&mut resource.initiator_type, 32);
            None
        }
        Payload::Custom(custom) => {
            cut(&mut custom.name, CUSTOM_NAME_BYTES);
            if custom.properties.len() > MAX_PROPERTIES {
                let keep: Vec<String> = custom
                    .properties
                    .keys()
                    .take(MAX_PROPERTIES)
                    .cloned()
                    .collect();
                custom.properties.retain(|k, _| keep.contains(k));
            }
            for value in custom.properties.values_mut() {
                cut(value, TEXT_BYTES);
            }
            None
        }
        Payload::WebVitals(vitals) => {
            cut(&mut vitals.metric_id, 64);
            None
        }
        Payload::ClickOutcome(outcome) => {
            cut(&mut outcome.click_event_id, 64);
            None
        }
        Payload::Scroll(_) | Payload::VisibilityChange(_) | Payload::PageLoad(_) => None,
    };
    if let Some(target) = target {
        cut_chars(&mut target.text, TARGET_TEXT_CHARS);
        cut(&mut target.selector, TEXT_BYTES);
        cut(&mut target.href, URL_BYTES);
        cut(&mut target.id, 256);
        cut(&mut target.tag, 32);
        target.classes.truncate(20);
        for class in &mut target.classes {
            cut(class, 128);
        }
    }
}

/// One rejection standing for every event past the batch limit.
pub fn too_many(limit: usize, total: usize) -> Rejection {
    Rejection {
        index: limit as u32,
        event_id: String::new(),
        reason: RejectReason::TooManyEvents as i32,
        message: format!(
            "events {limit}..{} ({} events) exceed the limit of {limit} per batch; send them in \
             another batch",
            total - 1,
            total - limit
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gosight_proto::{ClickPayload, ScrollPayload, TargetElement, Timestamp};

    const WINDOW: Window = Window {
        min_ms: 1_000,
        max_ms: 2_000,
    };

    fn click(id: &str, ts: i64) -> Event {
        Event {
            event_id: id.into(),
            r#type: EventType::Click as i32,
            timestamp: Some(Timestamp { unix_ms: ts }),
            page: None,
            sequence: 1,
            payload: Some(Payload::Click(ClickPayload {
                target: Some(TargetElement {
                    text: "é".repeat(150),
                    ..Default::default()
                }),
                ..Default::default()
            })),
        }
    }

    const ID: &str = "0190f3a2-6b1c-7cc0-8f00-000000000001";

    #[test]
    fn each_problem_has_its_reason() {
        let mut seen = HashSet::new();
        let reason = |r: Result<Uuid, Rejection>| r.unwrap_err().reason();
        assert_eq!(
            reason(event(0, &mut click("nope", 1_500), WINDOW, &mut seen)),
            RejectReason::InvalidEventId
        );
        assert_eq!(
            reason(event(0, &mut click(ID, 999), WINDOW, &mut seen)),
            RejectReason::TimestampOutOfRange
        );
        assert_eq!(
            reason(event(0, &mut click(ID, 2_001), WINDOW, &mut seen)),
            RejectReason::TimestampOutOfRange
        );
        let mut mismatched = click(ID, 1_500);
        mismatched.payload = Some(Payload::Scroll(ScrollPayload::default()));
        assert_eq!(
            reason(event(0, &mut mismatched, WINDOW, &mut seen)),
            RejectReason::TypeMismatch
        );
        let mut empty = click(ID, 1_500);
        empty.payload = None;
        assert_eq!(
            reason(event(0, &mut empty, WINDOW, &mut seen)),
            RejectReason::MissingPayload
        );
        assert!(event(0, &mut click(ID, 1_500), WINDOW, &mut seen).is_ok());
        assert_eq!(
            reason(event(1, &mut click(ID, 1_500), WINDOW, &mut seen)),
            RejectReason::DuplicateEventId
        );
    }

    #[test]
    fn strings_are_cut_at_character_boundaries() {
        let mut e = click(ID, 1_500);
        event(0, &mut e, WINDOW, &mut HashSet::new()).unwrap();
        let Some(Payload::Click(c)) = e.payload else {
            unreachable!()
        };
        assert_eq!(c.target.unwrap().text.chars().count(), TARGET_TEXT_CHARS);
        assert_eq!(truncate("aé", 2), "a");
    }

    #[test]
    fn session_id_must_be_a_uuid() {
        assert!(session(None).is_err());
        let meta = SessionMeta {
            session_id: "x".into(),
            ..Default::default()
        };
        assert!(session(Some(&meta)).is_err());
        let meta = SessionMeta {
            session_id: ID.into(),
            ..Default::default()
        };
        assert!(session(Some(&meta)).is_ok());
    }
}
