//! The `payload` column: an event's type-specific part as proto JSON, keyed as in the whole event
//! (`{"click":{...}}`); ids, time and page are columns of their own.
//!
//! The kinds a session sends most (clicks, scrolls, mouse moves) are written here directly, field
//! by field in proto order with defaults left out, as the generated `Serialize` impls write
//! them; every other kind goes through those impls. The tests hold both ways to the same bytes.

use gosight_proto::event::Payload;
use gosight_proto::{ClickPayload, MouseMovePayload, ScrollPayload, TargetElement};
use serde::ser::{Serialize, SerializeMap, Serializer};

/// A typical payload's size, so most columns are written without the buffer growing.
const TYPICAL_BYTES: usize = 256;

pub fn payload_json(payload: &Payload) -> String {
    let mut buffer = String::with_capacity(TYPICAL_BYTES);
    match payload {
        Payload::Click(v) => keyed(&mut buffer, "click", |o| click(o, v)),
        Payload::Scroll(v) => keyed(&mut buffer, "scroll", |o| scroll(o, v)),
        Payload::MouseMove(v) => keyed(&mut buffer, "mouseMove", |o| mouse_move(o, v)),
        other => return generated(other),
    }
    buffer
}

/// The payload through its generated `Serialize` impl.
pub fn generated(payload: &Payload) -> String {
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

fn to_json<T: Serialize>(value: &T) -> String {
    let mut buffer = Vec::with_capacity(TYPICAL_BYTES);
    if serde_json::to_writer(&mut buffer, value).is_err() {
        return String::new();
    }
    String::from_utf8(buffer).unwrap_or_default()
}

/// `{"<key>":{...}}`
fn keyed(buffer: &mut String, key: &'static str, body: impl FnOnce(&mut Object<'_>)) {
    let mut outer = Object::open(buffer);
    outer.object(key, body);
    outer.close();
}

/// A JSON object being written; fields at their proto default are left out.
struct Object<'a> {
    buffer: &'a mut String,
    empty: bool,
}

impl<'a> Object<'a> {
    fn open(buffer: &'a mut String) -> Self {
        buffer.push('{');
        Self {
            buffer,
            empty: true,
        }
    }

    /// `key` is a proto JSON field name: ASCII letters, nothing to escape.
    fn key(&mut self, key: &'static str) {
        if !self.empty {
            self.buffer.push(',');
        }
        self.empty = false;
        self.buffer.push('"');
        self.buffer.push_str(key);
        self.buffer.push_str("\":");
    }

    fn int<I: itoa::Integer + Default + PartialEq>(&mut self, key: &'static str, value: I) {
        if value != I::default() {
            self.key(key);
            self.buffer.push_str(itoa::Buffer::new().format(value));
        }
    }

    fn string(&mut self, key: &'static str, value: &str) {
        if !value.is_empty() {
            self.key(key);
            string(self.buffer, value);
        }
    }

    fn bool(&mut self, key: &'static str, value: bool) {
        if value {
            self.key(key);
            self.buffer.push_str("true");
        }
    }

    /// A nested object, its fields written by `body`.
    fn object(&mut self, key: &'static str, body: impl FnOnce(&mut Object<'_>)) {
        self.key(key);
        let mut inner = Object::open(self.buffer);
        body(&mut inner);
        inner.close();
    }

    /// A list, left out when empty; `item` writes each element.
    fn array<T>(&mut self, key: &'static str, items: &[T], mut item: impl FnMut(&mut String, &T)) {
        if items.is_empty() {
            return;
        }
        self.key(key);
        self.buffer.push('[');
        for (i, value) in items.iter().enumerate() {
            if i > 0 {
                self.buffer.push(',');
            }
            item(self.buffer, value);
        }
        self.buffer.push(']');
    }

    fn close(self) {
        self.buffer.push('}');
    }
}

/// A JSON string, escaped as serde_json escapes it: control characters, `"` and `\`. Most
/// strings hold none of them and are copied as they are.
fn string(buffer: &mut String, value: &str) {
    // Every byte looked at (no early exit), which lets the check run on whole vectors.
    let plain = value.bytes().fold(true, |plain, b| {
        plain & (b >= 0x20) & (b != b'"') & (b != b'\\')
    });
    if plain {
        buffer.reserve(value.len() + 2);
        buffer.push('"');
        buffer.push_str(value);
        buffer.push('"');
        return;
    }
    // A &str always serialises.
    buffer.push_str(&serde_json::to_string(value).unwrap_or_default());
}

fn click(o: &mut Object<'_>, v: &ClickPayload) {
    o.int("x", v.x);
    o.int("y", v.y);
    o.int("pageX", v.page_x);
    o.int("pageY", v.page_y);
    o.int("viewportWidth", v.viewport_width);
    o.int("viewportHeight", v.viewport_height);
    o.int("documentHeight", v.document_height);
    if let Some(target) = &v.target {
        o.object("target", |inner| target_element(inner, target));
    }
    o.int("button", v.button);
    o.int("detail", v.detail);
    o.bool("selectedText", v.selected_text);
}

fn target_element(o: &mut Object<'_>, v: &TargetElement) {
    o.string("tag", &v.tag);
    o.string("id", &v.id);
    o.array("classes", &v.classes, |buffer, class| string(buffer, class));
    o.string("selector", &v.selector);
    o.string("text", &v.text);
    o.string("href", &v.href);
    if !v.data_attributes.is_empty() {
        o.key("dataAttributes");
        // The map's own order, as the generated impl writes it.
        o.buffer
            .push_str(&serde_json::to_string(&v.data_attributes).unwrap_or_default());
    }
    o.string("role", &v.role);
}

fn scroll(o: &mut Object<'_>, v: &ScrollPayload) {
    o.int("scrollX", v.scroll_x);
    o.int("scrollY", v.scroll_y);
    o.int("viewportHeight", v.viewport_height);
    o.int("documentHeight", v.document_height);
    o.int("maxDepthPercent", v.max_depth_percent);
}

fn mouse_move(o: &mut Object<'_>, v: &MouseMovePayload) {
    o.array("positions", &v.positions, |buffer, position| {
        let mut inner = Object::open(buffer);
        inner.int("x", position.x);
        inner.int("y", position.y);
        inner.int("offsetMs", position.offset_ms);
        inner.close();
    });
    o.int("viewportWidth", v.viewport_width);
    o.int("viewportHeight", v.viewport_height);
}

#[cfg(test)]
mod tests {
    use gosight_proto::*;

    use super::*;

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

    /// A small deterministic generator (xorshift), so the cases are the same on every run.
    struct Cases(u64);

    impl Cases {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        /// Zero (left out of the JSON) a third of the time, else anything, extremes included.
        fn int(&mut self) -> i32 {
            match self.next() % 6 {
                0 | 1 => 0,
                2 => i32::MIN,
                3 => i32::MAX,
                _ => self.next() as i32,
            }
        }

        fn uint(&mut self) -> u32 {
            match self.next() % 4 {
                0 => 0,
                1 => u32::MAX,
                _ => self.next() as u32,
            }
        }

        fn text(&mut self) -> String {
            const PIECES: [&str; 9] =
                ["", "a", "\"", "\\", "\u{1}", "\n\t", "é", "😀", "</script>"];
            (0..self.next() % 5)
                .map(|_| PIECES[(self.next() % PIECES.len() as u64) as usize])
                .collect()
        }

        fn target(&mut self) -> Option<TargetElement> {
            (!self.next().is_multiple_of(4)).then(|| TargetElement {
                tag: self.text(),
                id: self.text(),
                classes: (0..self.next() % 3).map(|_| self.text()).collect(),
                selector: self.text(),
                text: self.text(),
                href: self.text(),
                data_attributes: (0..self.next() % 3)
                    .map(|_| (self.text(), self.text()))
                    .collect(),
                role: self.text(),
            })
        }
    }

    /// The kinds written by hand give exactly the generated impls' bytes, over many values:
    /// defaults, extremes, negative numbers, strings that need escaping, empty lists and maps.
    #[test]
    fn hand_written_kinds_match_the_generated_impls() {
        let mut cases = Cases(0x9e37_79b9_7f4a_7c15);
        for _ in 0..5_000 {
            let payloads = [
                Payload::Click(ClickPayload {
                    x: cases.int(),
                    y: cases.int(),
                    page_x: cases.int(),
                    page_y: cases.int(),
                    viewport_width: cases.uint(),
                    viewport_height: cases.uint(),
                    document_height: cases.uint(),
                    target: cases.target(),
                    button: cases.uint(),
                    detail: cases.uint(),
                    selected_text: cases.next().is_multiple_of(2),
                }),
                Payload::Scroll(ScrollPayload {
                    scroll_x: cases.int(),
                    scroll_y: cases.int(),
                    viewport_height: cases.uint(),
                    document_height: cases.uint(),
                    max_depth_percent: cases.uint(),
                }),
                Payload::MouseMove(MouseMovePayload {
                    positions: (0..cases.next() % 4)
                        .map(|_| MousePosition {
                            x: cases.int(),
                            y: cases.int(),
                            offset_ms: cases.uint(),
                        })
                        .collect(),
                    viewport_width: cases.uint(),
                    viewport_height: cases.uint(),
                }),
            ];
            for payload in payloads {
                assert_eq!(payload_json(&payload), generated(&payload), "{payload:?}");
            }
        }
    }
}
