//! Reading what Genesys puts in response headers and error bodies.

use std::error::Error as _;
use std::time::Duration;

use reqwest::header::HeaderMap;
use serde::Deserialize;

/// `Retry-After` in seconds (Genesys sends whole seconds). An HTTP date is not used by Genesys
/// and is ignored.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    text.parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64)
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// What an `inin-ratelimit-*` header triple says about the server's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerBudget {
    /// Requests counted in the current window.
    pub count: u64,
    /// Requests allowed in the window.
    pub allowed: u64,
    /// Seconds until the window resets.
    pub reset: Duration,
}

/// The `inin-ratelimit-count/allowed/reset` triple, when all three are present.
pub fn server_budget(headers: &HeaderMap) -> Option<ServerBudget> {
    Some(ServerBudget {
        count: header_u64(headers, "inin-ratelimit-count")?,
        allowed: header_u64(headers, "inin-ratelimit-allowed")?,
        reset: Duration::from_secs(header_u64(headers, "inin-ratelimit-reset")?),
    })
}

/// `ININ-Correlation-Id`, the id Genesys support asks for.
pub fn correlation_id(headers: &HeaderMap) -> Option<String> {
    headers.get("inin-correlation-id").and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// The parts of a Genesys `ErrorBody` we report.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody {
    #[serde(default)]
    message: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    context_id: Option<String>,
}

/// `(code, message, contextId)` from an error body; falls back to the start of the raw text.
pub fn error_body(body: &[u8]) -> (String, String, Option<String>) {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) if !(b.code.is_empty() && b.message.is_empty()) => (b.code, b.message, b.context_id),
        _ => {
            let text = String::from_utf8_lossy(body);
            let text: String = text.chars().take(200).collect();
            (String::new(), text.trim().to_string(), None)
        }
    }
}

/// A short description of a transport failure and whether it was a timeout. Walks the source
/// chain, since reqwest's own message only names the URL.
pub fn describe(err: &reqwest::Error) -> (String, bool) {
    let timeout = err.is_timeout();
    let mut detail = if timeout {
        "request timed out".to_string()
    } else if err.is_connect() {
        "connection failed".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = err.source();
    let mut depth = 0;
    while let Some(s) = source {
        if depth == 3 {
            break;
        }
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
        depth += 1;
    }
    (detail, timeout)
}

/// Whether a transport failure's description (see [`describe`]) is a proxy refusing a `CONNECT`
/// tunnel with 407. reqwest does not expose the tunnel error's type, only its text
/// ("tunnel error: proxy authorization required"), so the text is matched.
pub fn is_proxy_auth_required(detail: &str) -> bool {
    let lower = detail.to_ascii_lowercase();
    lower.contains("proxy authorization required") || lower.contains("proxy authentication required")
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn reads_rate_limit_headers() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        h.insert("inin-ratelimit-count", HeaderValue::from_static("12"));
        h.insert("inin-ratelimit-allowed", HeaderValue::from_static("300"));
        h.insert("inin-ratelimit-reset", HeaderValue::from_static("41"));
        h.insert("inin-correlation-id", HeaderValue::from_static("abc-1"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        assert_eq!(server_budget(&h), Some(ServerBudget { count: 12, allowed: 300, reset: Duration::from_secs(41) }));
        assert_eq!(correlation_id(&h).as_deref(), Some("abc-1"));
        h.insert("retry-after", HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn reads_error_bodies() {
        let (code, message, ctx) =
            error_body(br#"{"message":"no","code":"missing.permissions","status":403,"contextId":"c1"}"#);
        assert_eq!((code.as_str(), message.as_str(), ctx.as_deref()), ("missing.permissions", "no", Some("c1")));
        let (code, message, _) = error_body(b"<html>Bad Gateway</html>");
        assert_eq!((code.as_str(), message.as_str()), ("", "<html>Bad Gateway</html>"));
    }
}
