//! From bus envelopes to rows and detector signals: pure functions.

use gosight_common::backend::EventRow;
use gosight_proto::event::Payload;
use gosight_proto::{EventEnvelope, EventType, WebVitalName};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::detect::{Click, Signal};

pub fn datetime(unix_ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `EVENT_TYPE_PAGE_VIEW` becomes `page_view`: the `event_type` column's spelling.
pub fn event_type_name(ty: EventType) -> String {
    ty.as_str_name()
        .trim_start_matches("EVENT_TYPE_")
        .to_ascii_lowercase()
}

fn device_type_name(envelope: &EventEnvelope) -> String {
    envelope
        .user_agent
        .as_ref()
        .map(|ua| {
            ua.device_type()
                .as_str_name()
                .trim_start_matches("DEVICE_TYPE_")
                .to_ascii_lowercase()
        })
        .filter(|s| s != "unspecified")
        .unwrap_or_default()
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

/// The row for `events`; `None` if the envelope lacks the ids every row needs.
pub fn event_row(envelope: &EventEnvelope) -> Option<EventRow> {
    let event = envelope.event.as_ref()?;
    let session = envelope.session.as_ref()?;
    let project_id = Uuid::try_parse(&envelope.project_id).ok()?;
    let session_id = Uuid::try_parse(&session.session_id).ok()?;
    let event_id = Uuid::try_parse(&event.event_id).ok()?;
    let ty = EventType::try_from(event.r#type).unwrap_or(EventType::Unspecified);
    let ts = event.timestamp.map(|t| t.unix_ms).unwrap_or_default();
    let mut row = EventRow::new(
        project_id,
        session_id,
        event_id,
        &event_type_name(ty),
        datetime(ts),
    );
    row.received_at = datetime(envelope.received_at.map(|t| t.unix_ms).unwrap_or(ts));
    row.sequence = event.sequence;
    row.user_id = session.user_id.clone();
    row.anonymous_id = session.anonymous_id.clone();
    if let Some(page) = &event.page {
        row.url = page.url.clone();
        row.path = page.path.clone();
        row.title = page.title.clone();
        row.referrer = page.referrer.clone();
    }
    if let Some(geo) = &envelope.geo {
        row.country_code = geo.country_code.clone();
        row.subdivision = geo.subdivision_code.clone();
        row.city = geo.city.clone();
    }
    if let Some(ua) = &envelope.user_agent {
        row.browser = ua.browser.clone();
        row.browser_version = ua.browser_version.clone();
        row.os = ua.os.clone();
        row.os_version = ua.os_version.clone();
        row.is_bot = ua.is_bot;
    }
    row.device_type = device_type_name(envelope);
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
                row.target_tag = target.tag.clone();
                row.target_selector = target.selector.clone();
                row.target_text = target.text.clone();
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
                row.target_tag = target.tag.clone();
                row.target_selector = target.selector.clone();
            }
        }
        Some(Payload::JsError(error)) => {
            row.error_message = error.message.clone();
            row.error_type = error.error_type.clone();
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
            row.error_type = log
                .level()
                .as_str_name()
                .trim_start_matches("LOG_LEVEL_")
                .to_ascii_lowercase();
            row.error_stack = log.stack.clone();
        }
        Some(Payload::WebVitals(vitals)) => {
            let name = WebVitalName::try_from(vitals.name).unwrap_or(WebVitalName::Unspecified);
            row.metric_name = name
                .as_str_name()
                .trim_start_matches("WEB_VITAL_NAME_")
                .to_string();
            row.metric_value = vitals.value;
        }
        Some(Payload::PageLoad(load)) => {
            row.metric_name = "page_load".into();
            row.metric_value = load.load_ms;
        }
        Some(Payload::ResourceLoad(resource)) => {
            row.error_message = resource.url.clone();
            row.error_type = resource.initiator_type.clone();
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
    row.payload = serde_json::to_string(event).unwrap_or_default();
    Some(row)
}

/// What the detectors need of an event, if anything.
pub fn signals(envelope: &EventEnvelope) -> Vec<Signal> {
    let Some(event) = envelope.event.as_ref() else {
        return vec![];
    };
    let at_ms = event.timestamp.map(|t| t.unix_ms).unwrap_or_default();
    let url = event
        .page
        .as_ref()
        .map(|p| p.url.clone())
        .unwrap_or_default();
    match &event.payload {
        Some(Payload::Click(click)) => {
            let target = click.target.as_ref();
            vec![Signal::Click(Click {
                event_id: event.event_id.clone(),
                at_ms,
                url,
                x: click.page_x.max(click.x),
                y: click.page_y.max(click.y),
                selector: target.map(|t| t.selector.clone()).unwrap_or_default(),
                selected_text: click.selected_text,
            })]
        }
        Some(Payload::ClickOutcome(outcome)) => vec![Signal::ClickOutcome {
            click_event_id: outcome.click_event_id.clone(),
            at_ms,
            responded: outcome.dom_mutated
                || outcome.navigated
                || outcome.scrolled
                || outcome.focus_changed,
            editable_target: outcome.editable_target,
        }],
        Some(Payload::JsError(error)) => vec![Signal::JsError {
            event_id: event.event_id.clone(),
            at_ms,
            message: error.message.clone(),
        }],
        Some(Payload::MouseMove(moves)) => moves
            .positions
            .iter()
            .map(|p| Signal::MouseMove {
                at_ms: at_ms + i64::from(p.offset_ms),
                x: p.x,
                y: p.y,
            })
            .collect(),
        Some(Payload::Scroll(scroll)) => vec![Signal::Scroll {
            event_id: event.event_id.clone(),
            at_ms,
            url,
            scroll_y: scroll.scroll_y,
        }],
        Some(Payload::PageView(_)) => vec![Signal::PageView {
            event_id: event.event_id.clone(),
            at_ms,
            url,
        }],
        _ => vec![],
    }
}
