//! Encoder and decoder against the embedded registry on 127.0.0.1.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use super::*;
use crate::api::RecordValue;
use crate::schema_registry::{EmbeddedRegistry, EmbeddedRegistryHandle, RegistryClient, RegistryConfig, RetryPolicy};

const EVENT: &str = r#"{
  "type": "record", "name": "Event", "namespace": "test.avro",
  "fields": [
    {"name": "id", "type": "string"},
    {"name": "seq", "type": "long"},
    {"name": "state", "type": {"type": "enum", "name": "State", "symbols": ["OPEN", "CLOSED"]}},
    {"name": "queue", "type": ["null", "string"], "default": null},
    {"name": "attrs", "type": {"type": "map", "values": "string"}},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "score", "type": "double"}
  ]
}"#;

const TINY: &str = r#"{"type":"record","name":"Tiny","namespace":"test.avro","fields":[
  {"name":"id","type":"string"},{"name":"n","type":"int"}]}"#;

#[derive(Serialize)]
#[serde(rename_all = "UPPERCASE")]
enum State {
    #[allow(dead_code)]
    Open,
    Closed,
}

#[derive(Serialize)]
struct Event {
    id: String,
    seq: i64,
    state: State,
    queue: Option<String>,
    attrs: BTreeMap<String, String>,
    tags: Vec<String>,
    score: f64,
}

#[derive(Serialize)]
struct Tiny {
    id: &'static str,
    n: i32,
}

fn sample() -> Event {
    Event {
        id: "conv-1".into(),
        seq: 1 << 40,
        state: State::Closed,
        queue: Some("q-7".into()),
        attrs: BTreeMap::from([("k".into(), "v".into())]),
        tags: vec!["a".into(), "b".into()],
        score: 0.5,
    }
}

struct Setup {
    _registry: EmbeddedRegistryHandle,
    client: RegistryClient,
    schemas: Arc<Schemas>,
}

async fn setup() -> Setup {
    let registry = EmbeddedRegistry::start("127.0.0.1:0".parse().expect("addr")).await.expect("registry starts");
    let mut config = RegistryConfig::new(registry.url());
    config.request_timeout = Duration::from_secs(5);
    config.retry = RetryPolicy::none();
    let client = RegistryClient::new(config).expect("client");
    let schemas = Schemas::from_texts([("event.avsc", EVENT), ("tiny.avsc", TINY)]).expect("schemas");
    Setup { _registry: registry, client, schemas: Arc::new(schemas) }
}

#[tokio::test]
async fn encode_then_decode_round_trips() {
    let s = setup().await;
    let encoder = Encoder::new(s.client.clone(), s.schemas.clone(), EncoderOptions::default());
    let id = encoder.prepare("events", "test.avro.Event").await.expect("prepared");
    let value = RecordValue::new(Arc::from("test.avro.Event"), sample());
    let mut out = Vec::new();
    encoder.encode_value(&value, "events", &mut out).expect("encoded");
    assert_eq!(out[0], 0);
    assert_eq!(u32::from_be_bytes([out[1], out[2], out[3], out[4]]), id);

    let decoder = Decoder::new(s.client.clone());
    let (seen_id, decoded) = decoder.decode_with_id(&out).await.expect("decoded");
    assert_eq!(seen_id, id);
    assert_eq!(
        decoded,
        json!({"id": "conv-1", "seq": 1_099_511_627_776_i64, "state": "CLOSED", "queue": "q-7",
               "attrs": {"k": "v"}, "tags": ["a", "b"], "score": 0.5})
    );
    // Registered under TopicNameStrategy's subject.
    assert_eq!(s.client.subjects().await.expect("subjects"), ["events-value"]);
}

#[tokio::test]
async fn encoding_is_the_exact_confluent_bytes_and_appends() {
    let s = setup().await;
    let encoder = Encoder::new(s.client.clone(), s.schemas.clone(), EncoderOptions::default());
    encoder.prepare("other", "test.avro.Event").await.expect("takes id 1");
    let id = encoder.prepare("tiny", "test.avro.Tiny").await.expect("prepared");
    assert_eq!(id, 2);
    let mut out = vec![0xEE];
    encoder.encode("tiny", "test.avro.Tiny", &Tiny { id: "a", n: -1 }, &mut out).expect("encoded");
    // zig-zag: string length 1 → 0x02, "a", int -1 → 0x01
    assert_eq!(out, [0xEE, 0x00, 0, 0, 0, 2, 0x02, b'a', 0x01]);
}

#[tokio::test]
async fn unprepared_and_unknown_schemas_are_errors_naming_topic_and_schema() {
    let s = setup().await;
    let encoder = Encoder::new(s.client.clone(), s.schemas.clone(), EncoderOptions::default());
    let mut out = Vec::new();
    let err = encoder.encode("t1", "test.avro.Tiny", &Tiny { id: "a", n: 1 }, &mut out).expect_err("unprepared");
    assert_eq!(err.to_string(), "schema `test.avro.Tiny` was not prepared for topic `t1`: call Encoder::prepare first");
    let err = encoder.prepare("t1", "test.avro.Nope").await.expect_err("unknown");
    assert_eq!(err.to_string(), "schema `test.avro.Nope` (topic `t1`) is not among the loaded schemas");
    assert!(out.is_empty());
}

#[tokio::test]
async fn a_mismatching_body_leaves_the_buffer_untouched() {
    let s = setup().await;
    let encoder = Encoder::new(s.client.clone(), s.schemas.clone(), EncoderOptions::default());
    encoder.prepare("t", "test.avro.Tiny").await.expect("prepared");
    let mut out = vec![1, 2, 3];
    let err = encoder.encode("t", "test.avro.Tiny", &json!({"id": 5}), &mut out).expect_err("wrong shape");
    assert!(err.to_string().starts_with("record for topic `t` does not match schema `test.avro.Tiny`: "), "{err}");
    assert_eq!(out, [1, 2, 3]);
}

#[tokio::test]
async fn lazy_encoding_prepares_on_first_use() {
    let s = setup().await;
    let encoder = Encoder::new(s.client.clone(), s.schemas.clone(), EncoderOptions::default());
    let value = RecordValue::new(Arc::from("test.avro.Tiny"), Tiny { id: "x", n: 3 });
    let mut out = Vec::new();
    encoder.encode_value_lazily(&value, "lazy", &mut out).await.expect("encoded");
    assert_eq!(encoder.schema_id("lazy", "test.avro.Tiny"), Some(1));
    let decoded = Decoder::new(s.client.clone()).decode(&out).await.expect("decoded");
    assert_eq!(decoded, json!({"id": "x", "n": 3}));
}

#[tokio::test]
async fn record_name_strategy_and_lookup_only_mode() {
    let s = setup().await;
    let lookup_only = EncoderOptions { subject_strategy: SubjectNameStrategy::RecordName, auto_register: false };
    let encoder = Encoder::new(s.client.clone(), s.schemas.clone(), lookup_only);
    let err = encoder.prepare("t", "test.avro.Tiny").await.expect_err("nothing registered");
    assert_eq!(
        err.to_string(),
        "schema `test.avro.Tiny` is not registered under subject `test.avro.Tiny` (topic `t`) and auto-registration is off"
    );
    let text = s.schemas.get("test.avro.Tiny").expect("loaded").canonical_json();
    let id = s.client.register("test.avro.Tiny", text).await.expect("registered by someone else");
    assert_eq!(encoder.prepare("t", "test.avro.Tiny").await.expect("found"), id);
    let registering = EncoderOptions { subject_strategy: SubjectNameStrategy::TopicRecordName, auto_register: true };
    Encoder::new(s.client.clone(), s.schemas.clone(), registering).prepare("t", "test.avro.Tiny").await.expect("ok");
    assert_eq!(s.client.subjects().await.expect("subjects"), ["t-test.avro.Tiny", "test.avro.Tiny"]);
}

#[tokio::test]
async fn decoder_reports_framing_and_unknown_ids() {
    let s = setup().await;
    let decoder = Decoder::new(s.client.clone());
    let err = decoder.decode(&[1, 0, 0, 0, 1]).await.expect_err("bad magic");
    assert!(matches!(err, AvroError::Framing { .. }), "{err}");
    let err = decoder.decode(&[0, 0, 0, 0, 42, 0]).await.expect_err("unknown id");
    assert_eq!(
        err.to_string(),
        "cannot fetch the writer schema with id 42: schema id 42 not found in the schema registry"
    );
}

#[tokio::test]
async fn registry_failure_during_prepare_names_subject_and_is_not_cached() {
    let s = setup().await;
    let old = r#"{"type":"record","name":"Tiny","namespace":"test.avro","fields":[{"name":"id","type":"string"}]}"#;
    // An earlier, incompatible-by-default history under the subject: Tiny adds `n` without default.
    s.client.register("t-value", old).await.expect("old version");
    let encoder = Encoder::new(s.client.clone(), s.schemas.clone(), EncoderOptions::default());
    let err = encoder.prepare("t", "test.avro.Tiny").await.expect_err("incompatible");
    let text = err.to_string();
    assert!(
        text.starts_with("cannot register schema `test.avro.Tiny` under subject `t-value` (topic `t`): "),
        "{text}"
    );
    assert!(encoder.schema_id("t", "test.avro.Tiny").is_none());
    s.client.set_compatibility(Some("t-value"), crate::schema_registry::CompatibilityLevel::None).await.expect("set");
    assert!(encoder.prepare("t", "test.avro.Tiny").await.is_ok());
}

#[test]
fn encoder_decoder_and_schemas_can_be_shared_across_tasks() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<Encoder>();
    shareable::<Decoder>();
    shareable::<Schemas>();
    shareable::<RegistryClient>();
}

#[tokio::test]
async fn a_prepared_pair_encodes_as_the_encoder_does() {
    let s = setup().await;
    let encoder = Encoder::new(s.client.clone(), s.schemas.clone(), EncoderOptions::default());
    assert!(encoder.prepared("t", "test.avro.Tiny").is_none(), "not prepared yet");
    let id = encoder.prepare("t", "test.avro.Tiny").await.expect("prepared");
    let prepared = encoder.prepared("t", "test.avro.Tiny").expect("now prepared");
    assert_eq!((prepared.topic(), prepared.schema(), prepared.id()), ("t", "test.avro.Tiny", id));
    let (mut direct, mut through) = (vec![7], vec![7]);
    encoder.encode("t", "test.avro.Tiny", &Tiny { id: "z", n: 300 }, &mut direct).expect("encoded");
    prepared.encode(&Tiny { id: "z", n: 300 }, &mut through).expect("encoded");
    assert_eq!(direct, through);
    let err = prepared.encode(&json!({"id": 5}), &mut through).expect_err("wrong shape");
    assert!(err.to_string().starts_with("record for topic `t` does not match schema `test.avro.Tiny`: "), "{err}");
    assert_eq!(direct, through, "left as it was");
}
