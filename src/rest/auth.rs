//! Optional bearer-token authentication: when `api.token` is set, every endpoint but `/health`
//! needs `Authorization: Bearer <token>`.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::AppState;
use super::error::ApiError;

/// Compares the token presented with the configured one in time that does not depend on where
/// they differ (both are hashed first, so neither does it depend on their lengths).
pub fn token_matches(presented: &str, expected: &str) -> bool {
    let a = Sha256::digest(presented.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token in an `Authorization: Bearer …` header, if any.
fn bearer(value: Option<&HeaderValue>) -> Option<&str> {
    let text = value?.to_str().ok()?;
    let (scheme, token) = text.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Middleware: lets the request through when no token is configured or the right one is given;
/// answers 401 otherwise. Never says which part was wrong, never echoes the token.
pub async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(expected) = &state.token else { return next.run(request).await };
    match bearer(request.headers().get(header::AUTHORIZATION)) {
        Some(token) if token_matches(token, expected.expose()) => next.run(request).await,
        _ => {
            let mut response =
                ApiError::new(StatusCode::UNAUTHORIZED, "missing or invalid bearer token").into_response();
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_exactly() {
        assert!(token_matches("abc", "abc"));
        assert!(!token_matches("abd", "abc"));
        assert!(!token_matches("ab", "abc"));
        assert!(!token_matches("", "abc"));
    }

    #[test]
    fn bearer_header_parsing() {
        let v = HeaderValue::from_static("Bearer s3cret");
        assert_eq!(bearer(Some(&v)), Some("s3cret"));
        let v = HeaderValue::from_static("bearer s3cret ");
        assert_eq!(bearer(Some(&v)), Some("s3cret"));
        let v = HeaderValue::from_static("Basic czNjcmV0");
        assert_eq!(bearer(Some(&v)), None);
        assert_eq!(bearer(None), None);
    }
}
