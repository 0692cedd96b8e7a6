//! Errors as Kafka Connect's REST API writes them: `{"error_code": <HTTP status>, "message": …}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::supervisor::{ControlError, EditError, NotFound};

/// An error answer. `details` adds a field `errors` (e.g. every problem of a rejected config).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{status}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), details: None }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error_code": self.status.as_u16(), "message": self.message });
        if let (Some(details), Some(map)) = (self.details, body.as_object_mut()) {
            map.insert("errors".into(), details);
        }
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<NotFound> for ApiError {
    fn from(e: NotFound) -> Self {
        Self::not_found(e.to_string())
    }
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> Self {
        match e {
            ControlError::NotFound(e) => e.into(),
            ControlError::Busy(_) => Self::conflict(e.to_string()),
        }
    }
}

impl From<EditError> for ApiError {
    fn from(e: EditError) -> Self {
        match e {
            EditError::NotFound(e) => e.into(),
            EditError::Busy(_) => Self::conflict(e.to_string()),
            EditError::NotStopped { .. } => Self::bad_request(e.to_string()),
        }
    }
}

/// Parses a JSON request body, answering 400 with the reason when it does not parse.
pub fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request("a JSON request body is required"));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

/// 404 for paths that are not part of the API.
pub async fn no_route() -> ApiError {
    ApiError::not_found("no such endpoint")
}

/// 405 for known paths used with another method.
pub async fn wrong_method() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed on this endpoint")
}
