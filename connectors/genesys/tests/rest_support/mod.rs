//! Shared by the `rest_*` tests: a simulator on 127.0.0.1 and clients pointed at it, with short
//! backoffs and timeouts so failures show quickly. Every test body runs under [`bounded`].
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use genesys_cloud_sim::{ClientStats, SimConfig, SimHandle, Simulator};
use tributary_connector_api::Secret;
use tributary_genesys::api::GenesysApi;
use tributary_genesys::auth::{AuthConfig, TokenSource};
use tributary_genesys::rest::{Backoff, RestClient, RestConfig};

/// The longest any single test may take.
pub const TEST_LIMIT: Duration = Duration::from_secs(90);

/// Runs a test body with an upper bound on its duration.
pub async fn bounded<F: Future<Output = ()>>(body: F) {
    if tokio::time::timeout(TEST_LIMIT, body).await.is_err() {
        panic!("test did not finish within {TEST_LIMIT:?}");
    }
}

/// No background traffic, the given time scale.
pub fn quiet(time_scale: f64) -> SimConfig {
    let mut cfg = SimConfig { time_scale, ..SimConfig::default() };
    cfg.traffic.enabled = false;
    cfg
}

pub async fn start(cfg: SimConfig) -> SimHandle {
    match tokio::time::timeout(Duration::from_secs(10), Simulator::start(cfg)).await {
        Ok(Ok(sim)) => sim,
        Ok(Err(e)) => panic!("simulator failed to start: {e}"),
        Err(_) => panic!("simulator start timed out"),
    }
}

/// Fast retries for tests: 50 ms doubling to 400 ms, 5 attempts.
pub fn fast_backoff() -> Backoff {
    Backoff { initial: Duration::from_millis(50), max: Duration::from_millis(400), max_attempts: 5 }
}

pub fn auth_config(sim: &SimHandle) -> AuthConfig {
    let creds = sim.credentials();
    let mut cfg = AuthConfig::new(sim.login_base_url(), creds.client_id, Secret::new(creds.client_secret));
    cfg.backoff = fast_backoff();
    cfg.request_timeout = Duration::from_secs(5);
    cfg
}

pub fn rest_config(sim: &SimHandle) -> RestConfig {
    let mut cfg = RestConfig::new(sim.api_base_url(), "test-tenant");
    cfg.backoff = fast_backoff();
    cfg.request_timeout = Duration::from_secs(5);
    cfg.budget.requests_per_minute = 6000;
    cfg.budget.burst = 100;
    cfg
}

pub fn tokens(cfg: AuthConfig) -> TokenSource {
    TokenSource::new(cfg).expect("token source")
}

pub fn api_with(sim: &SimHandle, auth: AuthConfig, rest: RestConfig) -> GenesysApi {
    let _ = sim;
    GenesysApi::new(RestClient::new(rest, tokens(auth)).expect("rest client"))
}

/// A client with the test defaults.
pub fn api(sim: &SimHandle) -> GenesysApi {
    api_with(sim, auth_config(sim), rest_config(sim))
}

/// The simulator's accounting for the first client.
pub fn client_stats(sim: &SimHandle) -> ClientStats {
    let id = sim.credentials().client_id;
    sim.stats().clients.remove(&id).unwrap_or_default()
}

/// `v2.routing.queues.{id}.conversations`.
pub fn queue_topic(id: &str) -> String {
    format!("v2.routing.queues.{id}.conversations")
}

pub fn now_ms() -> i64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
