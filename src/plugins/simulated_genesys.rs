//! `environment: simulator` for the Genesys connector: a simulated org started in-process, once
//! per connector name, so a restarted connector finds the same org (and its ground truth) again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use genesys_cloud_sim::{SimConfig, SimHandle, Simulator};
use tributary_connector_api::async_trait;
use tributary_genesys::{SimulatedOrg, SimulatedOrgs};

/// The orgs of this process, by connector name; they live as long as the process.
pub(super) struct InProcessOrgs;

fn orgs() -> &'static Mutex<HashMap<String, Arc<SimHandle>>> {
    static ORGS: OnceLock<Mutex<HashMap<String, Arc<SimHandle>>>> = OnceLock::new();
    ORGS.get_or_init(Default::default)
}

#[async_trait]
impl SimulatedOrgs for InProcessOrgs {
    async fn org(&self, connector: &str, config: Option<&serde_json::Value>) -> Result<SimulatedOrg, String> {
        let existing = orgs().lock().unwrap_or_else(|e| e.into_inner()).get(connector).cloned();
        let handle = match existing {
            Some(h) => h,
            None => {
                let sim_config: SimConfig = match config {
                    Some(v) => {
                        serde_json::from_value(v.clone()).map_err(|e| format!("invalid `simulator` section: {e}"))?
                    }
                    None => SimConfig::default(),
                };
                let handle = Arc::new(
                    Simulator::start(sim_config).await.map_err(|e| format!("cannot start the simulator: {e}"))?,
                );
                tracing::warn!(
                    connector,
                    api = handle.api_base_url(),
                    login = handle.login_base_url(),
                    "simulated Genesys Cloud org started in-process (for development: it is not a real org)"
                );
                orgs().lock().unwrap_or_else(|e| e.into_inner()).entry(connector.to_owned()).or_insert(handle).clone()
            }
        };
        let creds = handle.credentials();
        Ok(SimulatedOrg {
            api_base_url: handle.api_base_url().to_owned(),
            login_base_url: handle.login_base_url().to_owned(),
            client_id: creds.client_id.clone(),
            client_secret: creds.client_secret.clone(),
            queue_ids: handle.queue_ids(),
        })
    }
}
