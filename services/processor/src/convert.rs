//! From bus envelopes to rows and detector signals: pure functions.

use gosight_common::backend::EventRow;
use gosight_proto::event::Payload;
use gosight_proto::{DeviceType, Event, EventEnvelope, EventType, LogLevel, WebVitalName};
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::sync::Arc;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::detect::{Click, Signal};

pub fn datetime(unix_ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `EVENT_TYPE_PAGE_VIEW` becomes `page_view`: the `event_type` column's spelling.
pub fn event_type_name(ty: EventType) -> &'static str {
    match ty {
        EventType::Unspecified => "unspecified",
        EventType::PageView => "page_view",
        EventType::Click => "click",
        EventType::Scroll => "scroll",
        EventType::InputChange => "input_change",
        EventType::InputFocus => "input_focus",
        EventType::InputBlur => "input_blur",
        EventType::MouseMove => "mouse_move",
        EventType::VisibilityChange => "visibility_change",
        EventType::JsError => "js_error",
        EventType::NetworkError => "network_error",
        EventType::ConsoleLog => "console_log",
        EventType::WebVitals => "web_vitals",
        EventType::PageLoad => "page_load",
        EventType::ResourceLoad => "resource_load",
        EventType::Custom => "custom",
        EventType::ClickOutcome => "click_outcome",
    }
}

/// `DEVICE_TYPE_MOBILE` becomes `mobile`; unspecified is empty.
pub fn device_type_name(ty: DeviceType) -> &'static str {
    match ty {
        DeviceType::Unspecified => "",
        DeviceType::Desktop => "desktop",
        DeviceType::Mobile => "mobile",
        DeviceType::Tablet => "tablet",
        DeviceType::Bot => "bot",
        DeviceType::Other => "other",
    }
}

/// A stable fingerprint of an error: its message and top frame (file, function), so the same
/// error from every visitor groups together whatever its line in minified code.
pub fn error_fingerprint(message: &str, file: &str, function: &str) -> u64 {
    // FNV-1a: stable across processes and versions, unlike the std hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in message
        .bytes()
        .chain([0])
        .chain(file.bytes())
        .chain([0])
        .chain(function.bytes())
    {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The rows for `events` of every event in the envelope; events without the ids every row needs
/// are left out.
pub fn event_rows(envelope: &EventEnvelope) -> Vec<EventRow> {
    let Some(session) = envelope.session.as_ref() else {
        return Vec::new();
    };
    let (Ok(project_id), Ok(session_id)) = (
        Uuid::try_parse(&envelope.project_id),
        Uuid::try_parse(&session.session_id),
    ) else {
        return Vec::new();
    };
    let mut shared = SharedStrings::default();
    envelope
        .all_events()
        .filter_map(|event| {
            let event_id = Uuid::try_parse(&event.event_id).ok()?;
            event_row_with_ids(
                envelope,
                event,
                project_id,
                session_id,
                event_id,
                &mut shared,
            )
        })
        .collect()
}

/// The columns whose values repeat from event to event of a session (user, page, geo, user
/// agent, the element clicked). Rows built with the same `SharedStrings` share one allocation
/// per distinct value instead of each owning a copy: a session actor keeps one for the length of
/// a message.
#[derive(Debug, Default)]
pub struct SharedStrings {
    user_id: Arc<str>,
    anonymous_id: Arc<str>,
    url: Arc<str>,
    path: Arc<str>,
    title: Arc<str>,
    referrer: Arc<str>,
    country_code: Arc<str>,
    subdivision: Arc<str>,
    city: Arc<str>,
    browser: Arc<str>,
    browser_version: Arc<str>,
    os: Arc<str>,
    os_version: Arc<str>,
    target_tag: Arc<str>,
    target_selector: Arc<str>,
    target_text: Arc<str>,
}

/// `value`, shared with the previous row's if it is the same.
fn share(slot: &mut Arc<str>, value: &str) -> Arc<str> {
    if **slot != *value {
        *slot = Arc::from(value);
    }
    slot.clone()
}

/// The row for `events` of one of the envelope's events, for a caller that has already parsed
/// the three ids (a session actor knows its project and session).
pub fn event_row_with_ids(
    envelope: &EventEnvelope,
    event: &Event,
    project_id: Uuid,
    session_id: Uuid,
    event_id: Uuid,
    shared: &mut SharedStrings,
) -> Option<EventRow> {
    let session = envelope.session.as_ref()?;
    let ty = EventType::try_from(event.r#type).unwrap_or(EventType::Unspecified);
    let ts = event.timestamp.map(|t| t.unix_ms).unwrap_or_default();
    let mut row = EventRow::new(
        project_id,
        session_id,
        event_id,
        event_type_name(ty),
        datetime(ts),
    );
    row.received_at = datetime(envelope.received_at.map(|t| t.unix_ms).unwrap_or(ts));
    row.sequence = event.sequence;
    row.user_id = share(&mut shared.user_id, &session.user_id);
    row.anonymous_id = share(&mut shared.anonymous_id, &session.anonymous_id);
    if let Some(page) = &event.page {
        row.url = share(&mut shared.url, &page.url);
        row.path = share(&mut shared.path, &page.path);
        row.title = share(&mut shared.title, &page.title);
        row.referrer = share(&mut shared.referrer, &page.referrer);
    }
    if let Some(geo) = &envelope.geo {
        row.country_code = share(&mut shared.country_code, &geo.country_code);
        row.subdivision = share(&mut shared.subdivision, &geo.subdivision_code);
        row.city = share(&mut shared.city, &geo.city);
    }
    if let Some(ua) = &envelope.user_agent {
        row.browser = share(&mut shared.browser, &ua.browser);
        row.browser_version = share(&mut shared.browser_version, &ua.browser_version);
        row.os = share(&mut shared.os, &ua.os);
        row.os_version = share(&mut shared.os_version, &ua.os_version);
        row.is_bot = ua.is_bot;
        row.device_type = device_type_name(ua.device_type()).into();
    }
    match &event.payload {
        Some(Payload::Click(click)) => {
            row.x = click.x;
            row.y = click.y;
            row.page_x = click.page_x;
            row.page_y = click.page_y;
            row.viewport_width = click.viewport_width;
            row.viewport_height = click.viewport_height;
            row.document_height = click.document_height;
            if let Some(target) = &click.target {
                row.target_tag = share(&mut shared.target_tag, &target.tag);
                row.target_selector = share(&mut shared.target_selector, &target.selector);
                row.target_text = share(&mut shared.target_text, &target.text);
            }
        }
        Some(Payload::Scroll(scroll)) => {
            row.y = scroll.scroll_y;
            row.viewport_height = scroll.viewport_height;
            row.document_height = scroll.document_height;
            row.scroll_depth = scroll.max_depth_percent.min(100) as u8;
        }
        Some(Payload::Input(input)) => {
            if let Some(target) = &input.target {
                row.target_tag = share(&mut shared.target_tag, &target.tag);
                row.target_selector = share(&mut shared.target_selector, &target.selector);
            }
        }
        Some(Payload::JsError(error)) => {
            row.error_message = error.message.clone();
            row.error_type = error.error_type.clone().into();
            row.error_stack = error.stack.clone();
            let top = error.frames.first();
            row.error_fingerprint = error_fingerprint(
                &error.message,
                top.map(|f| f.file.as_str()).unwrap_or(&error.source),
                top.map(|f| f.function.as_str()).unwrap_or_default(),
            );
        }
        Some(Payload::NetworkError(error)) => {
            row.error_message = if error.error_message.is_empty() {
                format!("{} {} → {}", error.method, error.url, error.status)
            } else {
                error.error_message.clone()
            };
            row.error_type = "network".into();
            row.http_status = error.status.min(u32::from(u16::MAX)) as u16;
            row.error_fingerprint =
                error_fingerprint(&error.method, &error.url, &error.status.to_string());
        }
        Some(Payload::ConsoleLog(log)) => {
            row.error_message = log.message.clone();
            row.error_type = match log.level() {
                LogLevel::Unspecified => "unspecified",
                LogLevel::Debug => "debug",
                LogLevel::Info => "info",
                LogLevel::Warn => "warn",
                LogLevel::Error => "error",
            }
            .into();
            row.error_stack = log.stack.clone();
        }
        Some(Payload::WebVitals(vitals)) => {
            let name = WebVitalName::try_from(vitals.name).unwrap_or(WebVitalName::Unspecified);
            row.metric_name = match name {
                WebVitalName::Unspecified => "UNSPECIFIED",
                WebVitalName::Lcp => "LCP",
                WebVitalName::Inp => "INP",
                WebVitalName::Cls => "CLS",
                WebVitalName::Fcp => "FCP",
                WebVitalName::Ttfb => "TTFB",
            }
            .into();
            row.metric_value = vitals.value;
        }
        Some(Payload::PageLoad(load)) => {
            row.metric_name = "page_load".into();
            row.metric_value = load.load_ms;
        }
        Some(Payload::ResourceLoad(resource)) => {
            row.error_message = resource.url.clone();
            row.error_type = resource.initiator_type.clone().into();
            row.http_status = resource.status.min(u32::from(u16::MAX)) as u16;
            row.metric_value = resource.duration_ms;
        }
        Some(Payload::Custom(custom)) => row.custom_name = custom.name.clone(),
        Some(Payload::MouseMove(moves)) => {
            if let Some(last) = moves.positions.last() {
                row.x = last.x;
                row.y = last.y;
            }
            row.viewport_width = moves.viewport_width;
        }
        _ => {}
    }
    row.payload = event.payload.as_ref().map(payload_json).unwrap_or_default();
    Some(row)
}

/// The `payload` column: the event's type-specific part as proto JSON, keyed as in the whole
/// event (`{"click": {...}}`); ids, time and page are columns of their own.
pub fn payload_json(payload: &Payload) -> String {
    struct Keyed<'a, T>(&'static str, &'a T);
    impl<T: Serialize> Serialize for Keyed<'_, T> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut map = serializer.serialize_map(Some(1))?;
            map.serialize_entry(self.0, self.1)?;
            map.end()
        }
    }
    match payload {
        Payload::PageView(v) => to_json(&Keyed("pageView", v)),
        Payload::Click(v) => to_json(&Keyed("click", v)),
        Payload::Scroll(v) => to_json(&Keyed("scroll", v)),
        Payload::Input(v) => to_json(&Keyed("input", v)),
        Payload::MouseMove(v) => to_json(&Keyed("mouseMove", v)),
        Payload::VisibilityChange(v) => to_json(&Keyed("visibilityChange", v)),
        Payload::JsError(v) => to_json(&Keyed("jsError", v)),
        Payload::NetworkError(v) => to_json(&Keyed("networkError", v)),
        Payload::ConsoleLog(v) => to_json(&Keyed("consoleLog", v)),
        Payload::WebVitals(v) => to_json(&Keyed("webVitals", v)),
        Payload::PageLoad(v) => to_json(&Keyed("pageLoad", v)),
        Payload::ResourceLoad(v) => to_json(&Keyed("resourceLoad", v)),
        Payload::Custom(v) => to_json(&Keyed("custom", v)),
        Payload::ClickOutcome(v) => to_json(&Keyed("clickOutcome", v)),
    }
}

/// Serialises into a buffer sized for a typical payload, not one grown from empty.
fn to_json<T: Serialize>(value: &T) -> String {
    let mut buffer = Vec::with_capacity(256);
    if serde_json::to_writer(&mut buffer, value).is_err() {
        return String::new();
    }
    String::from_utf8(buffer).unwrap_or_default()
}

/// What the detectors need of an event, if anything, appended to `out` (a buffer the caller
/// reuses from event to event).
/// URLs come from `shared`, as the event rows' do, so rows and windows hold one copy.
pub fn signals(event: &Event, shared: &mut SharedStrings, out: &mut Vec<Signal>) {
    let at_ms = event.timestamp.map(|t| t.unix_ms).unwrap_or_default();
    let mut url = || {
        let url = event
            .page
            .as_ref()
            .map(|p| p.url.as_str())
            .unwrap_or_default();
        share(&mut shared.url, url)
    };
    match &event.payload {
        Some(Payload::Click(click)) => {
            let target = click.target.as_ref();
            out.push(Signal::Click(Arc::new(Click {
                event_id: Arc::from(event.event_id.as_str()),
                at_ms,
                url: url(),
                x: click.page_x.max(click.x),
                y: click.page_y.max(click.y),
                selector: share(
                    &mut shared.target_selector,
                    target.map(|t| t.selector.as_str()).unwrap_or_default(),
                ),
                selected_text: click.selected_text,
            })));
        }
        Some(Payload::ClickOutcome(outcome)) => out.push(Signal::ClickOutcome {
            click_event_id: outcome.click_event_id.clone(),
            at_ms,
            responded: outcome.dom_mutated
                || outcome.navigated
                || outcome.scrolled
                || outcome.focus_changed,
            editable_target: outcome.editable_target,
        }),
        Some(Payload::JsError(error)) => out.push(Signal::JsError {
            event_id: event.event_id.clone(),
            at_ms,
            message: error.message.clone(),
        }),
        Some(Payload::MouseMove(moves)) => {
            out.extend(moves.positions.iter().map(|p| Signal::MouseMove {
                at_ms: at_ms + i64::from(p.offset_ms),
                x: p.x,
                y: p.y,
            }));
        }
        Some(Payload::Scroll(scroll)) => out.push(Signal::Scroll {
            event_id: Arc::from(event.event_id.as_str()),
            at_ms,
            url: url(),
            scroll_y: scroll.scroll_y,
        }),
        Some(Payload::PageView(_)) => out.push(Signal::PageView {
            event_id: Arc::from(event.event_id.as_str()),
            at_ms,
            url: url(),
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use gosight_proto::event::Payload;
    use gosight_proto::*;

    use super::*;

    #[test]
    fn static_names_are_the_enum_spellings() {
        for n in 0..=16 {
            let ty = EventType::try_from(n).unwrap();
            let derived = ty
                .as_str_name()
                .trim_start_matches("EVENT_TYPE_")
                .to_ascii_lowercase();
            assert_eq!(event_type_name(ty), derived);
        }
        for n in 1..=5 {
            let ty = DeviceType::try_from(n).unwrap();
            let derived = ty
                .as_str_name()
                .trim_start_matches("DEVICE_TYPE_")
                .to_ascii_lowercase();
            assert_eq!(device_type_name(ty), derived);
        }
        assert_eq!(device_type_name(DeviceType::Unspecified), "");
    }

    /// The column holds what the whole event's JSON says of its payload, under the same key.
    #[test]
    fn payload_json_is_the_events_payload_part() {
        let payloads = [
            Payload::PageView(PageViewPayload::default()),
            Payload::Click(ClickPayload {
                x: 3,
                target: Some(TargetElement {
                    selector: "#buy \"now\"".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            Payload::Scroll(ScrollPayload {
                scroll_y: 40,
                ..Default::default()
            }),
            Payload::Input(InputPayload::default()),
            Payload::MouseMove(MouseMovePayload {
                positions: vec![MousePosition {
                    x: 1,
                    y: 2,
                    offset_ms: 3,
                }],
                ..Default::default()
            }),
            Payload::VisibilityChange(VisibilityChangePayload::default()),
            Payload::JsError(JsErrorPayload {
                message: "boom".into(),
                ..Default::default()
            }),
            Payload::NetworkError(NetworkErrorPayload::default()),
            Payload::ConsoleLog(ConsoleLogPayload::default()),
            Payload::WebVitals(WebVitalsPayload {
                value: 1.5,
                ..Default::default()
            }),
            Payload::PageLoad(PageLoadPayload::default()),
            Payload::ResourceLoad(ResourceLoadPayload::default()),
            Payload::Custom(CustomPayload {
                name: "signup".into(),
                ..Default::default()
            }),
            Payload::ClickOutcome(ClickOutcomePayload {
                dom_mutated: true,
                ..Default::default()
            }),
        ];
        for payload in payloads {
            let whole = serde_json::to_value(Event {
                payload: Some(payload.clone()),
                ..Default::default()
            })
            .unwrap();
            let column: serde_json::Value = serde_json::from_str(&payload_json(&payload)).unwrap();
            assert_eq!(column, whole, "{payload:?}");
        }
    }
}
