//! The Genesys connector's REST layer (token source, REST client, API) pointed at a simulated org
//! with short backoffs and timeouts, so failures show quickly.

use std::time::Duration;

use genesys_cloud_sim::SimHandle;
use tributary_connector_api::Secret;
use tributary_genesys::api::GenesysApi;
use tributary_genesys::auth::{AuthConfig, TokenSource};
use tributary_genesys::rest::{Backoff, RestClient, RestConfig};

/// The longest any single REST-layer test may take (see [`crate::wait::bounded`]).
pub const TEST_LIMIT: Duration = Duration::from_secs(90);

/// Fast retries for tests: 50 ms doubling to 400 ms, 5 attempts.
pub fn rest_backoff() -> Backoff {
    Backoff { initial: Duration::from_millis(50), max: Duration::from_millis(400), max_attempts: 5 }
}

/// Login as the org's first client, with [`rest_backoff`] and a 5 s request timeout.
pub fn auth_config(sim: &SimHandle) -> AuthConfig {
    let creds = sim.credentials();
    let mut cfg = AuthConfig::new(sim.login_base_url(), creds.client_id, Secret::new(creds.client_secret));
    cfg.backoff = rest_backoff();
    cfg.request_timeout = Duration::from_secs(5);
    cfg
}

/// The org's API with [`rest_backoff`], a 5 s request timeout and a budget of 6000 requests a
/// minute (bursts of 100).
pub fn rest_config(sim: &SimHandle) -> RestConfig {
    let mut cfg = RestConfig::new(sim.api_base_url(), "test-tenant");
    cfg.backoff = rest_backoff();
    cfg.request_timeout = Duration::from_secs(5);
    cfg.budget.requests_per_minute = 6000;
    cfg.budget.burst = 100;
    cfg
}

/// A token source for `cfg`.
pub fn tokens(cfg: AuthConfig) -> TokenSource {
    TokenSource::new(cfg).expect("token source")
}

/// A client of the org's API with the given settings.
pub fn api_with(auth: AuthConfig, rest: RestConfig) -> GenesysApi {
    GenesysApi::new(RestClient::new(rest, tokens(auth)).expect("rest client"))
}

/// A client of the org's API with the test defaults.
pub fn api(sim: &SimHandle) -> GenesysApi {
    api_with(auth_config(sim), rest_config(sim))
}
