//! The HTTP endpoints: `POST /v1/events`, `POST /v1/replay`, CORS preflight, probes, metrics.
//!
//! Bodies are protobuf (`application/x-protobuf`) or proto3 JSON (`application/json`), optionally
//! `Content-Encoding: gzip`. `navigator.sendBeacon` can set neither headers nor an arbitrary
//! content type, so the query may say it instead: `?key=…&format=protobuf&encoding=gzip`.
//! Every body is bounded twice: as sent (`max_body_bytes`, 413) and after decompression
//! (`max_decompressed_bytes`, 413), so a gzip bomb costs at most that much memory.

use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use prost::Message;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::IngestError;
use crate::pipeline::{ClientInfo, Ingestor, origin_allowed};

pub const KEY_HEADER: &str = "x-gosight-key";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Protobuf,
    Json,
}

struct Query {
    key: Option<String>,
    format: Option<String>,
    encoding: Option<String>,
}

fn query(req: &HttpRequest) -> Query {
    let mut q = Query {
        key: None,
        format: None,
        encoding: None,
    };
    for (name, value) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        match name.as_ref() {
            "key" => q.key = Some(value.into_owned()),
            "format" => q.format = Some(value.into_owned()),
            "encoding" => q.encoding = Some(value.into_owned()),
            _ => {}
        }
    }
    q
}

fn header_str(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn format_of(req: &HttpRequest, q: &Query) -> Result<Format, IngestError> {
    if let Some(format) = q.format.as_deref() {
        return match format {
            "protobuf" | "proto" => Ok(Format::Protobuf),
            "json" => Ok(Format::Json),
            other => Err(IngestError::UnsupportedMediaType(format!(
                "format={other} is not supported; use protobuf or json"
            ))),
        };
    }
    let content_type = header_str(req.headers(), header::CONTENT_TYPE).unwrap_or_default();
    let mime = content_type.split(';').next().unwrap_or_default().trim();
    match mime.to_ascii_lowercase().as_str() {
        "application/x-protobuf" | "application/protobuf" | "application/vnd.google.protobuf" => {
            Ok(Format::Protobuf)
        }
        "application/json" => Ok(Format::Json),
        "" => Err(IngestError::UnsupportedMediaType(
            "missing Content-Type: send application/x-protobuf or application/json".into(),
        )),
        other => Err(IngestError::UnsupportedMediaType(format!(
            "Content-Type {other} is not supported: send application/x-protobuf or application/json"
        ))),
    }
}

fn gzipped(req: &HttpRequest, q: &Query) -> Result<bool, IngestError> {
    let encoding = q
        .encoding
        .as_deref()
        .or_else(|| header_str(req.headers(), header::CONTENT_ENCODING))
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    match encoding.as_str() {
        "gzip" | "x-gzip" => Ok(true),
        "identity" | "" => Ok(false),
        other => Err(IngestError::UnsupportedMediaType(format!(
            "Content-Encoding {other} is not supported: send gzip or nothing"
        ))),
    }
}

/// Reads at most `limit` bytes; a declared `Content-Length` (already checked against `limit`)
/// sizes the buffer once instead of growing it chunk by chunk.
async fn read_body(
    mut payload: web::Payload,
    limit: usize,
    declared: Option<usize>,
) -> Result<Bytes, IngestError> {
    let mut body = BytesMut::with_capacity(declared.unwrap_or(0).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| IngestError::BadRequest(format!("reading the body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(IngestError::PayloadTooLarge(format!(
                "body is larger than {limit} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Decompresses at most `limit` bytes; more is a 413, never an allocation.
pub fn gunzip(body: &[u8], limit: usize) -> Result<Vec<u8>, IngestError> {
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    flate2::read::MultiGzDecoder::new(body)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| IngestError::BadRequest(format!("body is not valid gzip: {e}")))?;
    if out.len() > limit {
        return Err(IngestError::PayloadTooLarge(format!(
            "body decompresses to more than {limit} bytes"
        )));
    }
    Ok(out)
}

fn decode<T: Message + Default + DeserializeOwned>(
    body: &[u8],
    format: Format,
) -> Result<T, IngestError> {
    match format {
        Format::Protobuf => {
            T::decode(body).map_err(|e| IngestError::BadRequest(format!("malformed protobuf: {e}")))
        }
        Format::Json => serde_json::from_slice(body)
            .map_err(|e| IngestError::BadRequest(format!("malformed JSON: {e}"))),
    }
}

fn respond<T: Message + Serialize>(req: &HttpRequest, ack: &T) -> HttpResponse {
    let accept = header_str(req.headers(), header::ACCEPT).unwrap_or_default();
    if accept.contains("application/x-protobuf") || accept.contains("application/protobuf") {
        HttpResponse::Ok()
            .content_type("application/x-protobuf")
            .body(ack.encode_to_vec())
    } else {
        HttpResponse::Ok().json(ack)
    }
}

fn client_info(req: &HttpRequest) -> ClientInfo {
    let headers = req.headers();
    ClientInfo {
        peer: req.peer_addr().map(|a| a.ip()),
        forwarded_for: header_str(headers, "x-forwarded-for").map(str::to_string),
        origin: header_str(headers, header::ORIGIN).map(str::to_string),
        traceparent: header_str(headers, "traceparent").map(str::to_string),
    }
}

async fn body_of<T: Message + Default + DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
    ingestor: &Ingestor,
) -> Result<(T, Query), IngestError> {
    let q = query(req);
    let format = format_of(req, &q)?;
    let gzip = gzipped(req, &q)?;
    let declared =
        header_str(req.headers(), header::CONTENT_LENGTH).and_then(|l| l.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(IngestError::PayloadTooLarge(format!(
            "body is larger than {limit} bytes"
        )));
    }
    let body = read_body(payload, limit, declared).await?;
    let message = if gzip {
        decode(
            &gunzip(&body, ingestor.config().max_decompressed_bytes)?,
            format,
        )?
    } else {
        decode(&body, format)?
    };
    Ok((message, q))
}

fn request_key<'a>(req: &'a HttpRequest, q: &'a Query) -> Option<&'a str> {
    header_str(req.headers(), KEY_HEADER).or(q.key.as_deref())
}

fn observe(endpoint: &'static str, started: Instant, result: &Result<HttpResponse, IngestError>) {
    let status = match result {
        Ok(r) => r.status().as_u16(),
        Err(e) => actix_web::ResponseError::status_code(e).as_u16(),
    };
    metrics::histogram!("gosight_ingest_request_duration_seconds", "endpoint" => endpoint)
        .record(started.elapsed().as_secs_f64());
    metrics::counter!(
        "gosight_ingest_requests_total",
        "endpoint" => endpoint,
        "status" => status.to_string()
    )
    .increment(1);
    if let Err(error) = result {
        metrics::counter!("gosight_ingest_request_errors_total", "reason" => error.code())
            .increment(1);
    }
}

/// Runs one request's work and records its latency and outcome.
async fn timed(
    endpoint: &'static str,
    work: impl Future<Output = Result<HttpResponse, IngestError>>,
) -> Result<HttpResponse, IngestError> {
    let started = Instant::now();
    let result = work.await;
    observe(endpoint, started, &result);
    result
}

pub async fn events(
    req: HttpRequest,
    payload: web::Payload,
    ingestor: web::Data<Arc<Ingestor>>,
) -> Result<HttpResponse, IngestError> {
    timed("events", async {
        let limit = ingestor.config().max_body_bytes;
        let (batch, q) = body_of(&req, payload, limit, &ingestor).await?;
        let key = request_key(&req, &q);
        let ack = ingestor.events(key, batch, &client_info(&req)).await?;
        Ok(respond(&req, &ack))
    })
    .await
}

pub async fn replay(
    req: HttpRequest,
    payload: web::Payload,
    ingestor: web::Data<Arc<Ingestor>>,
) -> Result<HttpResponse, IngestError> {
    timed("replay", async {
        let limit = ingestor.config().max_replay_body_bytes;
        let (chunk, q) = body_of(&req, payload, limit, &ingestor).await?;
        let key = request_key(&req, &q);
        let ack = ingestor.replay(key, chunk, &client_info(&req)).await?;
        Ok(respond(&req, &ack))
    })
    .await
}

/// CORS preflight. With `?key=`, the origin is checked against the project's allowed domains
/// already here; without it, the real request is checked.
pub async fn preflight(
    req: HttpRequest,
    ingestor: web::Data<Arc<Ingestor>>,
) -> Result<HttpResponse, IngestError> {
    let q = query(&req);
    let origin = header_str(req.headers(), header::ORIGIN).map(str::to_string);
    if let Some(key) = q.key.as_deref() {
        let record = ingestor.keys().authenticate(key).await?;
        if !origin_allowed(&record.allowed_domains, origin.as_deref()) {
            return Err(IngestError::Forbidden(
                "origin is not among the project's allowed domains".into(),
            ));
        }
    }
    Ok(HttpResponse::NoContent()
        .insert_header((
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST, OPTIONS"),
        ))
        .insert_header((
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(
                "content-type, content-encoding, x-gosight-key, traceparent, accept",
            ),
        ))
        .insert_header((
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from(ingestor.config().cors_max_age_secs),
        ))
        .finish())
}
