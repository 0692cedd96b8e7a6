//! `GET /cluster`, and how the other handlers speak of connectors that run on other replicas.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{ApiError, AppState};

/// `GET /cluster`.
pub async fn view(State(state): State<AppState>) -> Json<Value> {
    match &state.cluster {
        Some(cluster) => {
            let mut view = serde_json::to_value(cluster.get()).unwrap_or(Value::Null);
            if let Some(map) = view.as_object_mut() {
                map.insert("mode".into(), json!("cluster"));
            }
            Json(view)
        }
        None => Json(json!({"mode": "standalone"})),
    }
}

/// Every connector name this API answers for: the cluster's in cluster mode, else this
/// process's.
pub(super) fn names(state: &AppState) -> Vec<String> {
    match &state.cluster {
        Some(cluster) => cluster.get().connectors,
        None => state.supervisor.names(),
    }
}

/// The status of a connector of the cluster that does not run here: who runs it, if anyone.
pub(super) fn remote_status(state: &AppState, name: &str) -> Option<Value> {
    let view = state.cluster.as_ref()?.get();
    if !view.connectors.iter().any(|c| c == name) {
        return None;
    }
    let connector = match view.owners().get(name) {
        Some(owner) => json!({"state": "ASSIGNED", "worker_id": owner}),
        None => json!({"state": "UNASSIGNED", "worker_id": Value::Null}),
    };
    Some(json!({"name": name, "connector": connector, "tasks": [], "type": "source"}))
}

/// A command for a connector that runs on another replica: 421 naming that replica.
pub(super) fn elsewhere(state: &AppState, name: &str) -> Option<ApiError> {
    let view = state.cluster.as_ref()?.get();
    if !view.connectors.iter().any(|c| c == name) {
        return None;
    }
    let message = match view.owners().get(name) {
        Some(owner) => format!("connector `{name}` runs on replica `{owner}`; send the request there"),
        None => format!("connector `{name}` is not assigned to any replica right now; try again after the rebalance"),
    };
    Some(ApiError::new(StatusCode::MISDIRECTED_REQUEST, message))
}
