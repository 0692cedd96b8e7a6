//! The optional bearer token: every endpoint but `/health` needs it when `api.token` is set.

use std::collections::HashMap;

use reqwest::{Method, StatusCode, header};
use serde_json::json;
use tributary_test_support::rest::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_but_health_needs_the_token() {
    const TOKEN: &str = "rest-token-4e5f6a7b";
    let env = TestEnv(HashMap::from([("API_TOKEN".to_owned(), TOKEN.to_owned())]));
    let connectors = "  - {name: gen, class: datagen, topic: auth.records, rate: 20}\n";
    let h = Harness::start(&config_text("  token: ${env:API_TOKEN}\n", connectors), env).await;
    assert_eq!(h.token.as_deref(), Some(TOKEN));

    let anonymous = |method: Method, path: &str| h.http.request(method, h.url(path));
    let health = anonymous(Method::GET, "/health").send().await.expect("sent");
    assert_eq!(health.status(), StatusCode::OK);

    for (method, path) in [
        (Method::GET, "/connectors"),
        (Method::GET, "/connectors/gen"),
        (Method::GET, "/connectors/gen/status"),
        (Method::PUT, "/connectors/gen/stop"),
        (Method::POST, "/connectors/gen/restart"),
        (Method::GET, "/connectors/gen/offsets"),
        (Method::DELETE, "/connectors/gen/offsets"),
        (Method::GET, "/connector-plugins"),
        (Method::GET, "/ready"),
        (Method::GET, "/metrics"),
        (Method::POST, "/reload"),
    ] {
        let wrong_tokens: [Option<&str>; 4] =
            [None, Some("Bearer wrong-token"), Some("Bearer rest-token-4e5f6a7"), Some("Basic cmVzdC10b2tlbg==")];
        for auth in wrong_tokens {
            let mut request = anonymous(method.clone(), path);
            if let Some(auth) = auth {
                request = request.header(header::AUTHORIZATION, auth);
            }
            let response = request.send().await.expect("sent");
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{method} {path} with {auth:?}");
            assert_eq!(response.headers().get(header::WWW_AUTHENTICATE).map(|v| v.as_bytes()), Some(&b"Bearer"[..]));
            let body: serde_json::Value = response.json().await.expect("json");
            assert_eq!(body["error_code"], 401, "{body}");
            assert!(!body.to_string().contains(TOKEN));
        }
    }
    // Nothing was stopped or reset by the refused requests.
    h.wait_state("gen", "RUNNING").await;
    let (code, names) = h.get("/connectors").await;
    assert_eq!((code, names), (StatusCode::OK, json!(["gen"])));
    let (code, _) = h.get("/metrics").await;
    assert_eq!(code, StatusCode::OK);
    let lowercase = anonymous(Method::GET, "/connectors").header(header::AUTHORIZATION, format!("bearer {TOKEN}"));
    assert_eq!(lowercase.send().await.expect("sent").status(), StatusCode::OK);

    h.shutdown().await;
}
