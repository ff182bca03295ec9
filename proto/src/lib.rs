//! GoSight's wire protocol.
//!
//! - [`gosight`]: every message of `proto/gosight/*.proto` as prost types, with serde impls that
//!   follow the proto3 JSON mapping (the HTTP ingest accepts and answers it), and the tonic
//!   `IngestService` client and server.
//! - [`event_type_of`]: the event type a payload stands for, used to check `Event.type`.
//! - [`EventEnvelope::all_events`]: the events of an envelope in either of its two shapes.
//! - [`json`]: how the JSON mapping's numbers are read.
//!
//! Compatibility rules are in `proto/README.md`.

#[allow(
    missing_debug_implementations,
    clippy::all,
    clippy::unwrap_used,
    clippy::print_stdout
)]
pub mod gosight {
    include!(concat!(env!("OUT_DIR"), "/gosight.rs"));
    include!(concat!(env!("OUT_DIR"), "/gosight.serde.rs"));
}

pub use gosight::*;

pub mod json;

impl EventEnvelope {
    /// Every event the envelope carries: `event` (one event per message) and then `events` (one
    /// batch per message). See `envelope.proto`.
    pub fn all_events(&self) -> impl Iterator<Item = &Event> {
        self.event.iter().chain(self.events.iter())
    }

    /// How many events the envelope carries.
    pub fn event_count(&self) -> usize {
        usize::from(self.event.is_some()) + self.events.len()
    }
}

/// The [`EventType`] that a payload variant stands for.
pub fn event_type_of(payload: &event::Payload) -> EventType {
    use event::Payload;
    match payload {
        Payload::PageView(_) => EventType::PageView,
        Payload::Click(_) => EventType::Click,
        Payload::Scroll(_) => EventType::Scroll,
        // One payload serves the three input events; the type field tells them apart.
        Payload::Input(_) => EventType::InputChange,
        Payload::MouseMove(_) => EventType::MouseMove,
        Payload::VisibilityChange(_) => EventType::VisibilityChange,
        Payload::JsError(_) => EventType::JsError,
        Payload::NetworkError(_) => EventType::NetworkError,
        Payload::ConsoleLog(_) => EventType::ConsoleLog,
        Payload::WebVitals(_) => EventType::WebVitals,
        Payload::PageLoad(_) => EventType::PageLoad,
        Payload::ResourceLoad(_) => EventType::ResourceLoad,
        Payload::Custom(_) => EventType::Custom,
        Payload::ClickOutcome(_) => EventType::ClickOutcome,
    }
}

/// Whether `payload` is a valid payload for an event of type `ty`.
pub fn payload_matches(ty: EventType, payload: &event::Payload) -> bool {
    match (ty, payload) {
        (
            EventType::InputChange | EventType::InputFocus | EventType::InputBlur,
            event::Payload::Input(_),
        ) => true,
        (ty, payload) => event_type_of(payload) == ty,
    }
}
