//! What a REST call can fail with, and what the caller should do about it.

use std::time::Duration;

use crate::auth::AuthError;
use crate::http::ErrorClass;

/// A failed REST call. Messages name the method, path, Genesys error code and correlation id;
/// they never contain the client secret or a token.
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    /// 401 again after the token was replaced once.
    #[error("{method} {path}: unauthorized (401) even with a fresh token: {code}: {message}{}", corr(.correlation_id))]
    Unauthorized { method: String, path: String, code: String, message: String, correlation_id: Option<String> },
    /// 403: the OAuth client lacks a permission (or a division).
    #[error("{method} {path}: forbidden (403): {code}: {message}{}", corr(.correlation_id))]
    Forbidden { method: String, path: String, code: String, message: String, correlation_id: Option<String> },
    /// 404: the resource does not exist (a normal answer for `HEAD` on a dead channel).
    #[error("{method} {path}: not found (404): {message}{}", corr(.correlation_id))]
    NotFound { method: String, path: String, message: String, correlation_id: Option<String> },
    /// Any other 4xx (400 bad request, 409, …): the request itself is wrong.
    #[error("{method} {path}: rejected ({status}): {code}: {message}{}", corr(.correlation_id))]
    Rejected {
        method: String,
        path: String,
        status: u16,
        code: String,
        message: String,
        correlation_id: Option<String>,
    },
    /// 429s that were not waited out: a `Retry-After` above the ceiling, or too many in a row.
    #[error("{method} {path}: rate limited (429) after {attempts} attempts{}{}", retry(.retry_after), corr(.correlation_id))]
    RateLimited {
        method: String,
        path: String,
        attempts: u32,
        retry_after: Option<Duration>,
        correlation_id: Option<String>,
    },
    /// 5xx on every attempt.
    #[error("{method} {path}: server error ({status}) after {attempts} attempts: {code}: {message}{}", corr(.correlation_id))]
    Server {
        method: String,
        path: String,
        status: u16,
        attempts: u32,
        code: String,
        message: String,
        correlation_id: Option<String>,
    },
    /// Timeouts or connection failures on every attempt.
    #[error("{method} {path}: {detail} after {attempts} attempts")]
    Transport { method: String, path: String, attempts: u32, timeout: bool, detail: String },
    /// The proxy refused the request (407: it wants credentials it was not given).
    #[error("{method} {path}: proxy {proxy} answered {status} {reason}{}", proxy_hint(*.status))]
    Proxy { method: String, path: String, proxy: String, status: u16, reason: String },
    /// A response body larger than `rest.max_response_bytes`: not read any further.
    #[error("{method} {path}: response body over rest.max_response_bytes ({limit} bytes); not read")]
    TooLarge { method: String, path: String, limit: usize },
    /// A 2xx whose body is not what the API documents.
    #[error("{method} {path}: unexpected response body: {detail}")]
    Decode { method: String, path: String, detail: String },
    /// No token could be had.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The client could not be built (a bad base URL, TLS setup).
    #[error("invalid rest client configuration: {0}")]
    Config(String),
}

fn proxy_hint(status: u16) -> &'static str {
    if status == 407 { " (set the proxy's user and password: http://user:password@host:port)" } else { "" }
}

fn corr(id: &Option<String>) -> String {
    id.as_deref().map(|c| format!(" (correlation id {c})")).unwrap_or_default()
}

fn retry(after: &Option<Duration>) -> String {
    after.map(|d| format!(", retry after {}s", d.as_secs())).unwrap_or_default()
}

impl RestError {
    /// Fatal, retriable or permanent (see [`ErrorClass`]).
    pub fn class(&self) -> ErrorClass {
        match self {
            RestError::Unauthorized { .. }
            | RestError::Forbidden { .. }
            | RestError::Proxy { .. }
            | RestError::Config(_) => ErrorClass::Fatal,
            RestError::RateLimited { .. } | RestError::Server { .. } | RestError::Transport { .. } => {
                ErrorClass::Retriable
            }
            RestError::NotFound { .. }
            | RestError::Rejected { .. }
            | RestError::Decode { .. }
            | RestError::TooLarge { .. } => ErrorClass::Permanent,
            RestError::Auth(e) => e.class(),
        }
    }

    /// The connector should stop: credentials or permissions are wrong.
    pub fn is_fatal(&self) -> bool {
        self.class() == ErrorClass::Fatal
    }

    /// Worth trying again later.
    pub fn is_retriable(&self) -> bool {
        self.class() == ErrorClass::Retriable
    }

    /// A 404.
    pub fn is_not_found(&self) -> bool {
        matches!(self, RestError::NotFound { .. })
    }

    /// The HTTP status Genesys answered with, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            RestError::Unauthorized { .. } => Some(401),
            RestError::Forbidden { .. } => Some(403),
            RestError::NotFound { .. } => Some(404),
            RestError::RateLimited { .. } => Some(429),
            RestError::Rejected { status, .. } | RestError::Server { status, .. } | RestError::Proxy { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// The `ININ-Correlation-Id` of the failed response, for a Genesys support case.
    pub fn correlation_id(&self) -> Option<&str> {
        match self {
            RestError::Unauthorized { correlation_id, .. }
            | RestError::Forbidden { correlation_id, .. }
            | RestError::NotFound { correlation_id, .. }
            | RestError::Rejected { correlation_id, .. }
            | RestError::RateLimited { correlation_id, .. }
            | RestError::Server { correlation_id, .. } => correlation_id.as_deref(),
            _ => None,
        }
    }
}
