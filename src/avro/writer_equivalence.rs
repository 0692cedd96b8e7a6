//! The value writer (serde_avro_fast) writes exactly the bytes of apache-avro's schema-aware
//! serde writer, for the schemas of `schemas/` and the records written with them.

use std::collections::BTreeMap;

use serde::Serialize;
use tributary_genesys::record::{ConversationEvent, Media, Participant, SCHEMA_NAME, Source, Wrapup};

use super::compiled::{CompiledWriter, FastWriter};
use super::schemas::Schemas;
use crate::datagen::{DatagenRecord, FillerPool, SCHEMA as DATAGEN};

fn schemas() -> Schemas {
    Schemas::load_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/schemas")).expect("schemas/ loads")
}

/// Both writers for one loaded schema, built from the same self-contained text.
struct Both {
    fast: FastWriter,
    apache: CompiledWriter,
}

impl Both {
    fn new(schemas: &Schemas, name: &str) -> Self {
        let loaded = schemas.get(name).expect("loaded");
        assert!(loaded.writes_fast(), "{name} is written by serde_avro_fast");
        let fast = FastWriter::new(loaded.canonical_json()).expect("serde_avro_fast parses it");
        let apache = CompiledWriter::new(loaded.schema().clone()).expect("apache-avro writer");
        Self { fast, apache }
    }

    /// Encodes with both; panics unless the bytes are equal. Returns them.
    fn same<T: Serialize>(&self, value: &T) -> Vec<u8> {
        let (mut fast, mut apache) = (vec![0xAA], vec![0xAA]);
        self.fast.write(&mut fast, value).expect("serde_avro_fast encodes");
        self.apache.write(&mut apache, value).expect("apache-avro encodes");
        assert_eq!(fast, apache, "serde_avro_fast and apache-avro disagree");
        // Through `erased_serde`, as the runtime hands bodies to the writer.
        let erased: Box<dyn erased_serde::Serialize> = Box::new(value);
        let mut through_erased = vec![0xAA];
        self.fast.write(&mut through_erased, &erased).expect("encodes erased");
        assert_eq!(through_erased, fast, "erasing the type changes nothing");
        fast.split_off(1)
    }
}

/// SplitMix64, for varied but reproducible records.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self) -> bool {
        self.next() & 1 == 0
    }

    /// Text of 0 to `max` characters, multi-byte ones included.
    fn text(&mut self, max: u64) -> String {
        const CHARS: [&str; 8] = ["a", "Z", "7", " ", "é", "語", "🙂", "\""];
        (0..self.below(max + 1)).map(|_| CHARS[self.below(CHARS.len() as u64) as usize]).collect()
    }

    fn maybe_text(&mut self, max: u64) -> Option<String> {
        self.chance().then(|| self.text(max))
    }

    /// Timestamps across the range: negative, small, current, extreme.
    fn millis(&mut self) -> i64 {
        match self.below(5) {
            0 => -(self.below(1 << 40) as i64),
            1 => self.below(64) as i64,
            2 => 1_700_000_000_000 + self.below(1 << 32) as i64,
            3 => i64::MAX - self.below(3) as i64,
            _ => i64::MIN + self.below(3) as i64,
        }
    }

    fn maybe_millis(&mut self) -> Option<i64> {
        self.chance().then(|| self.millis())
    }
}

fn media(rng: &mut Rng) -> Media {
    Media {
        media_type: ["call", "chat", "email", "message"][rng.below(4) as usize].into(),
        id: rng.maybe_text(40),
        state: rng.maybe_text(12),
        direction: rng.maybe_text(8),
        disconnect_type: rng.maybe_text(10),
        connected_time_ms: rng.maybe_millis(),
        disconnected_time_ms: rng.maybe_millis(),
    }
}

fn participant(rng: &mut Rng) -> Participant {
    let wrapup = rng.chance().then(|| Wrapup {
        code: rng.text(36),
        notes: rng.maybe_text(300),
        duration_seconds: rng.chance().then(|| match rng.below(3) {
            0 => i32::MIN,
            1 => i32::MAX,
            _ => rng.below(100_000) as i32 - 50_000,
        }),
        end_time_ms: rng.maybe_millis(),
    });
    let media = (0..rng.below(4)).map(|_| media(rng)).collect();
    Participant {
        id: rng.text(36),
        purpose: rng.maybe_text(10),
        user_id: rng.maybe_text(36),
        queue_id: rng.maybe_text(36),
        name: rng.maybe_text(30),
        connected_time_ms: rng.maybe_millis(),
        end_time_ms: rng.maybe_millis(),
        wrapup,
        media,
    }
}

fn conversation_event(rng: &mut Rng) -> ConversationEvent {
    let conversation_end_ms = rng.maybe_millis();
    // Up to 70 participants: an array block count above 63 takes two varint bytes.
    let participants = match rng.below(6) {
        0 => Vec::new(),
        1 => (0..64 + rng.below(7)).map(|_| participant(rng)).collect(),
        _ => (0..1 + rng.below(4)).map(|_| participant(rng)).collect(),
    };
    ConversationEvent {
        tenant: rng.text(20),
        queue_id: rng.text(36),
        conversation_id: rng.text(36),
        event_id: rng.text(69),
        source: if rng.chance() { Source::Live } else { Source::Backfill },
        topic_name: rng.text(60),
        channel_id: rng.maybe_text(40),
        event_time_ms: rng.millis(),
        receive_time_ms: rng.millis(),
        conversation_start_ms: rng.maybe_millis(),
        conversation_end_ms,
        ended: conversation_end_ms.is_some(),
        participants,
        event_body: rng.text(2000),
    }
}

#[test]
fn datagen_records_encode_identically() {
    let both = Both::new(&schemas(), DATAGEN);
    for (seed, bytes) in [(1, 500), (7, 60), (3, 0), (9, 5000)] {
        let pool = FillerPool::new(seed, bytes);
        let mut notes = [0; 2];
        for seq in 0..2_000 {
            let record = DatagenRecord::generate(seed, (seq % 3) as u32, seq, &pool);
            notes[usize::from(record.note.is_some())] += 1;
            both.same(&record);
        }
        assert!(notes[0] > 0 && notes[1] > 0, "both branches of the `note` union: {notes:?}");
    }
}

#[test]
fn datagen_bytes_are_the_expected_avro() {
    let both = Both::new(&schemas(), DATAGEN);
    let record = DatagenRecord::generate(1, 2, 3, &FillerPool::new(1, 70));
    let bytes = both.same(&record);
    // int 2 → 0x04, then long 3 → 0x06: zig-zag varints, in field order.
    assert_eq!(&bytes[..2], [0x04, 0x06]);
    assert!(bytes.ends_with(record.payload.as_str().as_bytes()));
}

#[test]
fn genesys_conversation_events_encode_identically() {
    let both = Both::new(&schemas(), SCHEMA_NAME);
    let mut rng = Rng(42);
    let (mut live, mut long_arrays, mut empty) = (0, 0, 0);
    for _ in 0..600 {
        let event = conversation_event(&mut rng);
        live += usize::from(event.source == Source::Live);
        long_arrays += usize::from(event.participants.len() > 63);
        empty += usize::from(event.participants.is_empty());
        both.same(&event);
    }
    assert!(live > 0 && live < 600 && long_arrays > 0 && empty > 0, "{live} {long_arrays} {empty}");
}

#[test]
fn genesys_enum_union_and_array_bytes_are_the_expected_avro() {
    let both = Both::new(&schemas(), SCHEMA_NAME);
    let event = ConversationEvent {
        tenant: "t".into(),
        queue_id: "q".into(),
        conversation_id: "c".into(),
        event_id: "e".into(),
        source: Source::Backfill,
        topic_name: "x".into(),
        channel_id: None,
        event_time_ms: -1,
        receive_time_ms: 1,
        conversation_start_ms: Some(2),
        conversation_end_ms: None,
        ended: false,
        participants: vec![Participant {
            id: "p".into(),
            purpose: None,
            user_id: None,
            queue_id: None,
            name: None,
            connected_time_ms: None,
            end_time_ms: None,
            wrapup: Some(Wrapup { code: "w".into(), notes: None, duration_seconds: Some(-2), end_time_ms: None }),
            media: Vec::new(),
        }],
        event_body: "{}".into(),
    };
    let bytes = both.same(&event);
    #[rustfmt::skip]
    let expected: &[u8] = &[
        2, b't', 2, b'q', 2, b'c', 2, b'e',
        0x02,             // enum Source: symbol 1, BACKFILL
        2, b'x',
        0x00,             // channel_id: union branch 0, null
        0x01, 0x02,       // event_time_ms -1, receive_time_ms 1
        0x02, 0x04,       // conversation_start_ms: branch 1, 2
        0x00,             // conversation_end_ms: null
        0x00,             // ended: false
        0x02,             // participants: a block of one
        2, b'p', 0, 0, 0, 0, 0, 0,
        0x02, 2, b'w', 0x00, 0x02, 0x03, 0x00, // wrapup: branch 1, code, notes null, duration -2, end null
        0x00,             // media: no block
        0x00,             // end of participants
        4, b'{', b'}',
    ];
    assert_eq!(bytes, expected);
}

/// Bytes serialized as bytes (what `serde_bytes` does); a plain `Vec<u8>` is a sequence, which
/// neither writer puts into `bytes`.
struct Blob(Vec<u8>);

impl Serialize for Blob {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

#[test]
fn maps_doubles_floats_bytes_and_renamed_enums_encode_identically() {
    const ALL: &str = r#"{"type": "record", "name": "All", "namespace": "test.eq", "fields": [
        {"name": "state", "type": {"type": "enum", "name": "State", "symbols": ["OPEN", "CLOSED"]}},
        {"name": "attrs", "type": {"type": "map", "values": ["null", "long"]}},
        {"name": "score", "type": "double"},
        {"name": "ratio", "type": "float"},
        {"name": "flag", "type": ["null", "boolean"], "default": null},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "micros", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "nested", "type": {"type": "array", "items": {"type": "array", "items": "string"}}},
        {"name": "blob", "type": "bytes"}
    ]}"#;
    #[derive(Serialize)]
    #[serde(rename_all = "UPPERCASE")]
    enum State {
        Open,
        Closed,
    }
    #[derive(Serialize)]
    struct All {
        state: State,
        attrs: BTreeMap<String, Option<i64>>,
        score: f64,
        ratio: f32,
        flag: Option<bool>,
        day: i32,
        micros: i64,
        nested: Vec<Vec<String>>,
        blob: Blob,
    }
    let schemas = Schemas::from_texts([("all.avsc", ALL)]).expect("loads");
    let both = Both::new(&schemas, "test.eq.All");
    let mut rng = Rng(7);
    for i in 0..300 {
        let attrs = (0..rng.below(70)).map(|k| (format!("k{k}"), rng.chance().then(|| rng.millis()))).collect();
        both.same(&All {
            state: if i % 2 == 0 { State::Open } else { State::Closed },
            attrs,
            score: f64::from_bits(rng.next()),
            ratio: rng.next() as f32 / 3.0,
            flag: [None, Some(true), Some(false)][i % 3],
            day: rng.next() as i32,
            micros: rng.millis(),
            nested: (0..rng.below(3)).map(|_| (0..rng.below(3)).map(|_| rng.text(5)).collect()).collect(),
            blob: Blob((0..rng.below(80)).map(|_| rng.next() as u8).collect()),
        });
    }
}

#[test]
fn what_apache_avro_refuses_is_refused_or_written_as_it_fits() {
    const SMALL: &str = r#"{"type": "record", "name": "Small", "namespace": "test.eq", "fields": [
        {"name": "n", "type": "int"}, {"name": "blob", "type": "bytes"}]}"#;
    #[derive(Serialize)]
    struct Exact {
        n: i32,
        blob: Blob,
    }
    #[derive(Serialize)]
    struct Wide {
        n: i64,
        blob: Blob,
    }
    #[derive(Serialize)]
    struct Sequence {
        n: i32,
        blob: Vec<u8>,
    }
    #[derive(Serialize)]
    struct Missing {
        n: i32,
    }
    let schemas = Schemas::from_texts([("small.avsc", SMALL)]).expect("loads");
    let both = Both::new(&schemas, "test.eq.Small");
    assert_eq!(both.same(&Exact { n: -1, blob: Blob(vec![9]) }), [0x01, 0x02, 9]);
    // (serde_avro_fast refuses, apache-avro refuses, what serde_avro_fast wrote)
    let outcome = |value: &dyn erased_serde::Serialize| {
        let (mut fast, mut apache) = (Vec::new(), Vec::new());
        (both.fast.write(&mut fast, value).is_err(), both.apache.write(&mut apache, value).is_err(), fast)
    };
    let overflow = outcome(&Wide { n: 1 << 40, blob: Blob(Vec::new()) });
    assert!(overflow.0 && overflow.1, "int overflow");
    assert!(outcome(&Sequence { n: 1, blob: vec![1] }).0, "a sequence is not bytes");
    assert!(outcome(&Sequence { n: 1, blob: vec![1] }).1, "a sequence is not bytes");
    assert!(outcome(&Missing { n: 1 }).0, "a field without default is missing");
    assert!(outcome(&Missing { n: 1 }).1, "a field without default is missing");
    // The one difference: apache-avro wants the Rust integer type of the Avro type, serde_avro_fast
    // any integer that fits, written as the Avro type.
    let (fast, apache, bytes) = outcome(&Wide { n: -1, blob: Blob(vec![9]) });
    assert_eq!((fast, apache, bytes), (false, true, vec![0x01, 0x02, 9]));
}
