//! Operations endpoints: `/health`, `/ready`, `/metrics`, `/reload`.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use crate::api::Health;
use crate::reload::ReloadError;
use crate::state::State as ConnectorState;
use crate::supervisor::Snapshot;
use crate::telemetry;

/// `GET /health`: 200 while the process can answer. Needs no token.
pub async fn health() -> Json<Value> {
    Json(json!({"status": "UP"}))
}

/// Why a connector is not ready, or `None` when it is.
///
/// Ready: PAUSED or STOPPED (an operator's choice), or RUNNING with its tasks started and every
/// task reporting [`Health::Healthy`]. Not ready: FAILED, UNASSIGNED (starting or waiting to
/// restart), still starting its tasks, or a task STARTING or DEGRADED.
fn not_ready(snapshot: &Snapshot) -> Option<String> {
    let name = &snapshot.entry.name;
    let state = snapshot.connector.state;
    match state {
        ConnectorState::Paused | ConnectorState::Stopped => None,
        ConnectorState::Failed | ConnectorState::Unassigned => Some(match &snapshot.connector.trace {
            Some(trace) => format!("connector `{name}` is {state}: {trace}"),
            None => format!("connector `{name}` is {state}"),
        }),
        ConnectorState::Running if !snapshot.tasks_started => Some(format!("connector `{name}` is starting its tasks")),
        ConnectorState::Running => {
            let reasons: Vec<String> = snapshot
                .tasks
                .iter()
                .enumerate()
                .filter_map(|(id, task)| match &task.health {
                    Health::Healthy => None,
                    Health::Starting => Some(format!("task {id} is starting")),
                    Health::Degraded(reason) => Some(format!("task {id} is degraded: {reason}")),
                })
                .collect();
            (!reasons.is_empty()).then(|| format!("connector `{name}`: {}", reasons.join("; ")))
        }
    }
}

/// `GET /ready`: 200 when every connector is ready (see [`not_ready`]), else 503 with the reasons.
pub async fn ready(State(state): State<AppState>) -> Response {
    let mut reasons = Vec::new();
    for name in state.supervisor.names() {
        if let Ok(snapshot) = state.supervisor.snapshot(&name)
            && let Some(reason) = not_ready(&snapshot)
        {
            reasons.push(snapshot.entry.scrubber().scrub(&reason));
        }
    }
    if reasons.is_empty() {
        (StatusCode::OK, Json(json!({"status": "READY"}))).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "NOT_READY", "reasons": reasons}))).into_response()
    }
}

/// `GET /metrics`: every metric of the process in Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let handle = telemetry::handle().ok_or_else(|| {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "another metrics recorder owns this process; /metrics is off")
    })?;
    state.supervisor.refresh_gauges();
    let text = handle.render();
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response())
}

/// `POST /reload`: re-reads the config file. 200 with what changed; 400 with every error when the
/// new file is invalid (nothing changed); 409 when a reload is already running or there is no file.
pub async fn reload(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    match state.reloader.try_reload().await {
        Ok(report) => Ok(Json(json!(report))),
        Err(ReloadError::Invalid(errors)) => {
            let details: Vec<Value> =
                errors.errors.iter().map(|e| json!({"path": e.path, "line": e.line, "message": e.message})).collect();
            Err(ApiError::bad_request(format!("the new config was rejected; nothing changed: {errors}"))
                .with_details(Value::Array(details)))
        }
        Err(e @ (ReloadError::InProgress | ReloadError::NoFile)) => Err(ApiError::conflict(e.to_string())),
    }
}
