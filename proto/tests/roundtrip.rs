//! Every event type survives protobuf and proto3-JSON round trips, and the JSON the HTTP
//! endpoint documents parses.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use gosight_proto::event::Payload;
use gosight_proto::*;
use prost::Message;

fn target() -> Option<TargetElement> {
    Some(TargetElement {
        tag: "button".into(),
        id: "buy".into(),
        classes: vec!["btn".into(), "primary".into()],
        selector: "#buy".into(),
        text: "Buy now".into(),
        href: String::new(),
        data_attributes: HashMap::from([("data-test".into(), "buy".into())]),
        role: "button".into(),
    })
}

fn payload_for(ty: EventType) -> Option<Payload> {
    Some(match ty {
        EventType::Unspecified => return None,
        EventType::PageView => Payload::PageView(PageViewPayload {
            navigation_type: NavigationType::PushState as i32,
            previous_url: "https://shop.example/".into(),
        }),
        EventType::Click => Payload::Click(ClickPayload {
            x: 10,
            y: 20,
            page_x: 10,
            page_y: 1220,
            viewport_width: 1280,
            viewport_height: 720,
            document_height: 4000,
            target: target(),
            button: 0,
            detail: 1,
            selected_text: false,
        }),
        EventType::Scroll => Payload::Scroll(ScrollPayload {
            scroll_x: 0,
            scroll_y: 900,
            viewport_height: 720,
            document_height: 4000,
            max_depth_percent: 40,
        }),
        EventType::InputChange | EventType::InputFocus | EventType::InputBlur => {
            Payload::Input(InputPayload {
                target: target(),
                value: String::new(),
                masked: true,
                value_length: 12,
                input_type: "email".into(),
            })
        }
        EventType::MouseMove => Payload::MouseMove(MouseMovePayload {
            positions: vec![
                MousePosition {
                    x: 1,
                    y: 2,
                    offset_ms: 0,
                },
                MousePosition {
                    x: 5,
                    y: 9,
                    offset_ms: 50,
                },
            ],
            viewport_width: 1280,
            viewport_height: 720,
        }),
        EventType::VisibilityChange => {
            Payload::VisibilityChange(VisibilityChangePayload { visible: false })
        }
        EventType::JsError => Payload::JsError(JsErrorPayload {
            message: "x is undefined".into(),
            error_type: "TypeError".into(),
            source: "https://shop.example/app.js".into(),
            line: 10,
            column: 5,
            stack: "TypeError: x is undefined\n    at buy (app.js:10:5)".into(),
            frames: vec![StackFrame {
                function: "buy".into(),
                file: "app.js".into(),
                line: 10,
                column: 5,
            }],
            unhandled_rejection: false,
        }),
        EventType::NetworkError => Payload::NetworkError(NetworkErrorPayload {
            url: "https://api.example/cart".into(),
            method: "POST".into(),
            status: 503,
            status_text: "Service Unavailable".into(),
            duration_ms: 120,
            initiator: RequestInitiator::Fetch as i32,
            error_message: String::new(),
        }),
        EventType::ConsoleLog => Payload::ConsoleLog(ConsoleLogPayload {
            level: LogLevel::Error as i32,
            message: "failed".into(),
            stack: String::new(),
        }),
        EventType::WebVitals => Payload::WebVitals(WebVitalsPayload {
            name: WebVitalName::Lcp as i32,
            value: 2100.5,
            rating: WebVitalRating::Good as i32,
            delta: 2100.5,
            metric_id: "v4-1".into(),
        }),
        EventType::PageLoad => Payload::PageLoad(PageLoadPayload {
            dns_ms: 1.0,
            connect_ms: 2.0,
            ttfb_ms: 80.0,
            dom_interactive_ms: 300.0,
            dom_content_loaded_ms: 350.0,
            load_ms: 900.0,
            transfer_size: 120_000,
            navigation_type: NavigationType::Load as i32,
        }),
        EventType::ResourceLoad => Payload::ResourceLoad(ResourceLoadPayload {
            url: "https://cdn.example/a.js".into(),
            initiator_type: "script".into(),
            duration_ms: 30.0,
            transfer_size: 0,
            failed: true,
            status: 404,
        }),
        EventType::Custom => Payload::Custom(CustomPayload {
            name: "checkout".into(),
            properties: HashMap::from([("total".into(), "42.5".into())]),
        }),
        EventType::ClickOutcome => Payload::ClickOutcome(ClickOutcomePayload {
            click_event_id: "0190f3a2-6b1c-7cc0-8f00-000000000001".into(),
            observed_ms: 1000,
            dom_mutated: false,
            navigated: false,
            scrolled: false,
            focus_changed: false,
            first_response_ms: 0,
            editable_target: false,
        }),
    })
}

fn all_event_types() -> Vec<EventType> {
    (1..64)
        .filter_map(|n| EventType::try_from(n).ok())
        .collect()
}

fn event(ty: EventType, n: u64) -> Event {
    Event {
        event_id: format!("0190f3a2-6b1c-7cc0-8f00-{n:012}"),
        r#type: ty as i32,
        timestamp: Some(Timestamp {
            unix_ms: 1_763_700_000_000 + n as i64,
        }),
        page: Some(Page {
            url: "https://shop.example/cart?x=1".into(),
            path: "/cart".into(),
            title: "Cart".into(),
            referrer: String::new(),
        }),
        sequence: n,
        payload: payload_for(ty),
    }
}

fn batch() -> EventBatch {
    EventBatch {
        project_key: "gs_live_abc".into(),
        session: Some(SessionMeta {
            session_id: "0190f3a2-6b1c-7cc0-8f00-0000000000aa".into(),
            user_id: "user-1".into(),
            anonymous_id: "anon-1".into(),
            device: Some(Device {
                user_agent: "Mozilla/5.0".into(),
                screen_width: 1920,
                screen_height: 1080,
                viewport_width: 1280,
                viewport_height: 720,
                device_pixel_ratio: 2.0,
                language: "en-GB".into(),
                timezone: "Europe/Berlin".into(),
                touch: false,
            }),
            started_at: Some(Timestamp {
                unix_ms: 1_763_700_000_000,
            }),
            sdk_version: "0.1.0".into(),
            user_traits: HashMap::from([("plan".into(), "pro".into())]),
        }),
        events: all_event_types()
            .into_iter()
            .enumerate()
            .map(|(i, ty)| event(ty, i as u64 + 1))
            .collect(),
        sent_at: Some(Timestamp {
            unix_ms: 1_763_700_001_000,
        }),
    }
}

#[test]
fn every_event_type_has_a_matching_payload() {
    let types = all_event_types();
    assert_eq!(types.len(), 16, "a new event type needs a sample here");
    for ty in types {
        let payload = payload_for(ty).unwrap();
        assert!(payload_matches(ty, &payload), "{ty:?}");
    }
    assert!(!payload_matches(
        EventType::Click,
        &payload_for(EventType::Scroll).unwrap()
    ));
}

#[test]
fn protobuf_round_trip_for_every_event_type() {
    for ty in all_event_types() {
        let original = event(ty, 7);
        let decoded = Event::decode(original.encode_to_vec().as_slice()).unwrap();
        assert_eq!(decoded, original, "{ty:?}");
    }
    let original = batch();
    assert_eq!(
        EventBatch::decode(original.encode_to_vec().as_slice()).unwrap(),
        original
    );
}

#[test]
fn json_round_trip_for_every_event_type() {
    for ty in all_event_types() {
        let original = event(ty, 7);
        let json = serde_json::to_string(&original).unwrap();
        let decoded: Event = serde_json::from_str(&json).unwrap();
        assert_eq!(decoded, original, "{ty:?}: {json}");
    }
    let original = batch();
    let json = serde_json::to_string(&original).unwrap();
    assert_eq!(serde_json::from_str::<EventBatch>(&json).unwrap(), original);
}

#[test]
fn envelope_round_trips() {
    let envelope = EventEnvelope {
        project_id: "6a1f0e5e-5d0a-4c1b-9a55-2f0c8b7d1e11".into(),
        session: batch().session,
        received_at: Some(Timestamp {
            unix_ms: 1_763_700_001_500,
        }),
        client_ip: "203.0.113.0".into(),
        geo: Some(Geo {
            country_code: "GB".into(),
            subdivision_code: "ENG".into(),
            subdivision_name: "England".into(),
            city: "London".into(),
        }),
        user_agent: Some(UserAgentInfo {
            browser: "Chrome".into(),
            browser_version: "130.0".into(),
            os: "Linux".into(),
            os_version: String::new(),
            device_type: DeviceType::Desktop as i32,
            is_bot: false,
        }),
        event: Some(event(EventType::Click, 1)),
        events: Vec::new(),
    };
    let decoded = EventEnvelope::decode(envelope.encode_to_vec().as_slice()).unwrap();
    assert_eq!(decoded, envelope);
    assert_eq!(decoded.event_count(), 1);
    // The batch shape: the events of one batch share the context; readers see both shapes alike.
    let batched = EventEnvelope {
        event: None,
        events: vec![event(EventType::PageView, 2), event(EventType::Click, 3)],
        ..envelope.clone()
    };
    let decoded = EventEnvelope::decode(batched.encode_to_vec().as_slice()).unwrap();
    assert_eq!(decoded, batched);
    assert_eq!(decoded.event_count(), 2);
    let ids: Vec<&str> = decoded.all_events().map(|e| e.event_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            batched.events[0].event_id.as_str(),
            batched.events[1].event_id.as_str()
        ]
    );
    let replay = ReplayEnvelope {
        project_id: envelope.project_id.clone(),
        received_at: envelope.received_at,
        chunk: Some(ReplayChunk {
            project_key: String::new(),
            session_id: "0190f3a2-6b1c-7cc0-8f00-0000000000aa".into(),
            chunk_index: 3,
            first_timestamp: Some(Timestamp { unix_ms: 1 }),
            last_timestamp: Some(Timestamp { unix_ms: 2 }),
            has_full_snapshot: true,
            event_count: 40,
            encoding: ReplayEncoding::GzipJson as i32,
            data: vec![0x1f, 0x8b, 0, 1, 2],
            uncompressed_size: 5000,
        }),
    };
    let json = serde_json::to_string(&replay).unwrap();
    assert!(
        json.contains("\"data\":\"H4sAAQI=\""),
        "bytes are base64 in JSON: {json}"
    );
    assert_eq!(
        serde_json::from_str::<ReplayEnvelope>(&json).unwrap(),
        replay
    );
}

/// The JSON shape documented in proto/README.md, as an SDK without generated code writes it.
#[test]
fn documented_json_parses() {
    let json = r##"{
        "projectKey": "gs_live_abc",
        "session": {"sessionId": "0190f3a2-6b1c-7cc0-8f00-0000000000aa",
                    "device": {"userAgent": "Mozilla/5.0", "viewportWidth": 1280}},
        "sentAt": {"unixMs": 1763700001000},
        "events": [
            {"eventId": "0190f3a2-6b1c-7cc0-8f00-000000000001", "type": "EVENT_TYPE_CLICK",
             "timestamp": {"unixMs": "1763700000000"},
             "page": {"url": "https://shop.example/", "path": "/"},
             "click": {"x": 10, "y": 20, "target": {"tag": "button", "selector": "#buy"}}},
            {"event_id": "0190f3a2-6b1c-7cc0-8f00-000000000002", "type": 12,
             "timestamp": {"unix_ms": 1763700000001},
             "web_vitals": {"name": "WEB_VITAL_NAME_LCP", "value": 2100.5}}
        ]
    }"##;
    let batch: EventBatch = serde_json::from_str(json).unwrap();
    assert_eq!(batch.events.len(), 2);
    assert_eq!(batch.events[0].r#type(), EventType::Click);
    assert_eq!(
        batch.events[0].timestamp.unwrap().unix_ms,
        1_763_700_000_000
    );
    match &batch.events[0].payload {
        Some(Payload::Click(click)) => assert_eq!(click.target.as_ref().unwrap().selector, "#buy"),
        other => panic!("expected a click, got {other:?}"),
    }
    assert_eq!(batch.events[1].r#type(), EventType::WebVitals);
    match &batch.events[1].payload {
        Some(Payload::WebVitals(v)) => assert_eq!(v.name(), WebVitalName::Lcp),
        other => panic!("expected web vitals, got {other:?}"),
    }
    assert_eq!(batch.session.unwrap().device.unwrap().viewport_width, 1280);

    // A newer SDK's fields are skipped, as in the binary encoding; wrong types are still errors.
    let unknown_field = r#"{"events": [], "surprise": {"nested": 1}}"#;
    assert!(
        serde_json::from_str::<EventBatch>(unknown_field)
            .unwrap()
            .events
            .is_empty()
    );
    let wrong_type = r#"{"events": "none"}"#;
    assert!(serde_json::from_str::<EventBatch>(wrong_type).is_err());
}
