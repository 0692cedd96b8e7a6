//! Reading the offsets topic to its end, in the cases a Kafka Connect cluster can leave behind:
//! the latest value per key wins, tombstones reset, foreign records are skipped, and a topic
//! written transactionally (Connect's exactly-once source support ends it with a commit marker,
//! which is an offset no consumer ever receives) still reads to its end at once.

use std::time::{Duration, Instant};

use rdkafka::producer::DefaultProducerContext;
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use tributary::api::{SourceOffset, SourcePartition};
use tributary::clients::client_config;
use tributary::kafka::EmbeddedKafka;
use tributary::offsets::{format, read_to_end};

fn producer(bootstrap: &str, transactional: bool) -> ThreadedProducer<DefaultProducerContext> {
    let mut config = client_config(bootstrap, &Default::default());
    config.set("enable.idempotence", "true");
    if transactional {
        config.set("transactional.id", "connect-offsets-writer");
    }
    config.create().expect("producer")
}

fn send(p: &ThreadedProducer<DefaultProducerContext>, connector: &str, partition: &SourcePartition, seq: Option<i64>) {
    let key = format::encode_key(connector, partition);
    let value = seq.map(|s| format::encode_value(&SourceOffset::single_i64("seq", s)));
    let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to("offsets").key(&key[..]);
    if let Some(v) = &value {
        record = record.payload(&v[..]);
    }
    p.send(record).map_err(|(e, _)| e).expect("queued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latest_values_win_and_a_transactional_topic_reads_to_its_end() {
    let kafka = tokio::task::spawn_blocking(|| EmbeddedKafka::start(1)).await.expect("join").expect("cluster");
    kafka.create_topic("offsets", 2).expect("topic");
    let bootstrap = kafka.bootstrap_servers().to_owned();
    let (a, b, c) = (
        SourcePartition::single("generator", "0"),
        SourcePartition::single("generator", "1"),
        SourcePartition::single("generator", "2"),
    );

    let written = {
        let (bootstrap, a, b, c) = (bootstrap.clone(), a.clone(), b.clone(), c.clone());
        tokio::task::spawn_blocking(move || {
            let plain = producer(&bootstrap, false);
            send(&plain, "gen", &a, Some(1));
            send(&plain, "gen", &a, Some(2));
            send(&plain, "gen", &b, Some(7));
            send(&plain, "other", &a, Some(100));
            let junk: BaseRecord<'_, [u8], [u8]> = BaseRecord::to("offsets").key(&b"not json"[..]).payload(&b"{}"[..]);
            plain.send(junk).map_err(|(e, _)| e).expect("queued");
            plain.flush(Duration::from_secs(10)).expect("flushed");

            // Then, as Connect with exactly-once source support: one transaction per commit.
            let tx = producer(&bootstrap, true);
            tx.init_transactions(Duration::from_secs(10)).expect("init");
            tx.begin_transaction().expect("begin");
            send(&tx, "gen", &b, None);
            send(&tx, "gen", &c, Some(3));
            tx.commit_transaction(Duration::from_secs(10)).expect("commit");
        })
    };
    written.await.expect("writer");

    let base = client_config(&bootstrap, &Default::default());
    let started = Instant::now();
    let stored = tokio::task::spawn_blocking(move || read_to_end(&base, "offsets", Duration::from_secs(20)))
        .await
        .expect("reader")
        .expect("reads to the end");
    assert!(started.elapsed() < Duration::from_secs(5), "read took {:?}", started.elapsed());
    let ours = stored.for_connector("gen");
    assert_eq!(ours.get(&a), Some(&SourceOffset::single_i64("seq", 2)), "the latest value wins");
    assert_eq!(ours.get(&b), None, "a tombstone resets");
    assert_eq!(ours.get(&c), Some(&SourceOffset::single_i64("seq", 3)), "the last transaction is read");
    assert_eq!(ours.len(), 2);
    assert_eq!(stored.for_connector("other").get(&a), Some(&SourceOffset::single_i64("seq", 100)));
    assert_eq!(stored.skipped, 1, "the foreign record is skipped");

    // A topic that does not exist reads as empty.
    let base = client_config(&bootstrap, &Default::default());
    let empty = tokio::task::spawn_blocking(move || read_to_end(&base, "nope", Duration::from_secs(10)))
        .await
        .expect("reader")
        .expect("reads");
    assert_eq!(empty.connectors().count(), 0);
    tokio::task::spawn_blocking(move || drop(kafka)).await.expect("cluster stops");
}
