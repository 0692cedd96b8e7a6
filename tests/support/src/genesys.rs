//! The Genesys Cloud connector pointed at a simulated org: its config for tests (fast keep-alive,
//! budgets in real time, backfill sized for seconds-long tests), the plugins holding it, and the
//! figures its status reports.

use std::collections::BTreeMap;

use genesys_cloud_sim::SimHandle;
use serde_json::{Value, json};
use tributary::plugins::Plugins;

/// The connector's name in tests.
pub const NAME: &str = "acme";
/// The topic it writes.
pub const TOPIC: &str = "genesys.conversations";

/// The connector's config for `sim`: fast keep-alive; a generous budget (budgets are real time,
/// the simulator's protocol is scaled); backfill sized for seconds-long tests, waiting at most
/// 30 s for a job.
pub fn connector_config(sim: &SimHandle) -> Value {
    let creds = sim.credentials();
    json!({
        "topic": TOPIC,
        "api_base_url": sim.api_base_url(),
        "login_base_url": sim.login_base_url(),
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
        "queues": {"ids": sim.queue_ids()},
        "keepalive": {
            "ping_interval": "200ms", "pong_timeout": "500ms", "watchdog": "2s",
            "verify_interval": "500ms", "connect_timeout": "3s"
        },
        "channels": {"backoff_initial": "100ms", "backoff_max": "1s"},
        "rest": {"requests_per_minute": 20000, "request_timeout": "5s"},
        "backfill": {"safety_margin": "2s", "settle": "1500ms", "max_wait": "30s", "page_size": 100}
    })
}

/// The runtime's connector entry for `sim`: [`connector_config`] named [`NAME`], of class
/// `genesys-cloud`, waiting at most 60 s for a backfill job.
pub fn connector_entry(sim: &SimHandle) -> Value {
    let mut entry = connector_config(sim);
    entry["name"] = json!(NAME);
    entry["class"] = json!("genesys-cloud");
    entry["backfill"]["max_wait"] = json!("60s");
    entry
}

/// Plugins holding the Genesys Cloud connector.
pub fn genesys_plugins() -> Plugins {
    let mut p = Plugins::new();
    p.register(tributary_genesys::GenesysCloud::new());
    p
}

/// Reconnect counts by cause, summed over the channels of a task's status detail.
pub fn reconnects(detail: &Value) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for c in detail["channels"].as_array().cloned().unwrap_or_default() {
        if let Some(map) = c["reconnects"].as_object() {
            for (k, v) in map {
                *out.entry(k.clone()).or_default() += v.as_u64().unwrap_or(0);
            }
        }
    }
    out
}
