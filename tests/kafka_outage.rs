//! A broker outage on a real Apache Kafka broker: the broker process is stopped under load and
//! started again on the same data. While it is down the connector is held back (librdkafka's
//! queue is bounded, so records stop being generated instead of piling up in memory), nothing is
//! committed past what Kafka acknowledged, and once it is back every record arrives exactly once
//! (idempotent producer) and the offsets move on.

use std::time::{Duration, Instant};

use tributary::avro::Decoder;
use tributary::runtime::Runtime;
use tributary::state::State;
use tributary_test_support::{
    broker::{Broker, Listeners},
    datagen::*,
    registry::*,
    runtime::*,
    topics::*,
    wait::*,
};

const WAIT: Duration = Duration::from_secs(90);
/// librdkafka's queue bound for this test's producer.
const QUEUE: usize = 2000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_holds_the_connector_back_and_loses_nothing() {
    let broker = Broker::start(Listeners::Plain);
    let bootstrap = broker.bootstrap();
    let cfg = config(&format!(
        r#"
kafka:
  bootstrap_servers: {bootstrap}
  offsets: {{partitions: 2, flush_interval: 200ms}}
schema_registry: {{url: embedded}}
api: {{enabled: false}}
connectors:
  - name: outage
    class: datagen
    topic: outage.records
    generators: 2
    rate: 1000
    record_bytes: 200
    producer: {{queue.buffering.max.messages: {QUEUE}}}
"#
    ));
    let rt = Runtime::start_with(&cfg, datagen_plugins(), fast_backoff()).await.expect("runtime starts");
    rt.supervisor.wait_for("outage", WAIT, |s| s.state == State::Running).await.expect("running");
    wait_for(WAIT, "records acknowledged before the outage", || async {
        rt.supervisor.snapshot("outage").ok().filter(|s| s.records_acknowledged >= 1000).map(|_| ())
    })
    .await;

    let stopping = Instant::now();
    let stop = tokio::task::spawn_blocking(move || {
        broker.stop();
        broker
    });
    let broker = stop.await.expect("stop thread");
    eprintln!("broker stopped in {:.1} s", stopping.elapsed().as_secs_f64());
    // Down for five seconds: at 2,000 records/s that is far more than the queue holds.
    let mut most_in_flight = 0;
    let down = Instant::now();
    while down.elapsed() < Duration::from_secs(5) {
        if let Ok(s) = rt.supervisor.snapshot("outage") {
            most_in_flight = most_in_flight.max(s.records_in_flight);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        most_in_flight <= QUEUE + 1000,
        "back-pressure bounds what waits for the broker: {most_in_flight} records in flight (queue {QUEUE})"
    );
    let in_outage = rt.supervisor.snapshot("outage").expect("snapshot");
    assert_eq!(in_outage.connector.state, State::Running, "an outage is not a failure: {:?}", in_outage.connector);
    assert_eq!(in_outage.connector.restarts, 0, "nor a reason to restart");

    let restarting = Instant::now();
    let broker = tokio::task::spawn_blocking(move || {
        broker.restart();
        broker
    })
    .await
    .expect("restart thread");
    eprintln!("broker answered again {:.1} s after its restart began", restarting.elapsed().as_secs_f64());
    let acknowledged_at_restart = rt.supervisor.snapshot("outage").expect("snapshot").records_acknowledged;
    wait_for(WAIT, "records acknowledged after the outage", || async {
        rt.supervisor
            .snapshot("outage")
            .ok()
            .filter(|s| s.records_acknowledged >= acknowledged_at_restart + 2000)
            .map(|_| ())
    })
    .await;
    rt.supervisor.stop("outage").await.expect("stop");
    rt.supervisor.wait_for("outage", WAIT, |s| s.state == State::Stopped).await.expect("stopped");

    let last = committed_seqs(&broker.bootstrap(), "outage").await;
    assert_eq!(last.len(), 2, "{last:?}");
    let total: usize = last.values().map(|s| *s as usize + 1).sum();
    let messages =
        consume(&broker.bootstrap(), "outage.records", None, move |m| m.len() >= total, Duration::from_secs(1), WAIT)
            .await;
    let decoder = Decoder::new(registry(&rt.registry_url));
    let values: Vec<_> = decode_all(&decoder, &messages).await.into_iter().map(|(_, v)| v).collect();
    let seqs = seqs_by_generator(&values);
    for (g, last) in &last {
        let g: i64 = g.parse().expect("generator number");
        assert_eq!(seqs[&g], (0..=*last).collect::<Vec<_>>(), "generator {g}: every seq exactly once");
    }
    tokio::time::timeout(WAIT, rt.shutdown()).await.expect("shutdown in time");
}
