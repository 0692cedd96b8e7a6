//! `environment: simulator`: a simulated org started in-process, once per connector name, so a
//! restarted connector finds the same org (and its ground truth) again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use genesys_cloud_sim::{SimConfig, SimHandle, Simulator};

/// Where a connector reaches its simulated org.
#[derive(Debug, Clone)]
pub struct SimulatedOrg {
    pub api_base_url: String,
    pub login_base_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub queue_ids: Vec<String>,
}

fn orgs() -> &'static Mutex<HashMap<String, Arc<SimHandle>>> {
    static ORGS: OnceLock<Mutex<HashMap<String, Arc<SimHandle>>>> = OnceLock::new();
    ORGS.get_or_init(Default::default)
}

/// The simulated org of connector `name`, started on first use with `config` (the connector's
/// `simulator:` section, the simulator's own YAML schema).
pub async fn org_for(name: &str, config: Option<&serde_json::Value>) -> Result<SimulatedOrg, String> {
    let existing = orgs().lock().unwrap_or_else(|e| e.into_inner()).get(name).cloned();
    let handle = match existing {
        Some(h) => h,
        None => {
            let sim_config: SimConfig = match config {
                Some(v) => {
                    serde_json::from_value(v.clone()).map_err(|e| format!("invalid `simulator` section: {e}"))?
                }
                None => SimConfig::default(),
            };
            let handle =
                Arc::new(Simulator::start(sim_config).await.map_err(|e| format!("cannot start the simulator: {e}"))?);
            tracing::warn!(
                connector = name,
                api = handle.api_base_url(),
                login = handle.login_base_url(),
                "simulated Genesys Cloud org started in-process (for development: it is not a real org)"
            );
            orgs().lock().unwrap_or_else(|e| e.into_inner()).entry(name.to_owned()).or_insert(handle).clone()
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

/// The running simulated org of connector `name`, if it uses one (for the truth and the verifier).
pub fn handle(name: &str) -> Option<Arc<SimHandle>> {
    orgs().lock().unwrap_or_else(|e| e.into_inner()).get(name).cloned()
}
