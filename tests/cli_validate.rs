//! `tributary validate`: each kind of bad input gets its own clear message and exit code 1;
//! several problems are reported together; the repository's config.yaml is valid.

use std::path::Path;
use std::time::Duration;

use tributary_test_support::{cli::*, workspace, write_file};

const TRIBUTARY: &str = env!("CARGO_BIN_EXE_tributary");

const TIMEOUT: Duration = Duration::from_secs(30);

/// A valid file, as lines, so that cases can break one line and know its number.
fn good(schemas: &Path) -> String {
    format!(
        "kafka:\n\
         \x20 bootstrap_servers: embedded\n\
         \x20 offsets:\n\
         \x20   flush_interval: 5s\n\
         schema_registry:\n\
         \x20 url: embedded\n\
         schemas_dir: {}\n\
         connectors:\n\
         \x20 - name: gen\n\
         \x20   class: datagen\n\
         \x20   topic: t\n",
        schemas.display()
    )
}

/// Validates `text` written as `config.yaml` in a fresh directory; returns the output and path.
fn validate(text: &str) -> (CliOutput, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_file(dir.path(), "config.yaml", text);
    let path_text = path.display().to_string();
    (cli(TRIBUTARY, &["validate", "--config", &path_text], TIMEOUT), path_text)
}

fn repo_schemas() -> std::path::PathBuf {
    workspace().join("schemas")
}

#[track_caller]
fn assert_fails_with(out: &CliOutput, expected: &[&str]) {
    assert_eq!(out.code, Some(1), "exit code; stderr:\n{}", out.stderr);
    for text in expected {
        assert!(out.stderr.contains(text), "missing `{text}` in:\n{}", out.stderr);
    }
}

#[test]
fn the_good_file_and_the_repository_config_are_valid() {
    let (out, path) = validate(&good(&repo_schemas()));
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stdout.trim(), format!("{path} is valid: 1 connector"));

    let config = workspace().join("config.yaml").display().to_string();
    let out = cli(TRIBUTARY, &["validate", "--config", &config], TIMEOUT);
    assert_eq!(out.code, Some(0), "config.yaml: {out:?}");
    assert!(out.stdout.contains("is valid"), "{out:?}");
}

#[test]
fn malformed_yaml_names_the_line() {
    let text = good(&repo_schemas()).replace("    flush_interval: 5s", "    flush_interval: [5s");
    let (out, path) = validate(&text);
    assert_fails_with(&out, &[&format!("{path} has 1 error"), "malformed YAML"]);
    assert!(out.stderr.contains("line 4:") || out.stderr.contains("line 5:"), "{}", out.stderr);
}

#[test]
fn an_unknown_key_names_its_path_and_line() {
    let text =
        good(&repo_schemas()).replace("    flush_interval: 5s", "    flush_interval: 5s\n    flush_intervall: 3s");
    let (out, _) = validate(&text);
    assert_fails_with(
        &out,
        &["line 5: kafka.offsets.flush_intervall: unknown field `flush_intervall`", "expected one of"],
    );

    let (out, _) = validate(&format!("{}retries: 3\n", good(&repo_schemas())));
    assert_fails_with(&out, &["retries: unknown key (known: kafka, schema_registry"]);

    // Inside a connector, the connector's own config names the key too.
    let (out, _) = validate(&format!("{}    rat: 5\n", good(&repo_schemas())));
    assert_fails_with(&out, &["line 12: connectors[0].rat: unknown field `rat`, expected one of `topic`, `rate`"]);
}

#[test]
fn an_unknown_connector_class_names_the_known_ones() {
    let (out, _) = validate(&good(&repo_schemas()).replace("class: datagen", "class: genesys-clod"));
    assert_fails_with(
        &out,
        &["line 10: connectors[0].class: unknown connector class `genesys-clod` (known: `datagen`"],
    );
}

#[test]
fn a_missing_environment_variable_is_named() {
    let text = good(&repo_schemas()).replace("topic: t", "topic: ${env:TRIBUTARY_TEST_SURELY_UNSET}");
    let (out, _) = validate(&text);
    assert_fails_with(
        &out,
        &["line 11: connectors[0].topic: environment variable `TRIBUTARY_TEST_SURELY_UNSET` is not set"],
    );
    // A default makes it valid.
    let text = good(&repo_schemas()).replace("topic: t", "topic: ${env:TRIBUTARY_TEST_SURELY_UNSET:-t}");
    assert_eq!(validate(&text).0.code, Some(0));
}

#[test]
fn a_bad_duration_says_how_to_write_one() {
    let (out, _) = validate(&good(&repo_schemas()).replace("flush_interval: 5s", "flush_interval: 5"));
    assert_fails_with(&out, &["line 4: kafka.offsets.flush_interval: duration `5` has no unit; write e.g. `5s`"]);
    let (out, _) = validate(&good(&repo_schemas()).replace("flush_interval: 5s", "flush_interval: soon"));
    assert_fails_with(&out, &["kafka.offsets.flush_interval: invalid duration `soon`"]);
}

#[test]
fn an_invalid_or_unreadable_schema_file_is_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let schemas = dir.path().join("schemas");
    std::fs::create_dir(&schemas).expect("schemas dir");
    std::fs::copy(repo_schemas().join("datagen.avsc"), schemas.join("datagen.avsc")).expect("copy schema");
    std::fs::write(schemas.join("broken.avsc"), "{\"type\": \"record\", \"name\": ").expect("write");
    let text = good(Path::new("schemas"));
    let config = write_file(dir.path(), "config.yaml", &text).display().to_string();
    let out = cli(TRIBUTARY, &["validate", "--config", &config], TIMEOUT);
    assert_fails_with(&out, &["schemas_dir: schema file", "broken.avsc is not valid JSON"]);

    std::fs::write(schemas.join("broken.avsc"), r#"{"type": "record", "name": "X", "fields": [{"name": "a"}]}"#)
        .expect("write");
    let out = cli(TRIBUTARY, &["validate", "--config", &config], TIMEOUT);
    assert_fails_with(&out, &["broken.avsc is not a valid Avro schema"]);

    std::fs::remove_file(schemas.join("broken.avsc")).expect("remove");
    std::fs::create_dir(schemas.join("unreadable.avsc")).expect("a directory where a file should be");
    let out = cli(TRIBUTARY, &["validate", "--config", &config], TIMEOUT);
    assert_fails_with(&out, &["schemas_dir: cannot read schema file", "unreadable.avsc"]);

    std::fs::remove_dir(schemas.join("unreadable.avsc")).expect("remove");
    std::fs::remove_file(schemas.join("datagen.avsc")).expect("remove");
    let out = cli(TRIBUTARY, &["validate", "--config", &config], TIMEOUT);
    assert_fails_with(&out, &["connector writes schema `tributary.datagen.DatagenRecord`", "has no such schema"]);
}

#[test]
fn several_problems_are_reported_together() {
    let text = good(&repo_schemas())
        .replace("flush_interval: 5s", "flush_interval: 5 fortnights")
        .replace("  url: embedded", "  url: embedded\n  colour: blue")
        .replace("topic: t", "topic: ${env:TRIBUTARY_TEST_SURELY_UNSET}")
        .replace("class: datagen", "class: nope");
    let (out, path) = validate(&text);
    assert_fails_with(
        &out,
        &[
            &format!("{path} has 3 errors"),
            "kafka.offsets.flush_interval: invalid duration `5 fortnights`",
            "line 7: schema_registry.colour: unknown field `colour`",
            "environment variable `TRIBUTARY_TEST_SURELY_UNSET` is not set",
        ],
    );
    // The unknown class cannot be checked until the file loads; it is reported on the next run.
    let fixed = text
        .replace("5 fortnights", "5s")
        .replace("\n  colour: blue", "")
        .replace("${env:TRIBUTARY_TEST_SURELY_UNSET}", "t");
    let (out, _) = validate(&fixed);
    assert_fails_with(&out, &["unknown connector class `nope`"]);
}

#[test]
fn a_missing_file_is_an_error_not_a_panic() {
    let out = cli(TRIBUTARY, &["validate", "--config", "/nonexistent/tributary.yaml"], TIMEOUT);
    assert_fails_with(&out, &["/nonexistent/tributary.yaml", "cannot read the config file"]);
}

#[test]
fn connectivity_settings_are_checked_offline_without_showing_their_secrets() {
    let text = format!(
        "kafka:\n\
         \x20 bootstrap_servers: broker-1:9093\n\
         \x20 producer:\n\
         \x20   security.protocol: SASL_SSL\n\
         \x20   sasl.mechanism: OAUTHBEARER\n\
         \x20   sasl.oauthbearer.method: oidc\n\
         \x20   sasl.oauthbearer.client.id: svc\n\
         \x20   sasl.oauthbearer.client.secret: oidc-secret-71c2\n\
         \x20 consumer:\n\
         \x20   security.protocol: SSL\n\
         \x20   ssl.ca.location: /nonexistent/ca.pem\n\
         \x20   ssl.key.password: key-pass-9b3d\n\
         \x20   sasl.mechanism: GSSAPI\n\
         schema_registry:\n\
         \x20 url: https://registry.example:8081\n\
         \x20 ssl.ca.location: /nonexistent/registry-ca.pem\n\
         \x20 bearer_auth: {{token: bearer-token-4f0e, client_id: svc}}\n\
         schemas_dir: {}\n\
         connectors:\n\
         \x20 - name: gen\n\
         \x20   class: datagen\n\
         \x20   topic: t\n",
        repo_schemas().display()
    );
    let (out, _) = validate(&text);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    for expected in [
        "sasl.oauthbearer.method=oidc needs sasl.oauthbearer.token.endpoint.url",
        "ssl.ca.location: cannot read `/nonexistent/ca.pem`",
        "sasl.mechanism: `GSSAPI` is not available in this build",
        "bearer_auth takes either `token`, or all of `client_id`, `client_secret` and `token_endpoint_url`",
    ] {
        assert!(out.stderr.contains(expected), "`{expected}` in:\n{}", out.stderr);
    }
    for secret in ["oidc-secret-71c2", "key-pass-9b3d", "bearer-token-4f0e"] {
        assert!(!out.stderr.contains(secret) && !out.stdout.contains(secret), "`{secret}` shown:\n{}", out.stderr);
    }
}
