//! Our registry client against the embedded registry, over real HTTP on 127.0.0.1.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tributary::schema_registry::{
    BasicAuth, CompatibilityLevel, EmbeddedRegistry, EmbeddedRegistryConfig, EmbeddedRegistryHandle, RegistryClient,
    RegistryConfig, RegistryError, RetryPolicy, Secret,
};

const V1: &str = r#"{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"string"}]}"#;
const V2: &str = r#"{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"string"},{"name":"qty","type":"int","default":1}]}"#;
const NO_DEFAULT: &str = r#"{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"string"},{"name":"sku","type":"string"}]}"#;

fn fast(url: &str) -> RegistryConfig {
    let mut config = RegistryConfig::new(url);
    config.request_timeout = Duration::from_secs(5);
    config.connect_timeout = Duration::from_secs(2);
    config.retry = RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(50),
    };
    config
}

async fn start() -> (EmbeddedRegistryHandle, RegistryClient) {
    let registry = EmbeddedRegistry::start("127.0.0.1:0".parse().expect("addr")).await.expect("registry starts");
    let client = RegistryClient::new(fast(&registry.url())).expect("client");
    (registry, client)
}

#[tokio::test]
async fn register_lookup_and_read_back() {
    let (registry, client) = start().await;
    assert!(registry.url().starts_with("http://127.0.0.1:"));
    assert!(registry.notice().contains("for development only") && registry.notice().contains(&registry.url()));

    let id = client.register("orders-value", V1).await.expect("registered");
    assert_eq!(id, 1);
    assert_eq!(client.register("orders-value", V1).await.expect("again"), id, "same schema, same id");
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(V1).expect("json")).expect("pretty");
    assert_eq!(client.register("orders-value", &pretty).await.expect("pretty"), id, "whitespace does not matter");

    let found = client.lookup("orders-value", V1).await.expect("lookup").expect("found");
    assert_eq!((found.subject.as_str(), found.id, found.version), ("orders-value", id, 1));
    assert_eq!(client.lookup("orders-value", V2).await.expect("lookup"), None);
    assert_eq!(client.lookup("nobody-value", V1).await.expect("lookup"), None);

    let v2 = client.register("orders-value", V2).await.expect("compatible evolution");
    assert_eq!(v2, 2);
    let latest = client.latest("orders-value").await.expect("latest");
    assert_eq!((latest.id, latest.version), (v2, 2));
    assert_eq!(client.version("orders-value", 1).await.expect("v1").id, id);
    assert_eq!(client.versions("orders-value").await.expect("versions"), [1, 2]);
    assert_eq!(client.subjects().await.expect("subjects"), ["orders-value"]);
    let text = client.schema_by_id(id).await.expect("by id");
    assert!(text.contains("\"name\":\"Order\""), "{text}");

    // The same schema under another subject keeps its global id.
    assert_eq!(client.register("audit-value", V2).await.expect("other subject"), v2);

    assert!(
        matches!(client.latest("nobody").await, Err(RegistryError::SubjectNotFound { subject }) if subject == "nobody")
    );
    assert!(matches!(client.version("orders-value", 9).await, Err(RegistryError::VersionNotFound { .. })));
    assert!(matches!(client.schema_by_id(99).await, Err(RegistryError::SchemaIdNotFound { id: 99 })));
    registry.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn incompatible_schema_is_a_typed_409_naming_subject_and_schema() {
    let (_registry, client) = start().await;
    client.register("orders-value", V1).await.expect("v1");
    let err = client.register("orders-value", NO_DEFAULT).await.expect_err("incompatible");
    let RegistryError::Incompatible { subject, schema, message } = &err else { panic!("expected 409, got {err:?}") };
    assert_eq!((subject.as_str(), schema.as_str()), ("orders-value", "shop.Order"));
    assert!(
        message
            .starts_with("Schema being registered is incompatible with an earlier schema for subject \"orders-value\""),
        "{message}"
    );
    let text = err.to_string();
    assert!(text.starts_with("schema `shop.Order` is incompatible with subject `orders-value`: "), "{text}");
    assert!(text.contains("field `sku`"), "{text}");

    let check = client.test_compatibility("orders-value", NO_DEFAULT, None).await.expect("check");
    assert!(!check.is_compatible && !check.messages.is_empty(), "{check:?}");
    assert!(client.test_compatibility("orders-value", V2, Some(1)).await.expect("check").is_compatible);

    let invalid = client.register("orders-value", r#"{"type":"record","name":"X"}"#).await.expect_err("invalid");
    assert!(matches!(invalid, RegistryError::InvalidSchema { .. }), "{invalid:?}");
}

#[tokio::test]
async fn compatibility_levels_are_global_or_per_subject() {
    let (_registry, client) = start().await;
    assert_eq!(client.compatibility(None).await.expect("global"), CompatibilityLevel::Backward);
    assert_eq!(client.compatibility(Some("x-value")).await.expect("falls back"), CompatibilityLevel::Backward);
    assert_eq!(
        client.set_compatibility(Some("x-value"), CompatibilityLevel::Forward).await.expect("set"),
        CompatibilityLevel::Forward
    );
    assert_eq!(client.compatibility(Some("x-value")).await.expect("own"), CompatibilityLevel::Forward);
    // FORWARD: removing a field without default breaks old readers.
    client.register("x-value", NO_DEFAULT).await.expect("first");
    assert!(matches!(client.register("x-value", V1).await, Err(RegistryError::Incompatible { .. })));
    client.set_compatibility(None, CompatibilityLevel::None).await.expect("global");
    assert_eq!(client.compatibility(None).await.expect("global"), CompatibilityLevel::None);
}

#[tokio::test]
async fn confluent_json_shapes_and_content_types() {
    let (registry, _client) = start().await;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().expect("http");
    let url = registry.url();
    for content_type in ["application/vnd.schemaregistry.v1+json", "application/json"] {
        let response = http
            .post(format!("{url}/subjects/s-value/versions"))
            .header("content-type", content_type)
            .body(serde_json::json!({"schema": V1, "schemaType": "AVRO"}).to_string())
            .send()
            .await
            .expect("post");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/vnd.schemaregistry.v1+json");
        assert_eq!(response.json::<serde_json::Value>().await.expect("json"), serde_json::json!({"id": 1}));
    }
    let get = |path: &str| {
        let request = http.get(format!("{url}{path}"));
        async move {
            let response = request.send().await.expect("get");
            (response.status().as_u16(), response.json::<serde_json::Value>().await.expect("json"))
        }
    };
    assert_eq!(get("/config").await, (200, serde_json::json!({"compatibilityLevel": "BACKWARD"})));
    let (status, body) = get("/config/s-value").await;
    assert_eq!((status, &body["error_code"]), (404, &serde_json::json!(40408)));
    let (status, body) = get("/subjects/s-value/versions/latest").await;
    assert_eq!(status, 200);
    assert_eq!(
        (body["subject"].as_str(), body["id"].as_u64(), body["version"].as_u64()),
        (Some("s-value"), Some(1), Some(1))
    );
    assert_eq!(get("/subjects/s-value/versions/x").await.1["error_code"], 42202);
    assert_eq!(get("/subjects/none/versions").await.1["error_code"], 40401);
    let (status, body) = get("/schemas/ids/7").await;
    assert_eq!((status, body["error_code"].as_i64(), body["message"].is_string()), (404, Some(40403), true));

    let put = http
        .put(format!("{url}/config"))
        .header("content-type", "application/vnd.schemaregistry.v1+json")
        .body(r#"{"compatibility":"FULL"}"#)
        .send()
        .await
        .expect("put");
    assert_eq!(put.json::<serde_json::Value>().await.expect("json"), serde_json::json!({"compatibility": "FULL"}));
    let bad = http.put(format!("{url}/config")).body(r#"{"compatibility":"SIDEWAYS"}"#).send().await.expect("put");
    assert_eq!(bad.status(), 422);
    assert_eq!(bad.json::<serde_json::Value>().await.expect("json")["error_code"], 42203);

    let verbose = http
        .post(format!("{url}/compatibility/subjects/s-value/versions/latest?verbose=true"))
        .body(serde_json::json!({"schema": NO_DEFAULT}).to_string())
        .send()
        .await
        .expect("check");
    let body: serde_json::Value = verbose.json().await.expect("json");
    assert_eq!(body["is_compatible"], false);
    assert!(body["messages"].as_array().is_some_and(|m| !m.is_empty()), "{body}");
}

#[tokio::test]
async fn basic_auth_is_required_when_configured_and_never_echoed() {
    let mut config = EmbeddedRegistryConfig::new("127.0.0.1:0".parse().expect("addr"));
    config.basic_auth = Some(BasicAuth { username: "svc".into(), password: Secret::new("correct-horse") });
    let registry = EmbeddedRegistry::start_with(config).await.expect("registry starts");

    let anonymous = RegistryClient::new(fast(&registry.url())).expect("client");
    let err = anonymous.subjects().await.expect_err("no credentials");
    assert!(matches!(err, RegistryError::Auth { status: 401, .. }), "{err:?}");

    let wrong = RegistryClient::new(fast(&registry.url()).with_basic_auth("svc", "battery-staple")).expect("client");
    let err = wrong.register("s", V1).await.expect_err("wrong password");
    assert!(matches!(err, RegistryError::Auth { status: 401, .. }), "{err:?}");
    let shown = format!("{err} {err:?} {wrong:?}");
    assert!(!shown.contains("battery-staple"), "{shown}");

    let right = RegistryClient::new(fast(&registry.url()).with_basic_auth("svc", "correct-horse")).expect("client");
    assert_eq!(right.register("s", V1).await.expect("authorized"), 1);
}

#[tokio::test]
async fn unreachable_registry_fails_after_bounded_retries() {
    // Bind then drop a listener: nothing listens on that port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let client = RegistryClient::new(fast(&format!("http://127.0.0.1:{port}"))).expect("client");
    let started = Instant::now();
    let err = client.subjects().await.expect_err("nothing listens");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    let RegistryError::Unavailable { attempts, .. } = &err else { panic!("expected unavailable, got {err:?}") };
    assert_eq!(*attempts, 3);
    assert!(err.is_transient());
}

#[tokio::test]
async fn server_errors_are_retried_and_not_remembered() {
    use axum::routing::get;
    // A registry that fails twice with 503, then answers.
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let app = axum::Router::new().route(
        "/subjects",
        get(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    (axum::http::StatusCode::SERVICE_UNAVAILABLE, r#"{"error_code":50301,"message":"busy"}"#.to_owned())
                } else {
                    (axum::http::StatusCode::OK, r#"["a"]"#.to_owned())
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let client = RegistryClient::new(fast(&url)).expect("client");
    assert_eq!(client.subjects().await.expect("third attempt succeeds"), ["a"]);
    assert_eq!(calls.load(Ordering::SeqCst), 3);

    calls.store(0, Ordering::SeqCst);
    let mut config = fast(&url);
    config.retry = RetryPolicy::none();
    let impatient = RegistryClient::new(config).expect("client");
    let err = impatient.subjects().await.expect_err("503");
    assert!(err.to_string().contains("HTTP 503: busy"), "{err}");
    // The failure is not cached: the next call asks again.
    assert!(impatient.subjects().await.is_err());
    assert_eq!(impatient.subjects().await.expect("third call"), ["a"]);
    server.abort();
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let (registry, client) = start().await;
    client.subjects().await.expect("serving");
    let addr = registry.addr();
    tokio::time::timeout(Duration::from_secs(10), registry.shutdown()).await.expect("bounded").expect("clean");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "still accepting after shutdown");
}
