//! The registry over https, against an independent registry: Apicurio Registry's
//! Confluent-compatible API served with a certificate made for the test. Tributary registers its
//! schemas there (trusting the test CA through `ssl.ca.location`), Confluent's Python
//! `SchemaRegistryClient` and `AvroDeserializer` read them back over https, and a registry whose
//! CA is not trusted is refused with the cause and the fix.

use std::sync::OnceLock;
use std::time::Duration;

use tributary::runtime::Runtime;
use tributary::schema_registry::RegistryError;
use tributary::state::State;
use tributary_test_support::{apicurio::Apicurio, datagen::*, python::*, runtime::*, wait::*};

const WAIT: Duration = Duration::from_secs(60);

fn apicurio() -> &'static Apicurio {
    static SHARED: OnceLock<Apicurio> = OnceLock::new();
    SHARED.get_or_init(Apicurio::start_https)
}

fn registry_yaml(url: &str, ca: &std::path::Path) -> String {
    format!("schema_registry:\n  url: {url}\n  ssl.ca.location: {}\n", ca.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemas_registered_over_https_are_read_back_by_confluents_python_client() {
    let Some(python) = python_or_skip("the https registry read-back") else { return };
    const COUNT: i64 = 100;
    const SEED: u64 = 11;
    let apicurio = tokio::task::spawn_blocking(apicurio).await.expect("apicurio thread");
    let ca = apicurio.certs().join("ca.crt");
    let cfg = config(&format!(
        "kafka: {{bootstrap_servers: embedded}}\n{}api: {{enabled: false}}\nconnectors:\n  - {{name: gen, class: datagen, \
         topic: https.records, count: {COUNT}, generators: 2, seed: {SEED}}}\n",
        registry_yaml(&apicurio.url(), &ca)
    ));
    let rt = Runtime::start_with(&cfg, datagen_plugins(), fast_backoff()).await.expect("runtime starts");
    rt.supervisor.wait_for("gen", WAIT, |s| s.state == State::Running).await.expect("running");
    let client = tributary::clients::registry_client(&cfg.schema_registry, &apicurio.url()).expect("client");
    let schema_id = wait_for(WAIT, "the schema registered in Apicurio", || {
        let client = client.clone();
        async move { client.latest("https.records-value").await.ok().map(|v| v.id) }
    })
    .await;

    let lines =
        python_consume_datagen(&python, &rt.bootstrap_servers, &apicurio.url(), "https.records", 2 * COUNT, Some(&ca))
            .await;
    assert_python_read_datagen(&lines, schema_id, SEED, 2, COUNT);
    tokio::time::timeout(WAIT, rt.shutdown()).await.expect("shutdown in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_whose_ca_is_not_trusted_is_refused_with_the_fix() {
    let apicurio = tokio::task::spawn_blocking(apicurio).await.expect("apicurio thread");
    for ca in [None, Some(apicurio.certs().join("other-ca.crt"))] {
        let text = match &ca {
            Some(ca) => format!("kafka: {{bootstrap_servers: embedded}}\n{}", registry_yaml(&apicurio.url(), ca)),
            None => format!("kafka: {{bootstrap_servers: embedded}}\nschema_registry: {{url: {}}}\n", apicurio.url()),
        };
        let cfg = config(&text);
        let client = tributary::clients::registry_client(&cfg.schema_registry, &apicurio.url()).expect("client");
        let started = std::time::Instant::now();
        let error = client.subjects().await.expect_err("an untrusted certificate is refused");
        assert!(matches!(error, RegistryError::Tls { .. }), "{error:?}");
        let text = error.to_string();
        assert!(text.contains("ssl.ca.location") && text.contains("not trusted"), "{text}");
        assert!(started.elapsed() < Duration::from_secs(5), "not retried like an outage: {:?}", started.elapsed());
    }
}
