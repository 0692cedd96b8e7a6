//! Starting the simulated Genesys Cloud org (`genesys-cloud-sim`) on 127.0.0.1 with a config made
//! for tests, and reading its accounting.

use std::sync::Arc;
use std::time::Duration;

use genesys_cloud_sim::{ClientStats, SimConfig, SimHandle, Simulator};

/// How long a simulator may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// An org with no automatic traffic at `time_scale`.
pub fn quiet(time_scale: f64) -> SimConfig {
    let mut cfg = SimConfig { time_scale, ..SimConfig::default() };
    cfg.traffic.enabled = false;
    cfg
}

/// An org at `time_scale` with `queues` queues, `arrivals_per_minute` (protocol time), quick
/// analytics and data lake, and no random faults.
pub fn sim_config(time_scale: f64, queues: usize, arrivals_per_minute: f64, seed: u64) -> SimConfig {
    let mut cfg = SimConfig { time_scale, seed, ..SimConfig::default() };
    cfg.queues.count = queues;
    cfg.traffic.arrivals_per_minute = arrivals_per_minute;
    cfg.analytics.data_lake_lag = Duration::from_secs(300);
    cfg
}

/// Starts an org; panics if it fails or takes more than 10 s.
pub async fn start(cfg: SimConfig) -> SimHandle {
    match tokio::time::timeout(START_TIMEOUT, Simulator::start(cfg)).await {
        Ok(Ok(sim)) => sim,
        Ok(Err(e)) => panic!("simulator failed to start: {e}"),
        Err(_) => panic!("simulator start timed out"),
    }
}

/// [`start`], shared between the test and what it drives.
pub async fn start_sim(cfg: SimConfig) -> Arc<SimHandle> {
    Arc::new(start(cfg).await)
}

/// The simulator's accounting for its first client.
pub fn client_stats(sim: &SimHandle) -> ClientStats {
    let id = sim.credentials().client_id;
    sim.stats().clients.remove(&id).unwrap_or_default()
}

/// Requests the org answered, over all its clients.
pub fn requests(sim: &SimHandle) -> u64 {
    sim.stats().clients.values().map(|c| c.requests).sum()
}

/// The notification topic of a queue: `v2.routing.queues.{id}.conversations`.
pub fn queue_topic(id: &str) -> String {
    format!("v2.routing.queues.{id}.conversations")
}
