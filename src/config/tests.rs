use std::collections::HashMap;

use super::*;

struct MapEnv(HashMap<&'static str, &'static str>);
impl Env for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).map(|v| v.to_string())
    }
}

fn env() -> MapEnv {
    MapEnv(HashMap::from([("REG_PW", "pw-123"), ("RATE", "50")]))
}

fn parse_ok(text: &str) -> Loaded {
    match parse(text, "test.yaml", Path::new("/cfg"), &env()) {
        Ok(l) => l,
        Err(e) => panic!("unexpected errors: {e}"),
    }
}

fn parse_err(text: &str) -> ConfigErrors {
    match parse(text, "test.yaml", Path::new("/cfg"), &env()) {
        Ok(_) => panic!("expected errors"),
        Err(e) => e,
    }
}

const GOOD: &str = r#"
kafka:
  bootstrap_servers: embedded
  producer:
    linger.ms: 5
    compression.type: lz4
  offsets:
    flush_interval: 2s
schema_registry:
  url: embedded
  basic_auth:
    username: me
    password: ${env:REG_PW}
connectors:
  - name: gen
    class: datagen
    producer:
      batch.num.messages: 1000
    topic: t
    rate: ${env:RATE}
"#;

#[test]
fn a_good_file_is_typed_and_substituted() {
    let loaded = parse_ok(GOOD);
    let c = &loaded.config;
    assert!(c.kafka.is_embedded());
    assert_eq!(c.kafka.producer.get("linger.ms").map(ToString::to_string).as_deref(), Some("5"));
    assert_eq!(c.kafka.offsets.flush_interval.get(), std::time::Duration::from_secs(2));
    assert_eq!(c.kafka.offsets.topic, "tributary-offsets");
    assert_eq!(c.schema_registry.basic_auth.as_ref().map(|a| a.password.expose()), Some("pw-123"));
    assert_eq!(c.schemas_dir, PathBuf::from("/cfg/schemas"));
    let conn = &c.connectors[0];
    assert_eq!((conn.name.as_str(), conn.class.as_str()), ("gen", "datagen"));
    assert_eq!(conn.config, serde_json::json!({"topic": "t", "rate": 50}));
    assert_eq!(conn.shown.get("rate"), Some(&serde_json::json!("${env:RATE}")));
    assert_eq!(c.api.listen.to_string(), "127.0.0.1:8083");
}

#[test]
fn malformed_yaml_names_the_line() {
    let errs = parse_err("kafka:\n  bootstrap_servers: [unclosed\nschema_registry: {}\n");
    assert_eq!(errs.errors.len(), 1);
    assert!(errs.errors[0].message.starts_with("malformed YAML"), "{errs}");
    assert!(errs.errors[0].line.is_some(), "{errs}");
}

#[test]
fn unknown_keys_name_path_and_line() {
    let text = GOOD.replace("    flush_interval: 2s", "    flush_interval: 2s\n    flush_intervall: 3s");
    let errs = parse_err(&text);
    assert_eq!(errs.errors.len(), 1, "{errs}");
    let e = &errs.errors[0];
    assert_eq!(e.path, "kafka.offsets.flush_intervall");
    assert!(e.message.contains("unknown field `flush_intervall`"), "{e}");
    assert_eq!(e.line, Some(9), "{e}");

    let errs = parse_err(&format!("{GOOD}\nextras: 1\n"));
    assert_eq!(errs.errors[0].path, "extras");
    assert!(errs.errors[0].message.contains("unknown key"));
}

#[test]
fn missing_env_var_bad_duration_and_bad_type_are_all_reported_at_once() {
    let text = GOOD
        .replace("${env:REG_PW}", "${env:NOT_SET}")
        .replace("flush_interval: 2s", "flush_interval: 2 fortnights")
        .replace("  url: embedded", "  url: embedded\n  auto_register: maybe");
    let errs = parse_err(&text);
    let shown = errs.to_string();
    assert_eq!(errs.errors.len(), 3, "{shown}");
    assert!(
        shown.contains("schema_registry.basic_auth.password: environment variable `NOT_SET` is not set"),
        "{shown}"
    );
    assert!(shown.contains("kafka.offsets.flush_interval: invalid duration `2 fortnights`"), "{shown}");
    assert!(shown.contains("schema_registry.auto_register"), "{shown}");
    assert!(errs.errors.iter().all(|e| e.line.is_some()), "{shown}");
}

#[test]
fn connector_entries_need_unique_valid_names_and_a_class() {
    let text = r#"
kafka: {bootstrap_servers: embedded}
schema_registry: {url: embedded}
connectors:
  - name: a
    class: datagen
  - name: a
    class: datagen
  - class: datagen
  - name: "bad name"
    class: datagen
"#;
    let errs = parse_err(text);
    let shown = errs.to_string();
    assert!(shown.contains("connectors[1].name: duplicate connector name `a` (also connectors[0])"), "{shown}");
    assert!(shown.contains("connectors[2]: missing `name`"), "{shown}");
    assert!(shown.contains("connector name `bad name` may only contain"), "{shown}");
}

#[test]
fn missing_sections_are_named() {
    let errs = parse_err("connectors: []\n");
    let shown = errs.to_string();
    assert!(shown.contains("kafka: missing section") && shown.contains("schema_registry: missing section"), "{shown}");
}

#[test]
fn literal_secrets_are_redacted_in_what_is_shown() {
    let text = GOOD.replace("    rate: ${env:RATE}", "    rate: 1\n    client_secret: plain-secret");
    let loaded = parse_ok(&text);
    let shown = loaded.config.connectors[0].shown.to_string();
    assert!(!shown.contains("plain-secret"), "{shown}");
    let debug = format!("{:?}", loaded.config);
    assert!(debug.contains("[redacted]") && !debug.contains("plain-secret"), "{debug}");
    assert!(!format!("{:?}", loaded.config.schema_registry).contains("pw-123"));
}

const CLUSTERED: &str = "kafka:\n  bootstrap_servers: 127.0.0.1:9092\nschema_registry:\n  url: embedded\n";

#[test]
fn cluster_mode_defaults_to_exactly_once_and_standalone_does_not() {
    let standalone = parse_ok(CLUSTERED).config;
    assert!(!standalone.exactly_once());
    assert_eq!(standalone.cluster.slots_topic(), None);
    let clustered = parse_ok(&format!("{CLUSTERED}cluster:\n  group_id: replicas\n")).config;
    assert!(clustered.exactly_once());
    assert_eq!(clustered.cluster.slots_topic().as_deref(), Some("replicas.slots"));
    assert_eq!(clustered.cluster.session_timeout.get(), std::time::Duration::from_secs(10));
    assert_eq!(clustered.cluster.transactional_id_prefix(), "replicas.", "two clusters never fence each other");
    assert_eq!(standalone.cluster.transactional_id_prefix(), "tributary-");
}

#[test]
fn cluster_settings_that_cannot_work_are_refused_by_name() {
    let text = format!(
        "{}cluster:\n  group_id: replicas\n  session_timeout: 3s\n  heartbeat_interval: 5s\n",
        CLUSTERED.replace("kafka:\n", "kafka:\n  exactly_once: false\n")
    );
    let errors = parse_err(&text).to_string();
    assert!(errors.contains("kafka.exactly_once") && errors.contains("fences"), "{errors}");
    assert!(errors.contains("cluster.heartbeat_interval"), "{errors}");
    let embedded = parse_err(
        "kafka:\n  bootstrap_servers: embedded\nschema_registry:\n  url: embedded\ncluster:\n  group_id: g\n",
    )
    .to_string();
    assert!(embedded.contains("embedded one lives inside one process"), "{embedded}");
    let bad_group = parse_err(&format!("{CLUSTERED}cluster:\n  group_id: 'a b'\n")).to_string();
    assert!(bad_group.contains("cluster.group_id"), "{bad_group}");
}

#[test]
fn the_summary_interval_is_a_duration_or_off() {
    let base = "kafka: {bootstrap_servers: embedded}\nschema_registry: {url: embedded}\nconnectors: []\n";
    assert_eq!(parse_ok(base).config.logging.summary_interval, Some(Duration::from_secs(30)));
    for (written, expected) in [("10s", Some(Duration::from_secs(10))), ("off", None), ("0s", None), ("false", None)] {
        let loaded = parse_ok(&format!("{base}logging: {{summary_interval: {written}}}\n"));
        assert_eq!(loaded.config.logging.summary_interval, expected, "{written}");
    }
    let errors = parse_err(&format!("{base}logging: {{summary_interval: sometimes}}\n")).to_string();
    assert!(errors.contains("logging") && errors.contains("summary_interval"), "{errors}");
}

#[test]
fn deep_nesting_and_huge_files_are_refused_at_once_with_the_line() {
    let deep = format!("kafka:\n  x: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let errs = parse_err(&deep);
    let shown = errs.to_string();
    assert!(shown.contains("nest deeper than 64 levels"), "{shown}");
    assert!(shown.contains("line 2"), "{shown}");
    let block: String = (0..70).map(|i| format!("{}k{i}:\n", "  ".repeat(i))).collect();
    assert!(parse_err(&block).to_string().contains("nest deeper than 64 levels"));
    let huge = format!("kafka: {{bootstrap_servers: embedded}}\n# {}\n", "x".repeat(9 * 1024 * 1024));
    assert!(parse_err(&huge).to_string().contains("at most 8388608 are read"));
    // The limit leaves room for any real config.
    let fine = format!("{}\nlogging: {{level: info}}\n", GOOD);
    assert!(parse(&fine, "test.yaml", Path::new("/cfg"), &env()).is_ok());
}
