//! The clients of one connector instance: which org it reaches (a real one by region or base
//! URLs, or the host's simulated one), with which credentials and route, and the REST and auth
//! clients built for it.

use tributary_connector_api::{Secret, TaskError};

use crate::config::{Environment, GenesysConfig};
use crate::simulated::SimulatedOrgs;
use crate::{api, auth, net, region, rest};

/// The REST and auth clients of one connector instance, the route they take, and the queues
/// named in its config.
pub(crate) struct Clients {
    pub api: api::GenesysApi,
    pub auth: auth::TokenSource,
    pub egress: net::Egress,
    pub explicit_queues: Vec<String>,
    pub api_base_url: String,
    pub login_base_url: String,
}

pub(crate) async fn clients(
    name: &str,
    config: &GenesysConfig,
    simulated: Option<&dyn SimulatedOrgs>,
) -> Result<Clients, TaskError> {
    clients_with(name, config, simulated, |_, _| {}).await
}

/// [`clients`], with the auth and REST settings adjusted by `tune` before the clients are built.
pub(crate) async fn clients_with(
    name: &str,
    config: &GenesysConfig,
    simulated: Option<&dyn SimulatedOrgs>,
    tune: impl FnOnce(&mut auth::AuthConfig, &mut rest::RestConfig),
) -> Result<Clients, TaskError> {
    let fatal = |e: String| TaskError::Fatal(e);
    let mut explicit_queues = config.queues.ids.clone();
    let (api_base, login_base, client_id, client_secret) = match config.environment {
        Environment::Cloud => {
            let (api_base, login_base) = match (&config.api_base_url, &config.login_base_url, &config.region) {
                (Some(a), Some(l), _) => (a.clone(), l.clone()),
                (a, l, Some(region)) => {
                    let hosts = region::hosts(region).map_err(|e| fatal(e.to_string()))?;
                    (a.clone().unwrap_or(hosts.api_base_url), l.clone().unwrap_or(hosts.login_base_url))
                }
                _ => return Err(fatal("set `region`, or both `api_base_url` and `login_base_url`".into())),
            };
            let id = config.client_id.clone().ok_or_else(|| fatal("`client_id` is required".into()))?;
            let secret = config.client_secret.clone().ok_or_else(|| fatal("`client_secret` is required".into()))?;
            (api_base, login_base, id, secret)
        }
        Environment::Simulator => {
            let orgs = simulated.ok_or_else(|| fatal("this build has no simulator".into()))?;
            let org = orgs.org(name, config.simulator.as_ref()).await.map_err(fatal)?;
            if explicit_queues.is_empty() && !config.queues.needs_discovery() {
                explicit_queues = org.queue_ids.clone();
            }
            (
                config.api_base_url.clone().unwrap_or(org.api_base_url),
                config.login_base_url.clone().unwrap_or(org.login_base_url),
                config.client_id.clone().unwrap_or(org.client_id),
                config.client_secret.clone().unwrap_or_else(|| Secret::new(org.client_secret)),
            )
        }
    };
    let egress = net::Egress::new(config.proxy.clone(), config.ca_file.as_deref()).map_err(|e| fatal(e.to_string()))?;
    tracing::info!(connector = name, egress = %egress.describe(), "route to Genesys");
    let timeout = config.rest.request_timeout.get();
    let mut auth_config = auth::AuthConfig::new(login_base.clone(), client_id, client_secret);
    auth_config.request_timeout = timeout;
    auth_config.egress = egress.clone();
    let mut rest_config = rest::RestConfig::new(api_base.clone(), name);
    rest_config.request_timeout = timeout;
    rest_config.retry_after_ceiling = config.rest.max_retry_after.get();
    rest_config.budget.requests_per_minute = config.rest.requests_per_minute;
    rest_config.budget.backfill_share = config.rest.backfill_share;
    rest_config.backoff.max_attempts = config.rest.max_attempts;
    rest_config.max_response_bytes = config.rest.max_response_bytes;
    rest_config.egress = egress.clone();
    tune(&mut auth_config, &mut rest_config);
    let auth = auth::TokenSource::new(auth_config).map_err(|e| fatal(e.to_string()))?;
    let rest = rest::RestClient::new(rest_config, auth.clone()).map_err(|e| fatal(e.to_string()))?;
    Ok(Clients {
        api: api::GenesysApi::new(rest),
        auth,
        egress,
        explicit_queues,
        api_base_url: api_base,
        login_base_url: login_base,
    })
}
