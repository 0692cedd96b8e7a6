//! The process's metrics recorder (Prometheus text exposition) and the runtime's own gauges.
//!
//! Every metric in the process goes through the `metrics` facade: the runtime's counters and
//! histograms, and whatever connectors record (a connector names its metrics with its own prefix,
//! e.g. `genesys_*`). [`install`] puts a Prometheus recorder behind the facade once per process;
//! `GET /metrics` renders it.
//!
//! Metric handles taken before [`install`] runs stay no-ops for good, so the runtime installs the
//! recorder first thing in `Runtime::start`.
//!
//! Every metric's name, kind, labels and meaning are in one table, the README's "Metrics"
//! (`tests/deploy.rs` keeps it complete against a real run's `/metrics`).

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::state::State;

/// Histogram buckets for every metric named `*_seconds`: 0.5 ms to 1 h. Other histograms are
/// rendered as summaries.
const SECONDS_BUCKETS: [f64; 19] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
    3600.0,
];

/// How often histograms are compacted, whether or not anyone scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder behind the `metrics` facade, once per process; later calls
/// return the same handle. Returns `None` when another recorder already owns the process (an
/// embedding application's, say): metrics then go there and `/metrics` says so.
pub fn install() -> Option<PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let builder = match PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS_BUCKETS)
            {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot configure the metrics recorder; /metrics is disabled");
                    return None;
                }
            };
            match builder.install_recorder() {
                Ok(handle) => {
                    describe();
                    let upkeep = handle.clone();
                    let spawned = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || {
                        loop {
                            std::thread::sleep(UPKEEP_INTERVAL);
                            upkeep.run_upkeep();
                        }
                    });
                    if let Err(e) = spawned {
                        tracing::warn!(error = %e, "cannot start metrics upkeep; histograms are compacted on scrape only");
                    }
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "another metrics recorder is installed; /metrics is disabled");
                    None
                }
            }
        })
        .clone()
}

/// The installed recorder's handle, if [`install`] succeeded.
pub fn handle() -> Option<PrometheusHandle> {
    RECORDER.get().cloned().flatten()
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!("tributary_records_produced_total", "Records handed to the producer");
    describe_counter!("tributary_bytes_produced_total", Unit::Bytes, "Encoded value bytes handed to the producer");
    describe_counter!("tributary_produce_errors_total", "Deliveries Kafka refused");
    describe_histogram!("tributary_ack_latency_seconds", Unit::Seconds, "From send to Kafka's acknowledgement");
    describe_counter!("tributary_offset_commits_total", "Successful offset commits");
    describe_counter!("tributary_offset_commit_failures_total", "Failed offset commits");
    describe_counter!("tributary_connector_restarts_total", "Automatic restarts after retriable failures");
    describe_counter!("tributary_connector_starts_total", "Runs started");
    describe_gauge!("tributary_connector_state", "1 for the connector's current state, 0 for the others");
    describe_gauge!("tributary_records_in_flight", "Records sent and not yet acknowledged");
    describe_gauge!("tributary_connector_tasks", "Tasks of the current run");
}

const STATES: [State; 5] = [State::Unassigned, State::Running, State::Paused, State::Stopped, State::Failed];

/// Publishes `state` as the connector's current state.
pub fn record_state(connector: &str, state: State) {
    for s in STATES {
        let value = if s == state { 1.0 } else { 0.0 };
        metrics::gauge!("tributary_connector_state", "connector" => connector.to_owned(), "state" => s.as_str())
            .set(value);
    }
}

/// Zeroes a removed connector's gauges (the recorder keeps series it has seen).
pub fn forget(connector: &str) {
    for s in STATES {
        metrics::gauge!("tributary_connector_state", "connector" => connector.to_owned(), "state" => s.as_str())
            .set(0.0);
    }
    record_run(connector, 0, 0);
}

/// Publishes the current run's tasks and records in flight.
pub fn record_run(connector: &str, tasks: usize, in_flight: usize) {
    metrics::gauge!("tributary_connector_tasks", "connector" => connector.to_owned()).set(tasks as f64);
    metrics::gauge!("tributary_records_in_flight", "connector" => connector.to_owned()).set(in_flight as f64);
}

/// Counts a run start (and makes the restart counter read 0 rather than absent until a restart).
pub fn record_start(connector: &str) {
    metrics::counter!("tributary_connector_starts_total", "connector" => connector.to_owned()).increment(1);
    metrics::counter!("tributary_connector_restarts_total", "connector" => connector.to_owned()).increment(0);
}
