//! OAuth client-credentials grant and bearer-token checks (§5).
//!
//! - `POST /oauth/token` on the login host, HTTP Basic `client_id:client_secret`, form body
//!   `grant_type=client_credentials` → `{access_token, token_type: "bearer", expires_in}`.
//!   Errors use the token endpoint's own `{error, description}` form.
//! - REST calls carry `Authorization: Bearer <token>`; failures are 401 `ErrorBody` with the codes
//!   of §5: `authentication.required` (no token), `bad.credentials` (unknown or revoked token),
//!   `credentials.expired` (past its lifetime).
//! - Token lifetime is per client (`token_lifetime`, scaled by the time scale); `expires_in` is
//!   reported in real seconds (rounded down, at least 1).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use rand::Rng;
use rand::distr::Alphanumeric;
use tokio::time::Instant;

use crate::error::ApiError;
use crate::models::{TokenError, TokenResponse};
use crate::org::counters::Counters;
use crate::org::tokens::{AuthCtx, TokenRec};
use crate::org::{Org, lock};

fn token_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = TokenError { error: error.into(), description: description.into() };
    (status, axum::Json(body)).into_response()
}

/// Decodes `application/x-www-form-urlencoded` pairs.
pub(crate) fn form_pairs(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (url_decode(k), url_decode(v))
        })
        .collect()
}

/// Percent-decoding with `+` as space; invalid escapes are kept literally.
pub(crate) fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The client id and secret from an HTTP Basic `Authorization` header.
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// `POST /oauth/token`.
pub(crate) async fn token_endpoint(AxState(org): AxState<Arc<Org>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some((client_id, secret)) = basic_credentials(&headers) else {
        return token_error(StatusCode::UNAUTHORIZED, "invalid_client", "client credentials are required");
    };
    let Some(client) = org.client(&client_id) else {
        return token_error(StatusCode::UNAUTHORIZED, "invalid_client", "client not found");
    };
    if client.client_secret != secret {
        return token_error(StatusCode::UNAUTHORIZED, "invalid_client", "invalid client credentials");
    }
    let text = String::from_utf8_lossy(&body);
    let grant = form_pairs(&text).into_iter().find(|(k, _)| k == "grant_type").map(|(_, v)| v);
    match grant.as_deref() {
        Some("client_credentials") => {}
        Some(_) => {
            return token_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "grant type is not supported");
        }
        None => return token_error(StatusCode::BAD_REQUEST, "invalid_request", "grant_type is required"),
    }
    let lifetime = org.real(client.token_lifetime);
    let token: String = rand::rng().sample_iter(&Alphanumeric).take(86).map(char::from).collect();
    lock(&org.state).tokens.insert(
        token.clone(),
        TokenRec { client_id: client_id.clone(), expires: Instant::now() + lifetime, revoked: false },
    );
    Counters::inc(&org.counters.tokens_issued);
    lock(&org.limiter).client_mut(&client_id).tokens_issued += 1;
    tracing::debug!(client_id, lifetime_ms = lifetime.as_millis() as u64, "token issued");
    let body =
        TokenResponse { access_token: token, token_type: "bearer".into(), expires_in: lifetime.as_secs().max(1) };
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// Resolves the bearer token of a REST request.
pub(crate) fn authenticate(org: &Org, headers: &HeaderMap) -> Result<AuthCtx, ApiError> {
    let unauthorized = |code: &str, msg: &str| ApiError::new(StatusCode::UNAUTHORIZED, code, msg);
    let value = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::trim);
    let token = match value.and_then(|v| v.split_once(' ')) {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() => t.trim().to_string(),
        _ => {
            return Err(unauthorized(
                "authentication.required",
                "No authentication bearer token specified in authorization header.",
            ));
        }
    };
    let state = lock(&org.state);
    let Some(rec) = state.tokens.get(&token) else {
        return Err(unauthorized("bad.credentials", "Invalid login credentials."));
    };
    if rec.revoked {
        return Err(unauthorized("bad.credentials", "Invalid login credentials."));
    }
    if Instant::now() >= rec.expires {
        return Err(unauthorized("credentials.expired", "The supplied credentials are expired and cannot be used."));
    }
    Ok(AuthCtx { client_id: rec.client_id.clone(), token })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_forms() {
        assert_eq!(
            form_pairs("grant_type=client_credentials&x=a%20b+c&bad=%zz"),
            vec![
                ("grant_type".to_string(), "client_credentials".to_string()),
                ("x".to_string(), "a b c".to_string()),
                ("bad".to_string(), "%zz".to_string()),
            ]
        );
        assert_eq!(url_decode("%"), "%");
        assert_eq!(url_decode("a%2"), "a%2");
    }

    #[test]
    fn reads_basic_auth() {
        let mut h = HeaderMap::new();
        let v = base64::engine::general_purpose::STANDARD.encode("id:se:cret");
        h.insert(
            header::AUTHORIZATION,
            format!("Basic {v}").parse().unwrap_or(axum::http::HeaderValue::from_static("")),
        );
        assert_eq!(basic_credentials(&h), Some(("id".to_string(), "se:cret".to_string())));
    }
}
