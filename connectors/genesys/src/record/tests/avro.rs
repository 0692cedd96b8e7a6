//! The struct and `schemas/genesys-conversation-event.avsc` describe the same record: encoded
//! through apache-avro's schema-aware serde writer (what the runtime does) and decoded back.

use apache_avro::Schema;
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::schema::RecordSchema;
use apache_avro::types::Value as Avro;
use apache_avro::writer::datum::GenericDatumWriter;
use serde::Serialize;

use super::samples::*;
use crate::record::tests::from_snapshot;
use crate::record::{BackfillApi, ConversationEvent, Media, Participant, SCHEMA_NAME, Wrapup, from_analytics};

const SCHEMA_TEXT: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas/genesys-conversation-event.avsc"));

fn schema() -> Schema {
    Schema::parse_str(SCHEMA_TEXT).unwrap_or_else(|e| panic!("schema does not parse: {e}"))
}

fn encode(schema: &Schema, event: &ConversationEvent) -> Vec<u8> {
    // The runtime's writer settings (src/avro/compiled.rs).
    let writer = GenericDatumWriter::builder(schema).human_readable(true).build().expect("writer");
    writer.write_ser_to_vec(event).unwrap_or_else(|e| panic!("encode: {e}"))
}

fn decode(schema: &Schema, bytes: &[u8]) -> Avro {
    let reader = GenericDatumReader::builder(schema).build().expect("reader");
    let mut input = bytes;
    let value = reader.read_value(&mut input).unwrap_or_else(|e| panic!("decode: {e}"));
    assert!(input.is_empty(), "{} bytes left over", input.len());
    value
}

fn samples() -> Vec<ConversationEvent> {
    let live = from_snapshot("acme", QUEUE, TOPIC, Some("ch-1"), &json(LIVE_FINAL), LIVE_FINAL, 42).expect("live");
    let open = from_snapshot("acme", QUEUE, TOPIC, None, &json(LIVE_CONNECTED), LIVE_CONNECTED, 43).expect("open");
    let row = from_analytics("acme", QUEUE, &json(ANALYTICS_ALERTING), BackfillApi::AnalyticsJobs, 44).expect("row");
    vec![live, open, row]
}

#[test]
fn schema_name_matches_the_file() {
    assert_eq!(schema().name().map(|n| n.fullname(None)).as_deref(), Some(SCHEMA_NAME));
}

/// The runtime registers the schema's serialized form; it must parse back to the same schema.
#[test]
fn registered_form_parses_back() {
    let schema = schema();
    let registered = serde_json::to_string(&schema).expect("serializes");
    let reparsed = Schema::parse_str(&registered).unwrap_or_else(|e| panic!("registered form: {e}"));
    assert_eq!(reparsed.canonical_form(), schema.canonical_form());
    assert!(registered.contains(r#""default":null"#), "defaults survive: {registered}");
}

#[test]
fn round_trip_through_the_schema() {
    let schema = schema();
    for event in samples() {
        let bytes = encode(&schema, &event);
        let value = decode(&schema, &bytes);
        let back: ConversationEvent = apache_avro::from_value(&value).unwrap_or_else(|e| panic!("from_value: {e}"));
        assert_eq!(back, event);
        let reader = GenericDatumReader::builder(&schema).build().expect("reader");
        let direct: ConversationEvent =
            reader.read_deser(&mut &bytes[..]).unwrap_or_else(|e| panic!("read_deser: {e}"));
        assert_eq!(direct, event);
    }
}

#[test]
fn enum_unions_and_logical_types_are_encoded_as_the_schema_says() {
    let schema = schema();
    let [live, open, row] = <[ConversationEvent; 3]>::try_from(samples()).expect("three samples");
    let field = |value: &Avro, name: &str| match value {
        Avro::Record(fields) => fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()),
        _ => None,
    };
    let decoded = decode(&schema, &encode(&schema, &live));
    assert_eq!(field(&decoded, "source"), Some(Avro::Enum(0, "LIVE".into())));
    assert_eq!(field(&decoded, "event_time_ms"), Some(Avro::TimestampMillis(WRAPUP_END_MS)));
    assert_eq!(field(&decoded, "conversation_end_ms"), Some(Avro::Union(1, Box::new(Avro::TimestampMillis(END_MS)))));
    assert_eq!(field(&decoded, "channel_id"), Some(Avro::Union(1, Box::new(Avro::String("ch-1".into())))));
    let decoded = decode(&schema, &encode(&schema, &open));
    assert_eq!(field(&decoded, "conversation_end_ms"), Some(Avro::Union(0, Box::new(Avro::Null))));
    let decoded = decode(&schema, &encode(&schema, &row));
    assert_eq!(field(&decoded, "source"), Some(Avro::Enum(1, "BACKFILL".into())));
}

/// apache-avro's writer accepts struct fields in any order and fills absent ones with their
/// defaults, so a round trip alone would not catch a field missing from the struct. Check names
/// and order against the schema, record by record.
#[test]
fn struct_fields_are_the_schema_fields_in_order() {
    let schema = schema();
    let Schema::Record(top) = &schema else { panic!("not a record") };
    let participant = nested(top, "participants");
    let wrapup = nested(participant, "wrapup");
    let media = nested(participant, "media");
    let event = from_snapshot("t", "q", "x", None, &serde_json::json!({"id": "c"}), "", 0).expect("maps");
    assert_order(top, &event);
    let p = Participant {
        id: String::new(),
        purpose: None,
        user_id: None,
        queue_id: None,
        name: None,
        connected_time_ms: None,
        end_time_ms: None,
        wrapup: None,
        media: Vec::new(),
    };
    assert_order(participant, &p);
    assert_order(wrapup, &Wrapup { code: String::new(), notes: None, duration_seconds: None, end_time_ms: None });
    let m = Media {
        media_type: String::new(),
        id: None,
        state: None,
        direction: None,
        disconnect_type: None,
        connected_time_ms: None,
        disconnected_time_ms: None,
    };
    assert_order(media, &m);
}

/// The record schema of field `name` (through arrays and nullable unions).
fn nested<'a>(record: &'a RecordSchema, name: &str) -> &'a RecordSchema {
    let field = record.fields.iter().find(|f| f.name == name).unwrap_or_else(|| panic!("no field {name}"));
    let mut schema = &field.schema;
    loop {
        schema = match schema {
            Schema::Array(array) => &array.items,
            Schema::Union(union) => union.variants().iter().find(|v| !matches!(v, Schema::Null)).expect("variant"),
            Schema::Record(record) => return record,
            other => panic!("field {name} is {other:?}"),
        };
    }
}

/// The top-level keys of `value` serialized as JSON (struct declaration order) equal the schema's.
fn assert_order(record: &RecordSchema, value: &impl Serialize) {
    let text = serde_json::to_string(value).expect("json");
    let mut keys = Vec::new();
    let mut depth = 0usize;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' | '[' => depth += 1,
            '}' | ']' => depth = depth.saturating_sub(1),
            '"' => {
                let start = i + 1;
                let mut end = start;
                for (j, d) in chars.by_ref() {
                    if d == '"' {
                        end = j;
                        break;
                    }
                }
                if depth == 1 && chars.peek().map(|&(_, c)| c) == Some(':') {
                    keys.push(text[start..end].to_owned());
                }
            }
            _ => {}
        }
    }
    let expected: Vec<&str> = record.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(keys, expected, "{}", record.name);
}
