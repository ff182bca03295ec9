//! The ingest's error type. Each error knows its HTTP status, its gRPC code and whether the
//! client should retry; the HTTP answer is JSON `{"error": <code>, "message": <sentence>}`.

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, RETRY_AFTER};
use actix_web::{HttpResponse, ResponseError};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum IngestError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("rate limit of the project exceeded; retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// The data was not taken: the broker is unreachable or the local queue is full.
    #[error("{reason}; retry after {retry_after_secs} s")]
    Unavailable {
        reason: String,
        retry_after_secs: u64,
    },
    #[error("invalid config: {0}")]
    Config(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl IngestError {
    pub fn unavailable(reason: impl Into<String>) -> Self {
        Self::Unavailable {
            reason: reason.into(),
            retry_after_secs: 1,
        }
    }

    /// Short machine-readable code, also the `reason` label of the rejection metric.
    pub fn code(&self) -> &'static str {
        match self {
            IngestError::Unauthorized(_) => "unauthorized",
            IngestError::Forbidden(_) => "forbidden",
            IngestError::BadRequest(_) => "bad_request",
            IngestError::UnsupportedMediaType(_) => "unsupported_media_type",
            IngestError::PayloadTooLarge(_) => "payload_too_large",
            IngestError::RateLimited { .. } => "rate_limited",
            IngestError::Unavailable { .. } => "unavailable",
            IngestError::Config(_) | IngestError::Internal(_) => "internal",
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            IngestError::RateLimited { retry_after_secs }
            | IngestError::Unavailable {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        }
    }

    pub fn grpc_status(&self) -> tonic::Status {
        let message = self.to_string();
        match self {
            IngestError::Unauthorized(_) => tonic::Status::unauthenticated(message),
            IngestError::Forbidden(_) => tonic::Status::permission_denied(message),
            IngestError::BadRequest(_) | IngestError::UnsupportedMediaType(_) => {
                tonic::Status::invalid_argument(message)
            }
            IngestError::PayloadTooLarge(_) => tonic::Status::out_of_range(message),
            IngestError::RateLimited { .. } => tonic::Status::resource_exhausted(message),
            IngestError::Unavailable { .. } => tonic::Status::unavailable(message),
            IngestError::Config(_) | IngestError::Internal(_) => tonic::Status::internal(message),
        }
    }
}

impl ResponseError for IngestError {
    fn status_code(&self) -> StatusCode {
        match self {
            IngestError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            IngestError::Forbidden(_) => StatusCode::FORBIDDEN,
            IngestError::BadRequest(_) => StatusCode::BAD_REQUEST,
            IngestError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            IngestError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            IngestError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            IngestError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            IngestError::Config(_) | IngestError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let Some(secs) = self.retry_after() {
            response.insert_header((RETRY_AFTER, HeaderValue::from(secs)));
        }
        response.json(serde_json::json!({ "error": self.code(), "message": self.to_string() }))
    }
}
