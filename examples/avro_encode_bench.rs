//! Cost of `Encoder::encode_value` per record, and allocations per record.
//!
//! `cargo run --release --example avro_encode_bench [records]`
//!
//! Encodes a ~500-byte conversation-event record through the runtime's encoder (prepared against
//! an in-process embedded registry), reusing one output buffer as a producer loop would, and
//! compares it with apache-avro's `GenericDatumWriter::write_ser` into a fresh `Vec` per record.
//! Then the datagen record of `schemas/datagen.avsc` (~480 bytes), through the encoder
//! (serde_avro_fast; by `(topic, schema)` and through a `Prepared` pair as the pump does) and
//! through apache-avro's schema-aware writer, each into a reused buffer and behind `erased_serde`
//! as the runtime hands it over.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use apache_avro::Schema;
use apache_avro::writer::datum::GenericDatumWriter;
use serde::Serialize;
use tributary::api::RecordValue;
use tributary::avro::{Encoder, EncoderOptions, Schemas};
use tributary::schema_registry::{EmbeddedRegistry, RegistryClient, RegistryConfig};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const SCHEMA: &str = r#"{
  "type": "record", "name": "ConversationEvent", "namespace": "bench",
  "fields": [
    {"name": "event_id", "type": "string"},
    {"name": "conversation_id", "type": "string"},
    {"name": "queue_id", "type": "string"},
    {"name": "media_type", "type": "string"},
    {"name": "direction", "type": "string"},
    {"name": "state", "type": "string"},
    {"name": "event_time_ms", "type": "long"},
    {"name": "ingest_time_ms", "type": "long"},
    {"name": "participants", "type": "int"},
    {"name": "wrapup_code", "type": ["null", "string"], "default": null},
    {"name": "attributes", "type": {"type": "map", "values": "string"}},
    {"name": "payload", "type": "string"}
  ]
}"#;

#[derive(Serialize)]
struct ConversationEvent {
    event_id: String,
    conversation_id: String,
    queue_id: String,
    media_type: String,
    direction: String,
    state: String,
    event_time_ms: i64,
    ingest_time_ms: i64,
    participants: i32,
    wrapup_code: Option<String>,
    attributes: BTreeMap<String, String>,
    payload: String,
}

fn event() -> ConversationEvent {
    ConversationEvent {
        event_id: "3f2c1e9a-8d7b-4c6a-9e5f-1a2b3c4d5e6f:0a1b2c3d".into(),
        conversation_id: "3f2c1e9a-8d7b-4c6a-9e5f-1a2b3c4d5e6f".into(),
        queue_id: "7c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f".into(),
        media_type: "voice".into(),
        direction: "inbound".into(),
        state: "connected".into(),
        event_time_ms: 1_764_000_000_000,
        ingest_time_ms: 1_764_000_000_250,
        participants: 3,
        wrapup_code: Some("resolved".into()),
        attributes: BTreeMap::from([("region".into(), "eu-west".into()), ("tier".into(), "gold".into())]),
        payload: "x".repeat(300),
    }
}

fn main() {
    let records: u64 = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(500_000);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let registry =
        runtime.block_on(EmbeddedRegistry::start("127.0.0.1:0".parse().expect("addr"))).expect("embedded registry");
    let client = RegistryClient::new(RegistryConfig::new(registry.url())).expect("client");
    let schemas = Arc::new(Schemas::from_texts([("bench.avsc", SCHEMA)]).expect("schema"));
    let encoder = Encoder::new(client, schemas, EncoderOptions::default());
    runtime.block_on(encoder.prepare("bench", "bench.ConversationEvent")).expect("prepared");

    let value = RecordValue::new(Arc::from("bench.ConversationEvent"), event());
    let mut out = Vec::with_capacity(1024);
    encoder.encode_value(&value, "bench", &mut out).expect("encodes");
    let size = out.len();

    for _ in 0..3 {
        let allocations = ALLOCATIONS.load(Ordering::Relaxed);
        let started = Instant::now();
        for _ in 0..records {
            out.clear();
            encoder.encode_value(&value, "bench", &mut out).expect("encodes");
        }
        let elapsed = started.elapsed();
        let allocations = ALLOCATIONS.load(Ordering::Relaxed) - allocations;
        println!(
            "Encoder::encode_value        {:>7.0} ns/record  {:>5.2} allocations/record  ({size} bytes framed)",
            elapsed.as_nanos() as f64 / records as f64,
            allocations as f64 / records as f64,
        );
    }

    // The same path without type erasure (a body of a known type).
    let body = event();
    let allocations = ALLOCATIONS.load(Ordering::Relaxed);
    let started = Instant::now();
    for _ in 0..records {
        out.clear();
        encoder.encode("bench", "bench.ConversationEvent", &body, &mut out).expect("encodes");
    }
    let elapsed = started.elapsed();
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - allocations;
    println!(
        "Encoder::encode (typed body) {:>7.0} ns/record  {:>5.2} allocations/record",
        elapsed.as_nanos() as f64 / records as f64,
        allocations as f64 / records as f64,
    );

    let schema = Schema::parse_str(SCHEMA).expect("schema");
    let writer = GenericDatumWriter::builder(&schema).build().expect("writer");
    let allocations = ALLOCATIONS.load(Ordering::Relaxed);
    let started = Instant::now();
    for _ in 0..records {
        std::hint::black_box(writer.write_ser_to_vec(&body).expect("encodes"));
    }
    let elapsed = started.elapsed();
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - allocations;
    println!(
        "write_ser_to_vec (baseline)  {:>7.0} ns/record  {:>5.2} allocations/record",
        elapsed.as_nanos() as f64 / records as f64,
        allocations as f64 / records as f64,
    );

    // The datagen record, as the benchmark's pump encodes it: serde_avro_fast against apache-avro.
    let schemas = Arc::new(Schemas::load_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/schemas")).expect("schemas"));
    let datagen_schema = schemas.get(tributary::datagen::SCHEMA).expect("datagen schema").schema().clone();
    let encoder = Encoder::new(encoder_client(&registry), schemas, EncoderOptions::default());
    runtime.block_on(encoder.prepare("datagen", tributary::datagen::SCHEMA)).expect("prepared");
    let pool = tributary::datagen::FillerPool::new(1, 500);
    let values: Vec<RecordValue> = (0..1_000)
        .map(|seq| {
            let record = tributary::datagen::DatagenRecord::generate(1, 0, seq, &pool);
            RecordValue::new(Arc::from(tributary::datagen::SCHEMA), record)
        })
        .collect();
    let writer = GenericDatumWriter::builder(&datagen_schema).human_readable(true).build().expect("writer");
    let typed: Vec<_> = (0..1_000).map(|seq| tributary::datagen::DatagenRecord::generate(1, 0, seq, &pool)).collect();
    for _ in 0..3 {
        let started = Instant::now();
        for i in 0..records {
            out.clear();
            encoder.encode_value(&values[(i % 1_000) as usize], "datagen", &mut out).expect("encodes");
        }
        let fast = started.elapsed().as_nanos() as f64 / records as f64;
        let prepared = encoder.prepared("datagen", tributary::datagen::SCHEMA).expect("prepared");
        let started = Instant::now();
        for i in 0..records {
            out.clear();
            prepared.encode(&values[(i % 1_000) as usize].body, &mut out).expect("encodes");
        }
        let direct = started.elapsed().as_nanos() as f64 / records as f64;
        let started = Instant::now();
        for i in 0..records {
            out.clear();
            prepared.encode(&typed[(i % 1_000) as usize], &mut out).expect("encodes");
        }
        let unerased = started.elapsed().as_nanos() as f64 / records as f64;
        let started = Instant::now();
        for i in 0..records {
            out.clear();
            writer.write_ser(&mut out, &values[(i % 1_000) as usize].body).expect("encodes");
        }
        let apache = started.elapsed().as_nanos() as f64 / records as f64;
        println!(
            "datagen record: serde_avro_fast, framed: Encoder {fast:>4.0} ns/record, Prepared {direct:>4.0} \
             (typed body, no erased_serde: {unerased:>4.0}); apache-avro write_ser {apache:>4.0}"
        );
    }
    drop(registry);
}

fn encoder_client(registry: &tributary::schema_registry::EmbeddedRegistryHandle) -> RegistryClient {
    RegistryClient::new(RegistryConfig::new(registry.url())).expect("client")
}
