//! The error type of the API service, and how each error becomes an HTTP response.
//!
//! Every error answers JSON `{"error": "...", "field": "..."}`; `field` is present only when one
//! input field is at fault. Storage failures answer 503 (retryable) without their details, which
//! go to the log instead.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ApiError {
    #[error("invalid `{field}`: {reason}")]
    Invalid { field: String, reason: String },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// Too many attempts; the client may try again after `retry_after` seconds.
    #[error("{message}")]
    TooManyRequests { message: String, retry_after: u64 },
    #[error("storage: {0}")]
    Storage(gosight_common::Error),
    #[error("internal: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn invalid(field: &str, reason: &str) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn unauthorized(reason: &str) -> Self {
        Self::Unauthorized(reason.into())
    }
}

/// A store's uniqueness conflict answers 409; any other storage error 503.
impl From<gosight_common::Error> for ApiError {
    fn from(error: gosight_common::Error) -> Self {
        match error {
            gosight_common::Error::Conflict(field) => {
                Self::Conflict(format!("this {field} is already taken"))
            }
            other => Self::Storage(other),
        }
    }
}

impl From<clickhouse::error::Error> for ApiError {
    fn from(error: clickhouse::error::Error) -> Self {
        Self::Storage(error.into())
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Invalid { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Storage(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (error, field) = match self {
            ApiError::Invalid { field, .. } => (self.to_string(), Some(field.as_str())),
            ApiError::Storage(e) => {
                tracing::error!(error = %e, "storage request failed");
                ("storage unavailable, try again".to_string(), None)
            }
            ApiError::Internal(e) => {
                tracing::error!(error = %e, "internal error");
                ("internal error".to_string(), None)
            }
            _ => (self.to_string(), None),
        };
        let mut response = HttpResponse::build(self.status_code());
        match self {
            ApiError::Storage(_) => {
                response.insert_header(("Retry-After", "1"));
            }
            ApiError::TooManyRequests { retry_after, .. } => {
                response.insert_header(("Retry-After", retry_after.to_string()));
            }
            _ => {}
        }
        response.json(Body { error, field })
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
