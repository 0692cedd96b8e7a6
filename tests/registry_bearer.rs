//! Bearer auth to the registry, over real HTTP on 127.0.0.1: the embedded registry accepts one
//! bearer token; a fixed token is sent as given; OAuth client credentials fetch tokens from a
//! token endpoint (a small server in this test), fetch a new one when the registry answers 401,
//! and a refused client fails with a message that names the client but never the secret.

use std::net::SocketAddr;
use std::time::Duration;

use tributary::oauth::{ClientCredentials, TokenError};
use tributary::schema_registry::{
    BearerAuth, EmbeddedRegistry, EmbeddedRegistryConfig, EmbeddedRegistryHandle, RegistryClient, RegistryConfig,
    RegistryError, RetryPolicy, Secret,
};
use tributary_test_support::{cli::*, token_endpoint::TokenEndpoint, workspace, write_file};

const TRIBUTARY: &str = env!("CARGO_BIN_EXE_tributary");

const SCHEMA: &str = r#"{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"string"}]}"#;
const CLIENT_SECRET: &str = "client-secret-5b2e";

async fn registry_expecting(token: &str) -> EmbeddedRegistryHandle {
    let mut config = EmbeddedRegistryConfig::new(SocketAddr::from(([127, 0, 0, 1], 0)));
    config.bearer_token = Some(Secret::new(token));
    EmbeddedRegistry::start_with(config).await.expect("registry starts")
}

fn client(url: &str, bearer: BearerAuth) -> RegistryClient {
    let mut config = RegistryConfig::new(url);
    config.bearer = Some(bearer);
    config.request_timeout = Duration::from_secs(5);
    config.retry = RetryPolicy::none();
    RegistryClient::new(config).expect("client")
}

async fn token_endpoint() -> TokenEndpoint {
    TokenEndpoint::start("registry-client", CLIENT_SECRET, |n| format!("tok-{n}")).await
}

fn credentials(endpoint: &TokenEndpoint, secret: &str) -> BearerAuth {
    BearerAuth::ClientCredentials(ClientCredentials {
        token_endpoint_url: endpoint.url.clone(),
        client_id: "registry-client".into(),
        client_secret: Secret::new(secret),
        scope: Some("registry".into()),
    })
}

#[tokio::test]
async fn a_fixed_bearer_token_is_sent_and_a_wrong_one_refused() {
    let registry = registry_expecting("static-token-1").await;
    let right = client(&registry.url(), BearerAuth::Static(Secret::new("static-token-1")));
    right.register("orders-value", SCHEMA).await.expect("accepted");
    let wrong = client(&registry.url(), BearerAuth::Static(Secret::new("static-token-2")));
    let error = wrong.subjects().await.expect_err("refused");
    assert!(matches!(error, RegistryError::Auth { status: 401, .. }), "{error:?}");
    assert!(!error.to_string().contains("static-token-2"), "{error}");
    registry.shutdown().await.expect("stops");
}

#[tokio::test]
async fn client_credentials_fetch_a_token_once_and_a_new_one_after_a_401() {
    let endpoint = token_endpoint().await;
    // The registry accepts only the second token: the first call gets 401 with tok-1, fetches
    // tok-2 and succeeds; later calls reuse tok-2.
    let registry = registry_expecting("tok-2").await;
    let client = client(&registry.url(), credentials(&endpoint, CLIENT_SECRET));
    let id = client.register("orders-value", SCHEMA).await.expect("accepted after one refresh");
    assert_eq!(endpoint.requests(), 2, "tok-1, then tok-2 after the 401");
    assert!(client.schema_by_id(id).await.expect("read back").contains("\"Order\""));
    client.subjects().await.expect("subjects");
    assert_eq!(endpoint.requests(), 2, "a valid token is reused");
    registry.shutdown().await.expect("stops");
}

#[tokio::test]
async fn a_refused_client_is_named_without_its_secret() {
    let endpoint = token_endpoint().await;
    let registry = registry_expecting("tok-1").await;
    let client = client(&registry.url(), credentials(&endpoint, "not-the-secret-77"));
    let error = client.subjects().await.expect_err("no token");
    let RegistryError::Token(TokenError::Refused { status, ref client_id, .. }) = error else {
        panic!("expected a refused token request, got {error:?}")
    };
    assert_eq!((status, client_id.as_str()), (401, "registry-client"));
    let text = error.to_string();
    assert!(text.contains("invalid_client") && !text.contains("not-the-secret-77"), "{text}");
    assert!(!format!("{client:?}").contains("not-the-secret-77"));
    registry.shutdown().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_passes_with_client_credentials_and_names_a_refused_client_without_its_secret() {
    let endpoint = token_endpoint().await;
    let registry = registry_expecting("tok-1").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = |name: &str, secret: &str| {
        let text = format!(
            "kafka: {{bootstrap_servers: embedded}}\nschema_registry:\n  url: {}\n  bearer_auth:\n    client_id: \
             registry-client\n    client_secret: \"{secret}\"\n    token_endpoint_url: {}\nschemas_dir: {}\n\
             connectors:\n  - {{name: gen, class: datagen, topic: bearer.records}}\n",
            registry.url(),
            endpoint.url,
            workspace().join("schemas").display()
        );
        write_file(dir.path(), name, &text)
    };
    let good = file("good.yaml", CLIENT_SECRET);
    let bad = file("bad.yaml", "not-the-secret-77");
    let (good, bad) = tokio::task::spawn_blocking(move || {
        let run = |path: &std::path::Path| {
            cli(TRIBUTARY, &["check", "--config", path.to_str().expect("utf-8")], Duration::from_secs(60))
        };
        (run(&good), run(&bad))
    })
    .await
    .expect("cli thread");
    assert_eq!(good.code, Some(0), "{}\n{}", good.stdout, good.stderr);
    assert!(good.stdout.contains("ok   registry subject bearer.records-value: absent"), "{}", good.stdout);
    assert_eq!(bad.code, Some(1), "{}\n{}", bad.stdout, bad.stderr);
    let line = bad.stdout.lines().find(|l| l.starts_with("FAIL registry")).unwrap_or_default();
    assert!(line.contains("refused client `registry-client`") && line.contains("bearer_auth"), "{}", bad.stdout);
    for out in [&good, &bad] {
        for secret in [CLIENT_SECRET, "not-the-secret-77", "tok-1", "tok-2"] {
            assert!(!out.stdout.contains(secret) && !out.stderr.contains(secret), "`{secret}` leaked:\n{}", out.stdout);
        }
    }
    registry.shutdown().await.expect("stops");
}
