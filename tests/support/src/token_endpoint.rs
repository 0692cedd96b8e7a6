//! An OAuth 2.0 token endpoint for tests (client credentials grant, client authentication with
//! HTTP basic), on 127.0.0.1: it hands the `n`-th good request the token `issue(n)` and counts
//! its requests; a wrong client or secret gets 401 `invalid_client`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;

/// A running endpoint (a task of the test's runtime); `url` is where to POST.
pub struct TokenEndpoint {
    pub url: String,
    requests: Arc<AtomicUsize>,
}

struct Shared {
    expected: String,
    issue: fn(usize) -> String,
    requests: Arc<AtomicUsize>,
}

impl TokenEndpoint {
    /// Serves `/oauth/token` on a free port of 127.0.0.1 for `client_id` / `client_secret`.
    pub async fn start(client_id: &str, client_secret: &str, issue: fn(usize) -> String) -> TokenEndpoint {
        async fn answer(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: String) -> Response {
            let n = shared.requests.fetch_add(1, Ordering::SeqCst) + 1;
            let grant = body.split('&').any(|pair| pair == "grant_type=client_credentials");
            let client = headers.get("authorization").and_then(|v| v.to_str().ok());
            if client != Some(shared.expected.as_str()) || !grant {
                let refusal = serde_json::json!({"error": "invalid_client"});
                return (StatusCode::UNAUTHORIZED, axum::Json(refusal)).into_response();
            }
            let token = (shared.issue)(n);
            axum::Json(serde_json::json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600}))
                .into_response()
        }
        let requests = Arc::new(AtomicUsize::new(0));
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{client_secret}"))
        );
        let shared = Arc::new(Shared { expected, issue, requests: requests.clone() });
        let app = axum::Router::new().route("/oauth/token", post(answer)).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TokenEndpoint { url: format!("http://{addr}/oauth/token"), requests }
    }

    /// Requests answered so far, good or refused.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// An unsecured JWT (`alg: none`) for `subject`, valid for an hour: what Kafka's unsecured
/// OAUTHBEARER validator accepts.
pub fn unsecured_jwt(subject: &str) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let encode = |v: serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let header = encode(serde_json::json!({"alg": "none"}));
    let claims = encode(serde_json::json!({"sub": subject, "iat": now, "exp": now + 3600}));
    format!("{header}.{claims}.")
}
