//! Secured Kafka, on a real Apache Kafka broker with TLS and SASL listeners and certificates made
//! for the test (`scripts/test-certs.sh`): records and offsets round-trip over SSL, mutual TLS,
//! SASL_SSL with PLAIN and with SCRAM-SHA-512; a wrong password, an untrusted CA and a mechanism
//! the broker does not enable each fail with the cause named (by `run` and by `check`), without
//! the secret in the output; and a tenant with bad credentials fails alone.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use rdkafka::ClientConfig;
use tributary::avro::Decoder;
use tributary::config::{Properties, PropertyValue};
use tributary::runtime::Runtime;
use tributary::state::State;
use tributary_test_support::{
    broker::{Broker, PLAIN_USER, SCRAM_USER},
    cli::*,
    datagen::*,
    registry::*,
    runtime::*,
    token_endpoint::{TokenEndpoint, unsecured_jwt},
    topics::*,
    wait::*,
    workspace, write_file,
};

const TRIBUTARY: &str = env!("CARGO_BIN_EXE_tributary");

const WAIT: Duration = Duration::from_secs(60);
const WRONG_PASSWORD: &str = "not-the-password-9d1c";
const OIDC_CLIENT: (&str, &str) = ("kafka-client", "kafka-client-secret-4e7a");

/// Client properties (as `key: value` YAML flow items) for one way in.
fn security(broker: &Broker, way: &str) -> (String, Vec<(String, String)>) {
    security_with(broker, way, None)
}

/// [`security`], with the token endpoint of the `oidc` way.
fn security_with(broker: &Broker, way: &str, token_url: Option<&str>) -> (String, Vec<(String, String)>) {
    let ca = broker.certs().join("ca.crt").display().to_string();
    let certs = broker.certs();
    let pairs: Vec<(&str, String)> = match way {
        "ssl" => vec![("security.protocol", "SSL".into()), ("ssl.ca.location", ca)],
        "mtls" => vec![
            ("security.protocol", "SSL".into()),
            ("ssl.ca.location", ca),
            ("ssl.certificate.location", certs.join("client.crt").display().to_string()),
            ("ssl.key.location", certs.join("client.key").display().to_string()),
        ],
        "plain" => sasl_user("PLAIN", PLAIN_USER, ca),
        "scram" => sasl_user("SCRAM-SHA-512", SCRAM_USER, ca),
        "oidc" => vec![
            ("security.protocol", "SASL_SSL".into()),
            ("sasl.mechanism", "OAUTHBEARER".into()),
            ("sasl.oauthbearer.method", "oidc".into()),
            ("sasl.oauthbearer.client.id", OIDC_CLIENT.0.into()),
            ("sasl.oauthbearer.client.secret", OIDC_CLIENT.1.into()),
            ("sasl.oauthbearer.token.endpoint.url", token_url.expect("a token endpoint for oidc").to_owned()),
            ("ssl.ca.location", ca),
        ],
        other => panic!("no way in called {other}"),
    };
    let bootstrap = match way {
        "ssl" => broker.secured_bootstrap("ssl"),
        "mtls" => broker.secured_bootstrap("mtls"),
        _ => broker.secured_bootstrap("sasl_ssl"),
    };
    (bootstrap, pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// SASL_SSL with a username and password under `mechanism`.
fn sasl_user(mechanism: &str, (user, password): (&str, &str), ca: String) -> Vec<(&'static str, String)> {
    vec![
        ("security.protocol", "SASL_SSL".into()),
        ("sasl.mechanism", mechanism.into()),
        ("sasl.username", user.into()),
        ("sasl.password", password.into()),
        ("ssl.ca.location", ca),
    ]
}

fn flow(pairs: &[(String, String)]) -> String {
    let items: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}: \"{v}\"")).collect();
    format!("{{{}}}", items.join(", "))
}

fn properties(pairs: &[(String, String)]) -> Properties {
    pairs.iter().map(|(k, v)| (k.clone(), PropertyValue::Text(v.clone()))).collect()
}

fn client(bootstrap: &str, pairs: &[(String, String)]) -> ClientConfig {
    tributary::clients::client_config(bootstrap, &properties(pairs))
}

async fn committed_over(
    bootstrap: &str,
    pairs: &[(String, String)],
    topic: &str,
    connector: &str,
) -> BTreeMap<String, i64> {
    generator_seqs(stored_offsets_with(client(bootstrap, pairs), topic, connector).await)
}

/// Datagen writes 150 records per generator through `way`; the records and the committed offsets
/// are read back through the same listener.
async fn round_trip(way: &str) {
    let endpoint = TokenEndpoint::start(OIDC_CLIENT.0, OIDC_CLIENT.1, |_| unsecured_jwt("tributary-oidc")).await;
    let broker = Broker::shared();
    let (bootstrap, pairs) = security_with(broker, way, Some(&endpoint.url));
    let topic = format!("secured.{way}");
    let offsets = format!("offsets.{way}");
    let cfg = config(&format!(
        r#"
kafka:
  bootstrap_servers: {bootstrap}
  producer: {props}
  consumer: {props}
  offsets: {{topic: {offsets}, partitions: 2, flush_interval: 200ms}}
schema_registry: {{url: embedded}}
api: {{enabled: false}}
connectors:
  - {{name: gen, class: datagen, topic: {topic}, generators: 2, count: 150}}
"#,
        props = flow(&pairs)
    ));
    let rt = Runtime::start_with(&cfg, datagen_plugins(), fast_backoff()).await.expect("runtime starts");
    let done = BTreeMap::from([("0".to_owned(), 149), ("1".to_owned(), 149)]);
    wait_for(WAIT, &format!("both generators committed over {way}"), || {
        let (bootstrap, pairs, offsets, done) = (bootstrap.clone(), pairs.clone(), offsets.clone(), done.clone());
        async move { (committed_over(&bootstrap, &pairs, &offsets, "gen").await == done).then_some(()) }
    })
    .await;
    let messages =
        consume(client(&bootstrap, &pairs), &topic, None, |m| m.len() >= 300, Duration::from_millis(500), WAIT).await;
    let decoder = Decoder::new(registry(&rt.registry_url));
    let values: Vec<_> = decode_all(&decoder, &messages).await.into_iter().map(|(_, v)| v).collect();
    assert_exactly(&seqs_by_generator(&values), 2, 150);
    tokio::time::timeout(WAIT, rt.shutdown()).await.expect("shutdown in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_and_offsets_round_trip_over_ssl() {
    round_trip("ssl").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_and_offsets_round_trip_over_mutual_tls() {
    round_trip("mtls").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_and_offsets_round_trip_over_sasl_ssl_plain() {
    round_trip("plain").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_and_offsets_round_trip_over_sasl_ssl_oauthbearer_with_oidc_client_credentials() {
    round_trip("oidc").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_and_offsets_round_trip_over_sasl_ssl_scram_sha_512() {
    round_trip("scram").await;
}

/// A config file for the CLI whose `kafka` section uses `pairs` against `bootstrap`.
fn cli_config(dir: &Path, bootstrap: &str, pairs: &[(String, String)]) -> std::path::PathBuf {
    let text = format!(
        r#"kafka:
  bootstrap_servers: {bootstrap}
  producer: {props}
  consumer: {props}
  offsets: {{topic: offsets.check}}
schema_registry: {{url: embedded}}
schemas_dir: {schemas}
api: {{enabled: false}}
connectors:
  - {{name: gen, class: datagen, topic: refused.records, generators: 1, count: 10}}
"#,
        props = flow(pairs),
        schemas = workspace().join("schemas").display()
    );
    write_file(dir, "config.yaml", &text)
}

/// `tributary check --config PATH`, off the async workers.
async fn check_cli(path: std::path::PathBuf) -> CliOutput {
    tokio::task::spawn_blocking(move || {
        cli(TRIBUTARY, &["check", "--config", path.to_str().expect("utf-8 path")], Duration::from_secs(90))
    })
    .await
    .expect("cli thread")
}

/// One way to be refused: its name, the bootstrap, the client properties, and the words that
/// must name the cause.
type Refusal = (&'static str, String, Vec<(String, String)>, &'static str);

/// The three ways a secured connection is refused.
fn refusals(broker: &Broker) -> Vec<Refusal> {
    let (sasl, mut wrong_password) = security(broker, "plain");
    for (k, v) in &mut wrong_password {
        if k == "sasl.password" {
            *v = WRONG_PASSWORD.to_owned();
        }
    }
    let (ssl, mut untrusted) = security(broker, "ssl");
    for (k, v) in &mut untrusted {
        if k == "ssl.ca.location" {
            *v = broker.certs().join("other-ca.crt").display().to_string();
        }
    }
    let (_, mut mechanism) = security(broker, "scram");
    for (k, v) in &mut mechanism {
        if k == "sasl.mechanism" {
            *v = "SCRAM-SHA-256".to_owned();
        }
    }
    vec![
        ("wrong password", sasl.clone(), wrong_password, "rejected the SASL credentials"),
        ("untrusted CA", ssl, untrusted, "TLS certificate is not trusted"),
        ("mechanism not enabled", sasl, mechanism, "does not enable the configured SASL mechanism"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_passes_on_a_secured_broker_and_names_every_refusal() {
    let broker = Broker::shared();
    broker.create_topic("offsets.check", 1, &[("cleanup.policy", "compact")]).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (bootstrap, pairs) = security(broker, "scram");
    let path = cli_config(dir.path(), &bootstrap, &pairs);
    let out = check_cli(path).await;
    assert_eq!(out.code, Some(0), "check passes:\n{}\n{}", out.stdout, out.stderr);
    for line in [
        "ok   kafka brokers",
        "ok   kafka offsets topic offsets.check: exists, 1 partition(s), cleanup.policy=compact",
        "ok   kafka write offsets.check",
        "ok   kafka transactions",
        "ok   kafka read offsets.check",
        "ok   registry",
    ] {
        assert!(out.stdout.contains(line), "`{line}` in:\n{}", out.stdout);
    }
    let runs = refusals(broker).into_iter().map(|(case, bootstrap, pairs, cause)| {
        let case_dir = dir.path().join(case.replace(' ', "-"));
        std::fs::create_dir_all(&case_dir).expect("case dir");
        let path = cli_config(&case_dir, &bootstrap, &pairs);
        async move { (case, cause, check_cli(path).await) }
    });
    for (case, cause, out) in futures::future::join_all(runs).await {
        assert_eq!(out.code, Some(1), "{case}: check fails:\n{}\n{}", out.stdout, out.stderr);
        let line = out.stdout.lines().find(|l| l.starts_with("FAIL kafka brokers")).unwrap_or_default();
        assert!(line.contains(cause), "{case}: `{cause}` named on the brokers line:\n{}", out.stdout);
        assert!(!out.stdout.contains(WRONG_PASSWORD) && !out.stderr.contains(WRONG_PASSWORD), "{case}: leaked");
    }
}

#[test]
fn run_names_why_the_broker_refused_it() {
    let broker = Broker::shared();
    let dir = tempfile::tempdir().expect("temp dir");
    let runs: Vec<_> = refusals(broker)
        .into_iter()
        .map(|(case, bootstrap, pairs, cause)| {
            let case_dir = dir.path().join(case.replace(' ', "-"));
            std::fs::create_dir_all(&case_dir).expect("case dir");
            let path = cli_config(&case_dir, &bootstrap, &pairs);
            std::thread::spawn(move || {
                let out =
                    cli(TRIBUTARY, &["run", "--config", path.to_str().expect("utf-8 path")], Duration::from_secs(90));
                (case, cause, out)
            })
        })
        .collect();
    for run in runs {
        let (case, cause, out) = run.join().expect("cli thread");
        assert_ne!(out.code, Some(0), "{case}: run must fail:\n{}", out.stderr);
        assert!(out.stderr.contains(cause), "{case}: the cause `{cause}` is named:\n{}", out.stderr);
        assert!(!out.stderr.contains(WRONG_PASSWORD), "{case}: the password leaked:\n{}", out.stderr);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_with_a_wrong_password_fails_alone() {
    let broker = Broker::shared();
    let (bootstrap, pairs) = security(broker, "plain");
    let cfg = config(&format!(
        r#"
kafka:
  bootstrap_servers: {bootstrap}
  producer: {props}
  consumer: {props}
  offsets: {{topic: offsets.tenants, partitions: 2, flush_interval: 200ms}}
schema_registry: {{url: embedded}}
api: {{enabled: false}}
connectors:
  - {{name: good, class: datagen, topic: tenants.good, generators: 1, rate: 200}}
  - name: bad
    class: datagen
    topic: tenants.bad
    generators: 1
    rate: 200
    producer: {{sasl.password: {WRONG_PASSWORD}}}
"#,
        props = flow(&pairs)
    ));
    let rt = Runtime::start_with(&cfg, datagen_plugins(), fast_backoff()).await.expect("runtime starts");
    let failed = rt.supervisor.wait_for("bad", WAIT, |s| s.state == State::Failed).await.expect("bad fails");
    let reason = failed.trace.clone().unwrap_or_default();
    assert!(reason.contains("rejected the SASL credentials"), "the cause is named: {reason}");
    assert!(!reason.contains(WRONG_PASSWORD), "the password stays out of the status: {reason}");
    wait_for(WAIT, "the good tenant's records", || async {
        rt.supervisor.snapshot("good").ok().filter(|s| s.records_acknowledged >= 400).map(|_| ())
    })
    .await;
    let good = rt.supervisor.status("good").expect("status");
    assert_eq!(good.connector.state, State::Running, "{:?}", good.connector);
    assert_eq!(good.connector.restarts, 0);
    tokio::time::timeout(WAIT, rt.shutdown()).await.expect("shutdown in time");
}
