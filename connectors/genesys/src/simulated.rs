//! `environment: simulator`: the connector asks the host for a simulated org instead of a real
//! one. The connector never starts a fake org itself — the binary that registers the connector
//! supplies [`SimulatedOrgs`] (see `GenesysCloud::with_simulator`), so a build without one has no
//! simulator in it at all.

use tributary_connector_api::async_trait;

/// Where a connector reaches its simulated org: the same facts a real org's config gives.
#[derive(Debug, Clone)]
pub struct SimulatedOrg {
    pub api_base_url: String,
    pub login_base_url: String,
    pub client_id: String,
    pub client_secret: String,
    /// Every queue of the org: followed when the config names none and discovers none.
    pub queue_ids: Vec<String>,
}

/// The host's simulated orgs, one per connector name.
#[async_trait]
pub trait SimulatedOrgs: Send + Sync {
    /// The simulated org of connector `connector`, started on first use with `config` (the
    /// connector's `simulator:` section). A restarted connector of the same name must find the
    /// same org again, so its ground truth stays comparable. Errors name what is wrong with the
    /// section or why the org could not start.
    async fn org(&self, connector: &str, config: Option<&serde_json::Value>) -> Result<SimulatedOrg, String>;
}
