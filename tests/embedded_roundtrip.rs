//! Datagen → Avro → the embedded broker → consume → decode with the writer schema fetched by id.

use std::time::Duration;

use apache_avro::Schema;
use rdkafka::Message;
use tributary::avro::{Decoder, Schemas};
use tributary::datagen::{FillerPool, SCHEMA};
use tributary::runtime::Runtime;
use tributary::state::State;
use tributary_test_support::{datagen::*, registry::*, runtime::*, topics::*, workspace};

const SEED: u64 = 42;
const RECORD_BYTES: usize = 300;
const COUNT: i64 = 500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datagen_records_round_trip_through_kafka_and_the_registry() {
    let cfg = config(&format!(
        r#"
kafka:
  bootstrap_servers: embedded
  offsets: {{flush_interval: 300ms}}
schema_registry: {{url: embedded}}
api: {{enabled: false}}
connectors:
  - name: gen
    class: datagen
    topic: roundtrip.records
    count: {COUNT}
    generators: 2
    seed: {SEED}
    record_bytes: {RECORD_BYTES}
"#
    ));
    let rt = Runtime::start_with(&cfg, datagen_plugins(), fast_backoff()).await.expect("runtime starts");
    rt.supervisor.wait_for("gen", Duration::from_secs(20), |s| s.state == State::Running).await.expect("running");

    let messages = consume(
        &rt.bootstrap_servers,
        "roundtrip.records",
        None,
        |m| m.len() as i64 >= 2 * COUNT,
        Duration::from_millis(500),
        Duration::from_secs(60),
    )
    .await;

    // The writer schema is what the registry holds under the topic's subject, and it is the
    // schema of schemas/datagen.avsc.
    let client = registry(&rt.registry_url);
    registered_id(&rt.registry_url, "roundtrip.records-value").await;
    let latest = client.latest("roundtrip.records-value").await.expect("subject registered");
    let registered = Schema::parse_str(&client.schema_by_id(latest.id).await.expect("schema by id")).expect("parses");
    let schemas = Schemas::load_dir(workspace().join("schemas")).expect("repo schemas");
    let ours = schemas.get(SCHEMA).expect("datagen schema");
    assert_eq!(registered.canonical_form(), ours.schema().canonical_form());

    let decoder = Decoder::new(client);
    let decoded = decode_all(&decoder, &messages).await;
    let pool = FillerPool::new(SEED, RECORD_BYTES);
    for (message, (id, value)) in messages.iter().zip(&decoded) {
        assert_eq!(*id, latest.id, "every value names the registered writer schema");
        assert_eq!(&message.payload().expect("value")[..5], &[&[0u8][..], &latest.id.to_be_bytes()].concat()[..]);
        check_datagen_record(&pool, SEED, message.key(), value, message.timestamp().to_millis());
    }
    let values: Vec<_> = decoded.into_iter().map(|(_, v)| v).collect();
    assert_exactly(&seqs_by_generator(&values), 2, COUNT);
    let sizes: Vec<usize> = messages.iter().filter_map(|m| m.payload().map(<[u8]>::len)).collect();
    let average = sizes.iter().sum::<usize>() / sizes.len();
    assert!((RECORD_BYTES - 40..=RECORD_BYTES + 40).contains(&average), "average value size {average}");

    tokio::time::timeout(Duration::from_secs(60), rt.shutdown()).await.expect("shutdown in time");
}
