//! The embedded registry and our Avro framing, checked by an independent client: Confluent's
//! Python `SchemaRegistryClient`, `AvroSerializer` and `AvroDeserializer`
//! (`tests/python/registry_client.py`).
//!
//! Needs the project's Python environment (`.venv` with `tests/python/requirements.txt`), which
//! `.ci/run` creates; `TRIBUTARY_PYTHON` points at another interpreter. With
//! `TRIBUTARY_SKIP_PYTHON=1` the test is skipped (loudly) instead of failing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Serialize, Serializer};
use serde_json::json;
use tributary::api::RecordValue;
use tributary::avro::{Decoder, Encoder, EncoderOptions, Schemas};
use tributary::schema_registry::{EmbeddedRegistry, RegistryClient, RegistryConfig};
use tributary_test_support::python::{python_or_skip, run_script, script};

/// The same record as `SCHEMA` in the Python script.
const SCHEMA: &str = r#"{
  "type": "record", "name": "Conversation", "namespace": "test.interop",
  "fields": [
    {"name": "id", "type": "string"},
    {"name": "seq", "type": "long"},
    {"name": "parts", "type": "int"},
    {"name": "state", "type": {"type": "enum", "name": "State", "symbols": ["OPEN", "CLOSED"]}},
    {"name": "queue", "type": ["null", "string"], "default": null},
    {"name": "agent", "default": null, "type": ["null", {"type": "record", "name": "Agent", "fields": [
        {"name": "name", "type": "string"},
        {"name": "skills", "type": {"type": "array", "items": "string"}}]}]},
    {"name": "attrs", "type": {"type": "map", "values": "string"}},
    {"name": "raw", "type": "bytes"},
    {"name": "score", "type": "double"},
    {"name": "live", "type": "boolean"}
  ]
}"#;

#[derive(Serialize)]
#[allow(dead_code)]
enum State {
    #[serde(rename = "OPEN")]
    Open,
    #[serde(rename = "CLOSED")]
    Closed,
}

#[derive(Serialize)]
struct Agent {
    name: String,
    skills: Vec<String>,
}

struct Raw(Vec<u8>);

impl Serialize for Raw {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

#[derive(Serialize)]
struct Conversation {
    id: String,
    seq: i64,
    parts: i32,
    state: State,
    queue: Option<String>,
    agent: Option<Agent>,
    attrs: BTreeMap<String, String>,
    raw: Raw,
    score: f64,
    live: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluent_python_client_agrees_with_the_embedded_registry_and_our_framing() {
    let Some(python) = python_or_skip("registry interop with Confluent's Python client") else { return };

    let registry = EmbeddedRegistry::start("127.0.0.1:0".parse().expect("addr")).await.expect("registry starts");
    let mut config = RegistryConfig::new(registry.url());
    config.request_timeout = Duration::from_secs(5);
    let client = RegistryClient::new(config).expect("client");

    // Our encoder writes a value first; the script decodes it with Confluent's deserializer.
    let schemas = Arc::new(Schemas::from_texts([("conversation.avsc", SCHEMA)]).expect("schema loads"));
    let encoder = Encoder::new(client.clone(), schemas, EncoderOptions::default());
    encoder.prepare("rust-topic", "test.interop.Conversation").await.expect("registered");
    let record = Conversation {
        id: "conv-rs".into(),
        seq: -(1 << 35),
        parts: 7,
        state: State::Closed,
        queue: Some("q-1".into()),
        agent: Some(Agent { name: "bo".into(), skills: vec!["de".into()] }),
        attrs: BTreeMap::from([("a".into(), "1".into())]),
        raw: Raw(vec![0x41, 0x00, 0xe9]),
        score: 2.5,
        live: false,
    };
    let expected = json!({
        "id": "conv-rs", "seq": -(1_i64 << 35), "parts": 7, "state": "CLOSED", "queue": "q-1",
        "agent": {"name": "bo", "skills": ["de"]}, "attrs": {"a": "1"}, "raw": "A\u{0}é",
        "score": 2.5, "live": false
    });
    let mut ours = Vec::new();
    encoder
        .encode_value(&RecordValue::new(Arc::from("test.interop.Conversation"), record), "rust-topic", &mut ours)
        .expect("encoded");
    let hex: String = ours.iter().map(|b| format!("{b:02x}")).collect();

    let args = [registry.url(), hex, expected.to_string()];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = run_script(&python, &script("registry_client.py"), &args, &[], Duration::from_secs(120)).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "Python client failed ({}):\n{stdout}\n{stderr}", output.status);
    eprintln!("Python client output:\n{stdout}");
    assert!(stdout.contains("ok: incompatible registration rejected: HTTP 409, error code 409"), "{stdout}");
    assert!(stdout.contains("ok: AvroDeserializer decoded Tributary's bytes"), "{stdout}");

    // And our decoder reads what Confluent's serializer wrote.
    let line = |prefix: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{stdout}"))
            .to_owned()
    };
    let py_value: Vec<u8> = {
        let hex = line("PY_VALUE ");
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex from the script"))
            .collect()
    };
    let py_record: serde_json::Value = serde_json::from_str(&line("PY_RECORD ")).expect("json from the script");
    let decoded = Decoder::new(client).decode(&py_value).await.expect("our decoder reads Confluent's bytes");
    assert_eq!(decoded, py_record);

    registry.shutdown().await.expect("clean shutdown");
}
