//! From bus envelopes to rows and detector signals: pure functions.

use gosight_common::backend::{EventKey, EventRow};
use gosight_proto::event::Payload;
use gosight_proto::{DeviceType, Event, EventEnvelope, EventType, LogLevel, WebVitalName};
use std::borrow::Cow;
use std::sync::Arc;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::detect::{Click, Signal};
use crate::payload_json::payload_json;

/// Unix milliseconds as a time (the epoch if out of range), in 64-bit arithmetic: whole seconds,
/// then the milliseconds set.
pub fn datetime(unix_ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix_ms.div_euclid(1000))
        .and_then(|t| t.replace_millisecond(unix_ms.rem_euclid(1000) as u16))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The path of a page URL as browsers report it (`location.pathname`): what follows the host, up
/// to the query or fragment, `/` if nothing does. Page URLs come from browsers already normalised,
/// so this is what parsing them would give; a URL without a scheme is taken whole, as a path.
pub fn url_path(url: &str) -> &str {
    let Some((_, rest)) = url.split_once("://") else {
        return url;
    };
    // ASCII delimiters: their byte positions are character boundaries.
    let end = |s: &str, delimiters: &[u8]| s.bytes().position(|b| delimiters.contains(&b));
    let rest = &rest[end(rest, b"/?#").unwrap_or(rest.len())..];
    match &rest[..end(rest, b"?#").unwrap_or(rest.len())] {
        "" => "/",
        path => path,
    }
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

/// The envelope's project and session ids, if both parse.
fn envelope_ids(envelope: &EventEnvelope) -> Option<(Uuid, Uuid)> {
    let session = envelope.session.as_ref()?;
    Some((
        Uuid::try_parse(&envelope.project_id).ok()?,
        Uuid::try_parse(&session.session_id).ok()?,
    ))
}

/// The rows for `events` of every event in the envelope; events without the ids every row needs
/// are left out.
pub fn event_rows(envelope: &EventEnvelope) -> Vec<EventRow> {
    let Some((project_id, session_id)) = envelope_ids(envelope) else {
        return Vec::new();
    };
    let mut shared = SharedStrings::default();
    let Some(columns) = shared.envelope(envelope) else {
        return Vec::new();
    };
    envelope
        .all_events()
        .filter_map(|event| {
            let event_id = Uuid::try_parse(&event.event_id).ok()?;
            Some(event_row_with_ids(
                &columns,
                event,
                event_time(event),
                project_id,
                session_id,
                event_id,
                &mut shared,
            ))
        })
        .collect()
}

/// What finds each of the envelope's events in `events` (its ids and time), without building its
/// row: for looking up which were stored already.
pub fn event_keys(envelope: &EventEnvelope) -> Vec<EventKey> {
    let Some((project_id, session_id)) = envelope_ids(envelope) else {
        return Vec::new();
    };
    envelope
        .all_events()
        .filter_map(|event| {
            Some(EventKey {
                project_id,
                session_id,
                event_id: Uuid::try_parse(&event.event_id).ok()?,
                timestamp: event_time(event),
            })
        })
        .collect()
}

/// The columns whose values repeat from event to event of a session (user, page, geo, user
/// agent, the element clicked). Rows built with the same `SharedStrings` share one allocation
/// per distinct value instead of each owning a copy: a session actor keeps one for the length of
/// a message.
#[derive(Debug, Default)]
pub struct SharedStrings {
    empty: Arc<str>,
    /// The latest envelope's.
    envelope: EnvelopeColumns,
    url: Arc<str>,
    path: Arc<str>,
    title: Arc<str>,
    referrer: Arc<str>,
    target_tag: Arc<str>,
    target_selector: Arc<str>,
    target_text: Arc<str>,
}

/// `value` as a shared column; an empty value needs no allocation of its own (`Arc::default`).
pub(crate) fn text(value: &str) -> Arc<str> {
    if value.is_empty() {
        Arc::default()
    } else {
        Arc::from(value)
    }
}

/// `slot` holds `value` afterwards, unchanged (and nothing allocated) if it already did.
pub(crate) fn keep(slot: &mut Arc<str>, value: &str) {
    if **slot != *value {
        *slot = text(value);
    }
}

/// `value`, shared with the previous row's if it is the same.
fn share(slot: &mut Arc<str>, value: &str) -> Arc<str> {
    keep(slot, value);
    slot.clone()
}

/// What every event of one envelope has in common (who, where from, on what): taken from the
/// envelope once and cloned into each of its rows.
#[derive(Debug, Clone, Default)]
pub struct EnvelopeColumns {
    received_at: Option<OffsetDateTime>,
    user_id: Arc<str>,
    anonymous_id: Arc<str>,
    country_code: Arc<str>,
    subdivision: Arc<str>,
    city: Arc<str>,
    browser: Arc<str>,
    browser_version: Arc<str>,
    os: Arc<str>,
    os_version: Arc<str>,
    device_type: &'static str,
    is_bot: bool,
}

impl SharedStrings {
    /// The envelope's common columns; `None` for an envelope without session metadata, whose
    /// events get no rows.
    pub fn envelope(&mut self, envelope: &EventEnvelope) -> Option<EnvelopeColumns> {
        let session = envelope.session.as_ref()?;
        let columns = &mut self.envelope;
        columns.received_at = envelope.received_at.map(|t| datetime(t.unix_ms));
        keep(&mut columns.user_id, &session.user_id);
        keep(&mut columns.anonymous_id, &session.anonymous_id);
        let geo = envelope.geo.as_ref();
        keep(
            &mut columns.country_code,
            geo.map_or("", |g| &g.country_code),
        );
        keep(
            &mut columns.subdivision,
            geo.map_or("", |g| &g.subdivision_code),
        );
        keep(&mut columns.city, geo.map_or("", |g| &g.city));
        let ua = envelope.user_agent.as_ref();
        keep(&mut columns.browser, ua.map_or("", |u| &u.browser));
        keep(
            &mut columns.browser_version,
            ua.map_or("", |u| &u.browser_version),
        );
        keep(&mut columns.os, ua.map_or("", |u| &u.os));
        keep(&mut columns.os_version, ua.map_or("", |u| &u.os_version));
        columns.device_type = ua.map_or("", |u| device_type_name(u.device_type()));
        columns.is_bot = ua.is_some_and(|u| u.is_bot);
        Some(columns.clone())
    }
}

/// Where on the page an event happened: the position columns.
#[derive(Debug, Default)]
struct Position {
    x: i32,
    y: i32,
    page_x: i32,
    page_y: i32,
    viewport_width: u32,
    viewport_height: u32,
    document_height: u32,
    scroll_depth: u8,
}

impl Position {
    fn of(payload: Option<&Payload>) -> Self {
        match payload {
            Some(Payload::Click(click)) => Position {
                x: click.x,
                y: click.y,
                page_x: click.page_x,
                page_y: click.page_y,
                viewport_width: click.viewport_width,
                viewport_height: click.viewport_height,
                document_height: click.document_height,
                scroll_depth: 0,
            },
            Some(Payload::Scroll(scroll)) => Position {
                y: scroll.scroll_y,
                viewport_height: scroll.viewport_height,
                document_height: scroll.document_height,
                scroll_depth: scroll.max_depth_percent.min(100) as u8,
                ..Position::default()
            },
            Some(Payload::MouseMove(moves)) => {
                let last = moves.positions.last();
                Position {
                    x: last.map_or(0, |p| p.x),
                    y: last.map_or(0, |p| p.y),
                    viewport_width: moves.viewport_width,
                    ..Position::default()
                }
            }
            _ => Position::default(),
        }
    }
}

/// What went wrong, was measured or was named: the error, metric and custom-event columns.
#[derive(Debug, Default)]
struct Details {
    error_message: String,
    error_type: Cow<'static, str>,
    error_stack: String,
    error_fingerprint: u64,
    http_status: u16,
    metric_name: Cow<'static, str>,
    metric_value: f64,
    custom_name: String,
}

impl Details {
    fn of(payload: Option<&Payload>) -> Self {
        let mut d = Details::default();
        match payload {
            Some(Payload::JsError(error)) => {
                d.error_message = error.message.clone();
                d.error_type = error.error_type.clone().into();
                d.error_stack = error.stack.clone();
                let top = error.frames.first();
                d.error_fingerprint = error_fingerprint(
                    &error.message,
                    top.map(|f| f.file.as_str()).unwrap_or(&error.source),
                    top.map(|f| f.function.as_str()).unwrap_or_default(),
                );
            }
            Some(Payload::NetworkError(error)) => {
                d.error_message = if error.error_message.is_empty() {
                    format!("{} {} → {}", error.method, error.url, error.status)
                } else {
                    error.error_message.clone()
                };
                d.error_type = "network".into();
                d.http_status = error.status.min(u32::from(u16::MAX)) as u16;
                d.error_fingerprint =
                    error_fingerprint(&error.method, &error.url, &error.status.to_string());
            }
            Some(Payload::ConsoleLog(log)) => {
                d.error_message = log.message.clone();
                d.error_type = match log.level() {
                    LogLevel::Unspecified => "unspecified",
                    LogLevel::Debug => "debug",
                    LogLevel::Info => "info",
                    LogLevel::Warn => "warn",
                    LogLevel::Error => "error",
                }
                .into();
                d.error_stack = log.stack.clone();
            }
            Some(Payload::WebVitals(vitals)) => {
                let name = WebVitalName::try_from(vitals.name).unwrap_or(WebVitalName::Unspecified);
                d.metric_name = match name {
                    WebVitalName::Unspecified => "UNSPECIFIED",
                    WebVitalName::Lcp => "LCP",
                    WebVitalName::Inp => "INP",
                    WebVitalName::Cls => "CLS",
                    WebVitalName::Fcp => "FCP",
                    WebVitalName::Ttfb => "TTFB",
                }
                .into();
                d.metric_value = vitals.value;
            }
            Some(Payload::PageLoad(load)) => {
                d.metric_name = "page_load".into();
                d.metric_value = load.load_ms;
            }
            Some(Payload::ResourceLoad(resource)) => {
                d.error_message = resource.url.clone();
                d.error_type = resource.initiator_type.clone().into();
                d.http_status = resource.status.min(u32::from(u16::MAX)) as u16;
                d.metric_value = resource.duration_ms;
            }
            Some(Payload::Custom(custom)) => d.custom_name = custom.name.clone(),
            _ => {}
        }
        d
    }
}

/// The event's time ([`datetime`] of its Unix milliseconds).
pub fn event_time(event: &Event) -> OffsetDateTime {
    datetime(event.timestamp.map(|t| t.unix_ms).unwrap_or_default())
}

/// The row for `events` of one of an envelope's events (its common `columns` taken with
/// [`SharedStrings::envelope`], `timestamp` from [`event_time`]), for a caller that has already
/// parsed the three ids (a session actor knows its project and session). Each string column is
/// set once, shared or empty.
pub fn event_row_with_ids(
    columns: &EnvelopeColumns,
    event: &Event,
    timestamp: OffsetDateTime,
    project_id: Uuid,
    session_id: Uuid,
    event_id: Uuid,
    shared: &mut SharedStrings,
) -> EventRow {
    let ty = EventType::try_from(event.r#type).unwrap_or(EventType::Unspecified);
    let empty = || shared.empty.clone();
    let (url, path, title, referrer) = match &event.page {
        Some(page) => (
            share(&mut shared.url, &page.url),
            share(&mut shared.path, &page.path),
            share(&mut shared.title, &page.title),
            share(&mut shared.referrer, &page.referrer),
        ),
        None => (empty(), empty(), empty(), empty()),
    };
    let (target, with_text) = match &event.payload {
        Some(Payload::Click(click)) => (click.target.as_ref(), true),
        Some(Payload::Input(input)) => (input.target.as_ref(), false),
        _ => (None, false),
    };
    let (target_tag, target_selector, target_text) = match target {
        Some(target) => (
            share(&mut shared.target_tag, &target.tag),
            share(&mut shared.target_selector, &target.selector),
            if with_text {
                share(&mut shared.target_text, &target.text)
            } else {
                empty()
            },
        ),
        None => (empty(), empty(), empty()),
    };
    let at = Position::of(event.payload.as_ref());
    let details = Details::of(event.payload.as_ref());
    EventRow {
        project_id,
        session_id,
        event_id,
        event_type: Cow::Borrowed(event_type_name(ty)),
        timestamp,
        received_at: columns.received_at.unwrap_or(timestamp),
        sequence: event.sequence,
        user_id: columns.user_id.clone(),
        anonymous_id: columns.anonymous_id.clone(),
        url,
        path,
        title,
        referrer,
        x: at.x,
        y: at.y,
        page_x: at.page_x,
        page_y: at.page_y,
        viewport_width: at.viewport_width,
        viewport_height: at.viewport_height,
        document_height: at.document_height,
        scroll_depth: at.scroll_depth,
        target_tag,
        target_selector,
        target_text,
        error_message: details.error_message,
        error_type: details.error_type,
        error_stack: details.error_stack,
        error_fingerprint: details.error_fingerprint,
        http_status: details.http_status,
        metric_name: details.metric_name,
        metric_value: details.metric_value,
        custom_name: details.custom_name,
        payload: event.payload.as_ref().map(payload_json).unwrap_or_default(),
        country_code: columns.country_code.clone(),
        subdivision: columns.subdivision.clone(),
        city: columns.city.clone(),
        browser: columns.browser.clone(),
        browser_version: columns.browser_version.clone(),
        os: columns.os.clone(),
        os_version: columns.os_version.clone(),
        device_type: Cow::Borrowed(columns.device_type),
        is_bot: columns.is_bot,
    }
}

/// What the detectors need of an event (its id parsed by the caller), if anything, appended to
/// `out` (a buffer the caller reuses from event to event).
/// URLs come from `shared`, as the event rows' do, so rows and windows hold one copy.
pub fn signals(event: &Event, event_id: Uuid, shared: &mut SharedStrings, out: &mut Vec<Signal>) {
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
                event_id,
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
        Some(Payload::ClickOutcome(outcome)) => {
            // An outcome naming no UUID belongs to no click the windows can hold.
            if let Ok(click_event_id) = Uuid::try_parse(&outcome.click_event_id) {
                out.push(Signal::ClickOutcome {
                    click_event_id,
                    at_ms,
                    responded: outcome.dom_mutated
                        || outcome.navigated
                        || outcome.scrolled
                        || outcome.focus_changed,
                    editable_target: outcome.editable_target,
                });
            }
        }
        Some(Payload::JsError(error)) => out.push(Signal::JsError {
            event_id,
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
            event_id,
            at_ms,
            url: url(),
            scroll_y: scroll.scroll_y,
        }),
        Some(Payload::PageView(_)) => out.push(Signal::PageView {
            event_id,
            at_ms,
            url: url(),
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use gosight_proto::*;

    use super::*;

    /// What parsing the URL gives, for URLs as browsers report them.
    #[test]
    fn url_path_is_the_parsed_path() {
        for url in [
            "https://shop.example",
            "https://shop.example/",
            "https://shop.example/products/garden-chair?ref=home#reviews",
            "https://shop.example?q=1",
            "https://shop.example#top",
            "https://user:pw@shop.example:8443/a/b/",
            "http://[::1]:8080/x%20y?z",
            "file:///home/me/page.html",
        ] {
            let parsed = url::Url::parse(url).unwrap();
            assert_eq!(url_path(url), parsed.path(), "{url}");
        }
        assert_eq!(url_path("/relative/path"), "/relative/path");
    }

    /// The same times as the nanosecond constructor gives, the epoch where it gives none.
    #[test]
    fn datetime_is_the_unix_milliseconds() {
        let samples = [
            0,
            1,
            -1,
            999,
            -999,
            1_000,
            -1_001,
            1_763_700_000_123,
            -62_135_596_800_000,
            253_402_300_799_999,
            253_402_300_800_000,
            i64::MAX,
            i64::MIN,
        ];
        for ms in samples
            .into_iter()
            .chain((0..10_000).map(|i| i * 7_919_113 - 39_595_565_000))
        {
            let expected = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH);
            assert_eq!(datetime(ms), expected, "{ms}");
        }
    }

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
}
