//! Offsets survive a restart: a restarted task is handed exactly what is in the offsets topic, and
//! datagen continues at the next seq, with no gap and (after a graceful stop) no duplicate.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::Message;
use tributary::avro::Decoder;
use tributary::runtime::Runtime;
use tributary::state::State;
use tributary_test_support::{datagen::*, registry::*, runtime::*, topics::*, wait::*};

const WAIT: Duration = Duration::from_secs(30);

fn yaml(topic: &str, extra: &str) -> String {
    format!(
        r#"
kafka:
  bootstrap_servers: embedded
  offsets: {{flush_interval: 300ms}}
schema_registry: {{url: embedded}}
api: {{enabled: false}}
connectors:
  - name: gen
    class: datagen
    topic: {topic}
    generators: 2
    record_bytes: 200
{extra}
"#
    )
}

/// Reads the topic until each generator has records `0..=last[g]`, and checks exactly those.
async fn assert_topic_holds(rt: &Runtime, topic: &str, last: &BTreeMap<String, i64>) {
    let total: i64 = last.values().map(|s| s + 1).sum();
    let messages =
        consume(&rt.bootstrap_servers, topic, None, move |m| m.len() as i64 >= total, Duration::from_millis(500), WAIT)
            .await;
    let decoder = Decoder::new(registry(&rt.registry_url));
    let values: Vec<_> = decode_all(&decoder, &messages).await.into_iter().map(|(_, v)| v).collect();
    let by_generator = seqs_by_generator(&values);
    for (g, last) in last {
        let g: i64 = g.parse().expect("generator number");
        let seqs = by_generator.get(&g).cloned().unwrap_or_default();
        let expected: Vec<i64> = (0..=*last).collect();
        assert_eq!(seqs.len(), expected.len(), "generator {g}: record count (duplicates or gaps)");
        assert_eq!(seqs, expected, "generator {g}: every seq exactly once");
    }
    assert!(messages.iter().all(|m| m.key().is_some()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_and_resumed_task_gets_the_stored_offsets_and_continues_without_gap() {
    let cfg = config(&yaml("restart.records", "    rate: 500"));
    let (plugins, spy) = spy_plugins();
    let rt = Runtime::start_with(&cfg, plugins, fast_backoff()).await.expect("runtime starts");

    let acks = wait_for(WAIT, "the first run's tasks", || async { spy.acks() }).await;
    wait_for(WAIT, "200 acknowledged records", || async { (acks.acknowledged_records() >= 200).then_some(()) }).await;
    assert!(spy.runs().iter().all(|r| r.stored.is_empty()), "a new connector starts with no offsets");

    rt.supervisor.stop("gen").await.expect("stop");
    rt.supervisor.wait_for("gen", WAIT, |s| s.state == State::Stopped).await.expect("stopped");
    let first = stored_offsets(&rt.bootstrap_servers, "tributary-offsets", "gen").await;
    assert_eq!(first.len(), 2, "one offset per generator: {first:?}");
    for g in 0..2 {
        // A graceful stop commits everything Kafka acknowledged.
        assert_eq!(first.get(&generator(g)), acks.acknowledged(&generator(g)).as_ref(), "generator {g}");
    }

    rt.supervisor.resume("gen").await.expect("resume");
    rt.supervisor.wait_for("gen", WAIT, |s| s.state == State::Running).await.expect("running again");
    let runs = wait_for(WAIT, "the second run's tasks", || async {
        let runs = spy.runs();
        (runs.len() == 4).then_some(runs)
    })
    .await;
    for run in &runs[2..] {
        assert_eq!(run.stored, first, "task {} of the second run gets exactly the stored offsets", run.task_id);
    }
    let acks2 = runs[3].acks.clone();
    wait_for(WAIT, "100 more acknowledged records", || async { (acks2.acknowledged_records() >= 100).then_some(()) })
        .await;
    rt.supervisor.stop("gen").await.expect("stop again");
    rt.supervisor.wait_for("gen", WAIT, |s| s.state == State::Stopped).await.expect("stopped again");

    let last = committed_seqs(&rt.bootstrap_servers, "gen").await;
    for (g, seq) in &last {
        let before = seq_of(first.get(&generator(g.parse().expect("number")))).expect("first seq");
        assert!(*seq > before, "generator {g} moved on: {before} → {seq}");
    }
    assert_topic_holds(&rt, "restart.records", &last).await;
    tokio::time::timeout(WAIT, rt.shutdown()).await.expect("shutdown in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaced_connector_resumes_a_finished_count_where_it_left_off() {
    let cfg = config(&yaml("recount.records", "    count: 300"));
    let (plugins, spy) = spy_plugins();
    let rt = Runtime::start_with(&cfg, plugins, fast_backoff()).await.expect("runtime starts");
    let done = BTreeMap::from([("0".to_owned(), 299), ("1".to_owned(), 299)]);
    wait_for(WAIT, "seq 299 committed for both generators", || async {
        (committed_seqs(&rt.bootstrap_servers, "gen").await == done).then_some(())
    })
    .await;
    rt.supervisor.remove("gen").await.expect("removed");

    // The same connector name with a larger count: a new instance in the same cluster.
    let bigger = config(&yaml("recount.records", "    count: 500"));
    rt.supervisor.start(bigger.connectors[0].clone());
    let runs = wait_for(WAIT, "the new instance's tasks", || async {
        let runs = spy.runs();
        (runs.len() == 4).then_some(runs)
    })
    .await;
    let stored = stored_offsets(&rt.bootstrap_servers, "tributary-offsets", "gen").await;
    for run in &runs[2..] {
        assert_eq!(run.stored, stored, "the new tasks get exactly the stored offsets");
    }
    let finished = BTreeMap::from([("0".to_owned(), 499), ("1".to_owned(), 499)]);
    wait_for(WAIT, "seq 499 committed for both generators", || async {
        (committed_seqs(&rt.bootstrap_servers, "gen").await == finished).then_some(())
    })
    .await;
    assert_topic_holds(&rt, "recount.records", &finished).await;
    tokio::time::timeout(WAIT, rt.shutdown()).await.expect("shutdown in time");
}
