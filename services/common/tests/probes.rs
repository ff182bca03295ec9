//! The probe server of the components whose work is not HTTP (processor, alerting): liveness,
//! readiness and the process's Prometheus metrics on one small server.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use gosight_common::health::{Health, serve_probes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Status line and body of `GET path`, once the server answers.
async fn get(port: u16, path: &str) -> (String, String) {
    let mut stream = loop {
        match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            Ok(stream) => break stream,
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_string(), body.to_string())
}

#[actix_web::test]
async fn probes_answer_health_readiness_and_metrics() {
    let port = free_port();
    let health = Health::default();
    health.set("shard", false);
    let stop = CancellationToken::new();
    let server = actix_web::rt::spawn({
        let (health, stop) = (health.clone(), stop.clone());
        async move { serve_probes(&format!("127.0.0.1:{port}"), health, stop).await }
    });

    assert!(get(port, "/health").await.0.contains(" 200 "));
    assert!(get(port, "/ready").await.0.contains(" 503 "));
    health.set("shard", true);
    assert!(get(port, "/ready").await.0.contains(" 200 "));

    metrics::counter!("gosight_probe_test_total", "table" => "events").increment(3);
    let (status, body) = get(port, "/metrics").await;
    assert!(status.contains(" 200 "), "{status}");
    assert!(
        body.lines()
            .any(|line| line == "gosight_probe_test_total{table=\"events\"} 3"),
        "{body}"
    );

    stop.cancel();
    server.await.unwrap().unwrap();
}
