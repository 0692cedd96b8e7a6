//! A run with known secrets (an API token, a registry password, connector client secrets given
//! literally and through `${env:…}`, a producer password): none of them appears in the logs, any
//! API answer or the metrics, even when a connector quotes its own secret in its status and its
//! failure, and when a rejected config quotes a secret value in a type error.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use reqwest::{Method, StatusCode};
use serde_json::json;
use tracing_subscriber::layer::SubscriberExt;
use tributary_test_support::rest::*;

/// Log lines, captured from every thread.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

const API_TOKEN: &str = "api-token-9a8b7c6d";
const REGISTRY_PASSWORD: &str = "registry-pw-5f1c7e2d";
const ENV_SECRET: &str = "probe-secret-3d2e1f0a";
const LITERAL_SECRET: &str = "literal-secret-7h6g5f4e";
const PRODUCER_PASSWORD: &str = "producer-pw-1q2w3e4r";
const VALIDATE_SECRET: &str = "validate-secret-0p9o8i7u";
const NUMERIC_SECRET: &str = "987654321";
const RELOAD_NUMERIC_SECRET: &str = "55554444";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn secrets_never_leave_the_process() {
    // Every log line of the process, in both formats the runtime offers.
    let logs = Captured::default();
    let json_logs = Captured::default();
    let (human, json) = (logs.clone(), json_logs.clone());
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("debug"))
        .with(tracing_subscriber::fmt::layer().with_ansi(false).with_writer(move || human.clone()))
        .with(tracing_subscriber::fmt::layer().json().with_writer(move || json.clone()));
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber in this test binary");

    let env = TestEnv(HashMap::from([
        ("PROBE_SECRET".to_owned(), ENV_SECRET.to_owned()),
        ("REGISTRY_PASSWORD".to_owned(), REGISTRY_PASSWORD.to_owned()),
    ]));
    let extra = format!("  token: {API_TOKEN}\nlogging:\n  format: json\n");
    let connectors = format!(
        "  - {{name: good, class: probe, topic: good.records, rate: 50, client_secret: \"${{env:PROBE_SECRET}}\", producer: {{sasl.password: {PRODUCER_PASSWORD}}}}}\n\
         \x20 - {{name: bad, class: probe, topic: bad.records, client_secret: {LITERAL_SECRET}, fail: login refused}}\n"
    );
    let mut text = config_text(&extra, &connectors);
    text = text.replace(
        "schema_registry:\n  url: embedded\n",
        "schema_registry:\n  url: embedded\n  basic_auth: {username: svc, password: \"${env:REGISTRY_PASSWORD}\"}\n",
    );
    let h = Harness::start(&text, env).await;
    let mut answers: Vec<String> = Vec::new();

    let good = h.wait_state("good", "RUNNING").await;
    assert_eq!(good["tasks"][0]["detail"]["login"], "client secret [redacted]", "scrubbed, not dropped: {good}");
    let bad = h.wait_state("bad", "FAILED").await;
    let trace = bad["connector"]["trace"].as_str().expect("trace");
    assert!(trace.contains("login refused") && trace.contains("[redacted]"), "{trace}");
    h.wait_committed("good").await;

    for path in [
        "/connectors",
        "/connectors?expand=status&expand=info",
        "/connectors/good",
        "/connectors/good/config",
        "/connectors/good/status",
        "/connectors/bad",
        "/connectors/bad/config",
        "/connectors/bad/status",
        "/connectors/good/offsets",
        "/connector-plugins",
        "/ready",
        "/metrics",
        "/health",
    ] {
        let (code, body) = h.get(path).await;
        assert!(code.is_success() || code == StatusCode::SERVICE_UNAVAILABLE, "{path}: {code} {body}");
        answers.push(body.to_string());
    }
    let (_, config) = h.get("/connectors/good").await;
    assert_eq!(config["config"]["client_secret"], "${env:PROBE_SECRET}", "placeholders are shown as written");
    assert_eq!(config["config"]["producer"]["sasl.password"], "[redacted]");
    let (_, config) = h.get("/connectors/bad").await;
    assert_eq!(config["config"]["client_secret"], "[redacted]");

    // Validation quoting a secret value (a type error on a sensitive key).
    let (_, answer) = h
        .call(
            Method::PUT,
            "/connector-plugins/probe/config/validate",
            Some(json!({"topic": "t", "client_secret": NUMERIC_SECRET.parse::<u64>().expect("number")})),
        )
        .await;
    assert_eq!(answer["error_count"], 1, "{answer}");
    answers.push(answer.to_string());
    let (_, answer) = h
        .call(
            Method::PUT,
            "/connector-plugins/probe/config/validate",
            Some(json!({"topic": "t", "client_secret": VALIDATE_SECRET, "rate": -1})),
        )
        .await;
    answers.push(answer.to_string());

    // A rejected reload whose error would quote a secret, then an accepted one.
    let rejected = text.replace(
        &format!("client_secret: {LITERAL_SECRET}, fail: login refused"),
        &format!("client_secret: {RELOAD_NUMERIC_SECRET}"),
    );
    h.rewrite(&rejected);
    let (code, answer) = h.call(Method::POST, "/reload", None).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{answer}");
    assert!(answer.to_string().contains("client_secret"), "{answer}");
    answers.push(answer.to_string());
    h.rewrite(&text.replace(", fail: login refused", ""));
    let (code, answer) = h.call(Method::POST, "/reload", None).await;
    assert_eq!(code, StatusCode::OK, "{answer}");
    answers.push(answer.to_string());
    h.wait_state("bad", "RUNNING").await;
    answers.push(h.status("bad").await.to_string());

    // Refused requests do not echo what they were given.
    let refused = h.http.get(h.url("/connectors")).bearer_auth("api-token-guess").send().await.expect("sent");
    answers.push(refused.text().await.expect("body"));

    h.shutdown().await;

    let logs = logs.text();
    let json_logs = json_logs.text();
    assert!(logs.contains("connector failed") && logs.contains("connector=bad"), "logs were captured:\n{logs}");
    assert!(json_logs.contains("\"connector\":\"bad\""), "JSON logs carry the connector id:\n{json_logs}");
    let secrets = [
        API_TOKEN,
        REGISTRY_PASSWORD,
        ENV_SECRET,
        LITERAL_SECRET,
        PRODUCER_PASSWORD,
        VALIDATE_SECRET,
        NUMERIC_SECRET,
        RELOAD_NUMERIC_SECRET,
    ];
    for secret in secrets {
        assert!(!logs.contains(secret), "`{secret}` in the logs:\n{logs}");
        assert!(!json_logs.contains(secret), "`{secret}` in the JSON logs");
        for answer in &answers {
            assert!(!answer.contains(secret), "`{secret}` in an API answer: {answer}");
        }
    }
}
