//! Error types: [`SimError`] for the Rust API, [`ApiError`] for REST responses.
//!
//! Every REST failure is rendered as a Genesys `ErrorBody` (§4.5) with a fresh `contextId`, echoed
//! in the `ININ-Correlation-Id` header; nothing a client sends can make the server panic.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::models::{ErrorBody, Limit};

/// Errors of the simulator's Rust API.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("invalid simulator config: {0}")]
    Config(String),
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error("cannot parse {what}: {message}")]
    Parse { what: String, message: String },
    #[error("cannot bind {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// Result alias for the Rust API.
pub type Result<T, E = SimError> = std::result::Result<T, E>;

/// A REST error, rendered as an `ErrorBody`.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    /// Rate-limit details (boxed: rare, and keeps `Result<_, ApiError>` small).
    pub throttle: Option<Box<Throttle>>,
}

/// The 429-specific parts of an [`ApiError`].
#[derive(Debug, Clone)]
pub struct Throttle {
    pub limit: Limit,
    pub retry_after_secs: u64,
    pub headers: Vec<(HeaderName, String)>,
}

impl ApiError {
    /// An error with the given status, Genesys error code and message.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError { status, code: code.to_string(), message: message.into(), throttle: None }
    }

    /// 400 `bad.request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad.request", message)
    }

    /// 404 `not.found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not.found", message)
    }

    /// The body this error renders as.
    pub fn body(&self, context_id: &str) -> ErrorBody {
        ErrorBody {
            message: self.message.clone(),
            code: self.code.clone(),
            status: self.status.as_u16(),
            message_params: None,
            context_id: context_id.to_string(),
            details: Vec::new(),
            errors: Vec::new(),
            limit: self.throttle.as_ref().map(|t| t.limit.clone()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let context_id = uuid::Uuid::new_v4().to_string();
        let body = serde_json::to_vec(&self.body(&context_id)).unwrap_or_default();
        let mut headers = HeaderMap::new();
        headers.insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Ok(v) = HeaderValue::from_str(&context_id) {
            headers.insert(HeaderName::from_static("inin-correlation-id"), v);
        }
        if let Some(t) = self.throttle {
            if let Ok(v) = HeaderValue::from_str(&t.retry_after_secs.to_string()) {
                headers.insert(axum::http::header::RETRY_AFTER, v);
            }
            for (name, value) in t.headers {
                if let Ok(v) = HeaderValue::from_str(&value) {
                    headers.insert(name, v);
                }
            }
        }
        (self.status, headers, body).into_response()
    }
}
