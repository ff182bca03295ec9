//! The ingest against the real broker, PostgreSQL and Redis.

#![allow(clippy::unwrap_used)]

mod harness;

use std::collections::HashSet;
use std::time::Duration;

use gosight_proto::ingest_service_client::IngestServiceClient;
use gosight_proto::*;
use harness::*;
use prost::Message;
use uuid::Uuid;

const PROTOBUF: &str = "application/x-protobuf";

async fn post(
    h: &Harness,
    path: &str,
    body: Vec<u8>,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = h.http.post(format!("{}{path}", h.base)).body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

async fn ack(response: reqwest::Response) -> serde_json::Value {
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

async fn error(response: reqwest::Response, status: u16) -> String {
    let actual = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(actual, status, "{body}");
    let value: serde_json::Value = serde_json::from_str(&body).unwrap();
    value["message"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn http_batches_arrive_keyed_and_enriched() {
    let h = Harness::start(Options::default()).await;
    let session = Uuid::new_v4();
    let now = now_ms();

    // Protobuf with the key in the header, from a client behind the trusted proxy.
    let first = batch(session, vec![click(now), js_error(now + 1)]);
    let response = post(
        &h,
        "/v1/events",
        first.encode_to_vec(),
        &[
            ("content-type", PROTOBUF),
            ("x-gosight-key", &h.key),
            ("x-forwarded-for", "81.2.69.142"),
            (
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ),
        ],
    )
    .await;
    let value = ack(response).await;
    assert_eq!(value["accepted"], 2);

    // JSON with the key in the batch; gzip protobuf with the key in the query, answered in protobuf.
    let mut second = batch(session, vec![click(now + 2)]);
    second.project_key = h.key.clone();
    let response = post(
        &h,
        "/v1/events",
        serde_json::to_vec(&second).unwrap(),
        &[("content-type", "application/json")],
    )
    .await;
    assert_eq!(ack(response).await["accepted"], 1);
    let third = batch(session, vec![click(now + 3)]);
    let response = post(
        &h,
        &format!("/v1/events?key={}&format=protobuf&encoding=gzip", h.key),
        gzip(&third.encode_to_vec()),
        &[("accept", PROTOBUF)],
    )
    .await;
    assert_eq!(response.status(), 200);
    let decoded = EventAck::decode(response.bytes().await.unwrap()).unwrap();
    assert_eq!(decoded.accepted, 1);

    // One message per batch, the batch's events in it in order.
    let messages = h.read_messages(&h.topics.events_raw, 4).await;
    let counts: Vec<usize> = messages.iter().map(|(_, _, e)| e.event_count()).collect();
    assert_eq!(counts, vec![2, 1, 1]);
    assert!(messages.iter().all(|(_, _, e)| e.event.is_none()));
    let envelopes = h.read(&h.topics.events_raw, 4).await;
    let key = format!("{}:{session}", h.project);
    let partitions: HashSet<i32> = envelopes.iter().map(|(_, p, _)| *p).collect();
    assert_eq!(partitions.len(), 1, "one session, one partition");
    let mut sequence = Vec::new();
    for (k, _, envelope) in &envelopes {
        assert_eq!(k, &key);
        assert_eq!(envelope.project_id, h.project.to_string());
        assert!(envelope.received_at.unwrap().unix_ms >= now);
        let ua = envelope.user_agent.as_ref().unwrap();
        assert_eq!(ua.browser, "Chrome");
        assert_eq!(ua.device_type(), DeviceType::Desktop);
        sequence.push(envelope.event.as_ref().unwrap().timestamp.unwrap().unix_ms);
    }
    assert_eq!(sequence, vec![now, now + 1, now + 2, now + 3], "order kept");
    let enriched = &envelopes[0].2;
    assert_eq!(enriched.client_ip, "81.2.69.142");
    let geo = enriched.geo.as_ref().unwrap();
    assert_eq!(
        (geo.country_code.as_str(), geo.city.as_str()),
        ("GB", "London")
    );
    assert_eq!(geo.subdivision_code, "ENG");
    // The stack was cut at 16 KiB; the error also went to the errors topic.
    let errors = h.read(&h.topics.events_errors, 1).await;
    let Some(event::Payload::JsError(error)) = &errors[0].2.event.as_ref().unwrap().payload else {
        panic!("expected the js error");
    };
    assert_eq!(error.stack.len(), 16 * 1024);
    h.stop().await;
}

#[tokio::test]
async fn grpc_stream_acks_every_batch_and_replay_arrives() {
    let h = Harness::start(Options::default()).await;
    let session = Uuid::new_v4();
    let mut client = IngestServiceClient::connect(format!("http://{}", h.server.grpc_addr))
        .await
        .unwrap();
    let batches: Vec<EventBatch> = (0..3)
        .map(|i| {
            let mut b = batch(session, vec![click(now_ms() + i)]);
            b.project_key = h.key.clone();
            b
        })
        .collect();
    let mut acks = client
        .send_events(futures::stream::iter(batches))
        .await
        .unwrap()
        .into_inner();
    let mut count = 0;
    while let Some(ack) = acks.message().await.unwrap() {
        assert_eq!(ack.accepted, 1);
        count += 1;
    }
    assert_eq!(count, 3);
    let envelopes = h.read(&h.topics.events_raw, 3).await;
    assert!(
        envelopes
            .iter()
            .all(|(k, _, _)| k == &format!("{}:{session}", h.project))
    );

    let chunk = ReplayChunk {
        project_key: h.key.clone(),
        session_id: session.to_string(),
        chunk_index: 0,
        has_full_snapshot: true,
        encoding: ReplayEncoding::GzipJson as i32,
        data: gzip(b"[{\"type\":2}]"),
        ..Default::default()
    };
    let ack = client
        .send_replay(futures::stream::iter(vec![chunk]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ack.accepted, 1);
    let consumer = h.consumer(&h.topics.replay_chunks);
    let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        message.key.unwrap().as_ref(),
        session.to_string().as_bytes()
    );
    let envelope = ReplayEnvelope::decode(message.payload).unwrap();
    let chunk = envelope.chunk.unwrap();
    assert!(
        chunk.project_key.is_empty(),
        "the key never reaches the bus"
    );
    assert!(chunk.has_full_snapshot);

    // A bad key ends the stream with UNAUTHENTICATED.
    let mut bad = batch(session, vec![click(now_ms())]);
    bad.project_key = "gs_nope".into();
    let mut acks = client
        .send_events(futures::stream::iter(vec![bad]))
        .await
        .unwrap()
        .into_inner();
    let status = acks.message().await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    h.stop().await;
}

#[tokio::test]
async fn replay_over_http() {
    let h = Harness::start(Options::default()).await;
    let chunk = ReplayChunk {
        session_id: Uuid::new_v4().to_string(),
        chunk_index: 4,
        encoding: ReplayEncoding::Json as i32,
        data: b"[{\"type\":3}]".to_vec(),
        ..Default::default()
    };
    let response = post(
        &h,
        "/v1/replay",
        chunk.encode_to_vec(),
        &[("content-type", PROTOBUF), ("x-gosight-key", &h.key)],
    )
    .await;
    assert_eq!(ack(response).await["accepted"], 1);
    // A chunk whose request body is exactly at the limit (1 MiB) reaches the topic whole.
    let mut at_limit = ReplayChunk {
        chunk_index: 5,
        data: Vec::new(),
        ..chunk.clone()
    };
    let overhead = at_limit.encoded_len() + 4;
    at_limit.data = (0..1024 * 1024 - overhead)
        .map(|i| (i % 251) as u8)
        .collect();
    let body = at_limit.encode_to_vec();
    assert_eq!(body.len(), 1024 * 1024);
    let consumer = h.consumer(&h.topics.replay_chunks);
    let response = post(
        &h,
        "/v1/replay",
        body,
        &[("content-type", PROTOBUF), ("x-gosight-key", &h.key)],
    )
    .await;
    assert_eq!(ack(response).await["accepted"], 1);
    let mut found = false;
    while !found {
        let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .expect("timed out reading the replay topic")
            .unwrap();
        let envelope = ReplayEnvelope::decode(message.payload).unwrap();
        let stored = envelope.chunk.unwrap();
        if stored.chunk_index == 5 {
            assert_eq!(stored.data, at_limit.data);
            found = true;
        }
    }
    let big = ReplayChunk {
        data: vec![7; 2 * 1024 * 1024],
        ..chunk
    };
    let response = post(
        &h,
        "/v1/replay",
        big.encode_to_vec(),
        &[("content-type", PROTOBUF), ("x-gosight-key", &h.key)],
    )
    .await;
    error(response, 413).await;
    h.stop().await;
}

#[tokio::test]
async fn revoked_key_stops_working_within_the_cache_ttl() {
    let mut options = Options::default();
    options.config.key_cache_ttl_secs = 1;
    let h = Harness::start(options).await;
    let body = batch(Uuid::new_v4(), vec![click(now_ms())]).encode_to_vec();
    let headers = [
        ("content-type", PROTOBUF),
        ("x-gosight-key", h.key.as_str()),
    ];
    assert_eq!(
        post(&h, "/v1/events", body.clone(), &headers)
            .await
            .status(),
        200
    );
    h.pool
        .get()
        .await
        .unwrap()
        .execute("UPDATE api_keys SET revoked_at = now()", &[])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let message = error(post(&h, "/v1/events", body, &headers).await, 401).await;
    assert!(message.contains("revoked"), "{message}");
    h.stop().await;
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let options = Options {
        rate_limit: 5,
        rate_burst: 10,
        ..Default::default()
    };
    let h = Harness::start(options).await;
    let session = Uuid::new_v4();
    let events = |n: usize| {
        (0..n)
            .map(|i| click(now_ms() + i as i64))
            .collect::<Vec<_>>()
    };
    let headers = [
        ("content-type", PROTOBUF),
        ("x-gosight-key", h.key.as_str()),
    ];
    let first = post(
        &h,
        "/v1/events",
        batch(session, events(10)).encode_to_vec(),
        &headers,
    )
    .await;
    assert_eq!(first.status(), 200);
    let second = post(
        &h,
        "/v1/events",
        batch(session, events(10)).encode_to_vec(),
        &headers,
    )
    .await;
    assert_eq!(second.status(), 429);
    let retry_after: u64 = second.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    h.stop().await;
}

#[tokio::test]
async fn broker_unreachable_answers_503_never_2xx() {
    let mut kafka = gosight_common::kafka::KafkaConfig {
        brokers: "127.0.0.1:1".into(),
        message_timeout_ms: 2_000,
        ..Default::default()
    };
    kafka
        .librdkafka
        .insert("socket.connection.setup.timeout.ms".into(), "1000".into());
    let options = Options {
        kafka: Some(kafka),
        ..Default::default()
    };
    let h = Harness::start(options).await;
    let body = batch(Uuid::new_v4(), vec![click(now_ms())]).encode_to_vec();
    let headers = [
        ("content-type", PROTOBUF),
        ("x-gosight-key", h.key.as_str()),
    ];
    for _ in 0..5 {
        let response = post(&h, "/v1/events", body.clone(), &headers).await;
        assert_eq!(response.status(), 503);
        assert!(response.headers().contains_key("retry-after"));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let ready = h
        .http
        .get(format!("{}/ready", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    h.stop().await;
}

#[tokio::test]
async fn bad_input_gets_clear_errors_and_good_events_go_through() {
    let h = Harness::start(Options::default()).await;
    let key = h.key.as_str();
    let pb = [("content-type", PROTOBUF), ("x-gosight-key", key)];
    let session = Uuid::new_v4();

    let m = error(
        post(&h, "/v1/events", vec![0xff, 0xff, 0xff], &pb).await,
        400,
    )
    .await;
    assert!(m.contains("malformed protobuf"), "{m}");
    let m = error(
        post(
            &h,
            "/v1/events",
            b"{\"events\": [".to_vec(),
            &[("content-type", "application/json"), ("x-gosight-key", key)],
        )
        .await,
        400,
    )
    .await;
    assert!(m.contains("malformed JSON"), "{m}");
    let m = error(
        post(
            &h,
            "/v1/events",
            b"hello".to_vec(),
            &[("content-type", "text/html"), ("x-gosight-key", key)],
        )
        .await,
        415,
    )
    .await;
    assert!(m.contains("text/html"), "{m}");
    error(
        post(&h, "/v1/events", vec![0; 2 * 1024 * 1024], &pb).await,
        413,
    )
    .await;
    let bomb = gzip(&vec![0u8; 64 * 1024 * 1024]);
    assert!(bomb.len() < 1024 * 1024);
    let m = error(
        post(
            &h,
            "/v1/events",
            bomb,
            &[
                ("content-type", PROTOBUF),
                ("x-gosight-key", key),
                ("content-encoding", "gzip"),
            ],
        )
        .await,
        413,
    )
    .await;
    assert!(m.contains("decompresses"), "{m}");
    let m = error(
        post(
            &h,
            "/v1/events",
            batch(session, vec![]).encode_to_vec(),
            &pb,
        )
        .await,
        400,
    )
    .await;
    assert!(m.contains("empty batch"), "{m}");
    let m = error(
        post(
            &h,
            "/v1/events",
            batch(session, vec![click(now_ms())]).encode_to_vec(),
            &[("content-type", PROTOBUF)],
        )
        .await,
        401,
    )
    .await;
    assert!(m.contains("missing project key"), "{m}");
    let m = error(
        post(
            &h,
            "/v1/events",
            batch(session, vec![click(now_ms())]).encode_to_vec(),
            &[("content-type", PROTOBUF), ("x-gosight-key", "gs_wrong")],
        )
        .await,
        401,
    )
    .await;
    assert!(m.contains("unknown project key"), "{m}");

    // Invalid UTF-8 in a JSON string and in a protobuf string field.
    let mut json = br#"{"session":{"sessionId":""#.to_vec();
    json.extend_from_slice(session.to_string().as_bytes());
    json.extend_from_slice(b"\"},\"events\":[{\"eventId\":\"\xff\xfe\"}]}");
    error(
        post(
            &h,
            "/v1/events",
            json,
            &[("content-type", "application/json"), ("x-gosight-key", key)],
        )
        .await,
        400,
    )
    .await;
    let mut raw = batch(session, vec![click(now_ms())]);
    raw.events[0].event_id = "PLACEHOLDER".into();
    let mut bytes = raw.encode_to_vec();
    let at = bytes.windows(11).position(|w| w == b"PLACEHOLDER").unwrap();
    bytes[at] = 0xff;
    let m = error(post(&h, "/v1/events", bytes, &pb).await, 400).await;
    assert!(m.contains("malformed protobuf"), "{m}");

    // 10,000 events: the first 500 go through, the rest are rejected with one reason.
    let many: Vec<Event> = (0..10_000).map(|i| click(now_ms() + i)).collect();
    let response = post(
        &h,
        "/v1/events",
        gzip(&batch(session, many).encode_to_vec()),
        &[
            ("content-type", PROTOBUF),
            ("x-gosight-key", key),
            ("content-encoding", "gzip"),
        ],
    )
    .await;
    let value = ack(response).await;
    assert_eq!(value["accepted"], 500);
    assert_eq!(value["rejected"], 9500);
    assert_eq!(
        value["rejections"][0]["reason"],
        "REJECT_REASON_TOO_MANY_EVENTS"
    );

    // Bad events beside good ones: far past, far future, duplicate id, wrong payload.
    let good = click(now_ms());
    let duplicate = good.clone();
    let mut past = click(now_ms());
    past.timestamp = Some(Timestamp {
        unix_ms: now_ms() - 30 * 24 * 3600 * 1000,
    });
    let mut future = click(now_ms());
    future.timestamp = Some(Timestamp {
        unix_ms: now_ms() + 3600 * 1000,
    });
    let mut mismatched = click(now_ms());
    mismatched.r#type = EventType::Scroll as i32;
    let good_id = good.event_id.clone();
    let mixed = batch(session, vec![past, good, future, duplicate, mismatched]);
    let value = ack(post(&h, "/v1/events", mixed.encode_to_vec(), &pb).await).await;
    assert_eq!(value["accepted"], 1);
    assert_eq!(value["rejected"], 4);
    let reasons: Vec<&str> = value["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "REJECT_REASON_TIMESTAMP_OUT_OF_RANGE",
            "REJECT_REASON_TIMESTAMP_OUT_OF_RANGE",
            "REJECT_REASON_DUPLICATE_EVENT_ID",
            "REJECT_REASON_TYPE_MISMATCH"
        ]
    );
    // Bad session id: the whole batch is refused.
    let mut no_session = batch(session, vec![click(now_ms())]);
    no_session.session.as_mut().unwrap().session_id = "not-a-uuid".into();
    let m = error(
        post(&h, "/v1/events", no_session.encode_to_vec(), &pb).await,
        400,
    )
    .await;
    assert!(m.contains("session_id"), "{m}");

    // Exactly the 501 accepted events reached the topic, the good one of the mixed batch last.
    let envelopes = h.read(&h.topics.events_raw, 501).await;
    assert_eq!(
        envelopes.last().unwrap().2.event.as_ref().unwrap().event_id,
        good_id
    );
    h.stop().await;
}

#[tokio::test]
async fn cors_follows_allowed_domains() {
    let options = Options {
        allowed_domains: vec!["shop.example".into()],
        ..Default::default()
    };
    let h = Harness::start(options).await;
    let preflight = h
        .http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/v1/events?key={}", h.base, h.key),
        )
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    assert!(
        preflight.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("x-gosight-key")
    );
    let denied = h
        .http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/v1/events?key={}", h.base, h.key),
        )
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);

    let body = batch(Uuid::new_v4(), vec![click(now_ms())]).encode_to_vec();
    let ok = post(
        &h,
        "/v1/events",
        body.clone(),
        &[
            ("content-type", PROTOBUF),
            ("x-gosight-key", &h.key),
            ("origin", "https://shop.example"),
        ],
    )
    .await;
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    error(
        post(
            &h,
            "/v1/events",
            body,
            &[
                ("content-type", PROTOBUF),
                ("x-gosight-key", &h.key),
                ("origin", "https://evil.example"),
            ],
        )
        .await,
        403,
    )
    .await;

    let metrics = h.metrics().await;
    assert!(
        metrics.contains("gosight_ingest_request_duration_seconds"),
        "{metrics}"
    );
    assert!(metrics.contains("gosight_ingest_events_total"), "{metrics}");
    // Every request above has been answered, so none is in flight any more.
    assert!(
        metrics
            .lines()
            .any(|line| line == "gosight_ingest_in_flight_requests 0"),
        "{metrics}"
    );
    h.stop().await;
}
