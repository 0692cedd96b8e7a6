//! `/connectors`: listing, info, status and state changes.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::error::ApiError;
use super::{AppState, cluster};
use crate::config::Scrubber;
use crate::state::State as ConnectorStateKind;
use crate::supervisor::Snapshot;

/// Query parameters given as `?a=1&a=2&b=3`, in order. Values are percent-decoded.
pub(super) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key), decode(value))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `GET /connectors`: the names; with `?expand=status` and/or `?expand=info`, a map of name →
/// `{"status": …, "info": …}` as Kafka Connect answers.
pub async fn list(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Json<Value>, ApiError> {
    let mut want_status = false;
    let mut want_info = false;
    for (key, value) in query_pairs(query.as_deref()) {
        if key != "expand" {
            continue;
        }
        match value.as_str() {
            "status" => want_status = true,
            "info" => want_info = true,
            other => return Err(ApiError::bad_request(format!("unknown expand `{other}` (known: status, info)"))),
        }
    }
    let names = cluster::names(&state);
    if !want_status && !want_info {
        return Ok(Json(json!(names)));
    }
    let mut out = Map::new();
    for name in names {
        // A connector removed between listing and reading is simply left out.
        let Ok(snapshot) = state.supervisor.snapshot(&name) else {
            if let Some(remote) = cluster::remote_status(&state, &name).filter(|_| want_status) {
                out.insert(name, json!({"status": remote}));
            }
            continue;
        };
        let mut item = Map::new();
        if want_status {
            item.insert("status".into(), status_json(&snapshot, &state.worker_id));
        }
        if want_info {
            item.insert("info".into(), info_json(&snapshot));
        }
        out.insert(name, Value::Object(item));
    }
    Ok(Json(Value::Object(out)))
}

/// In cluster mode, a connector that runs on another replica is answered for there (421).
pub(super) fn here(state: &AppState, name: &str) -> Result<(), ApiError> {
    if state.supervisor.entry(name).is_ok() {
        return Ok(());
    }
    cluster::elsewhere(state, name).map_or(Ok(()), Err)
}

/// Kafka Connect's connector info: `{name, config, tasks: [{connector, task}], type}`.
fn info_json(snapshot: &Snapshot) -> Value {
    let name = &snapshot.entry.name;
    let tasks: Vec<Value> = (0..snapshot.tasks.len()).map(|task| json!({"connector": name, "task": task})).collect();
    json!({
        "name": name,
        "config": snapshot.entry.shown,
        "tasks": tasks,
        "type": "source",
    })
}

/// A task's state in Connect's terms, from its connector's.
fn task_state(connector: ConnectorStateKind) -> &'static str {
    match connector {
        ConnectorStateKind::Running => "RUNNING",
        ConnectorStateKind::Paused => "PAUSED",
        _ => "UNASSIGNED",
    }
}

/// Replaces secrets in every string of `value`.
fn scrub_value(scrubber: &Scrubber, value: &mut Value) {
    match value {
        Value::String(s) => {
            let scrubbed = scrubber.scrub(s);
            if scrubbed != *s {
                *s = scrubbed;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| scrub_value(scrubber, v)),
        Value::Object(map) => map.values_mut().for_each(|v| scrub_value(scrubber, v)),
        _ => {}
    }
}

fn rfc3339(at: std::time::SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

/// Connect's status (`name`, `connector`, `tasks`, `type`) plus our own: the class, restarts,
/// each task's health and connector-specific detail, and the run's progress.
pub fn status_json(snapshot: &Snapshot, worker_id: &str) -> Value {
    let state = snapshot.connector.state;
    let mut connector = json!({"state": state.as_str(), "worker_id": worker_id});
    if let (Some(trace), Some(map)) = (&snapshot.connector.trace, connector.as_object_mut()) {
        map.insert("trace".into(), Value::String(trace.clone()));
    }
    let tasks: Vec<Value> = snapshot
        .tasks
        .iter()
        .enumerate()
        .map(|(id, task)| {
            json!({
                "id": id,
                "state": task_state(state),
                "worker_id": worker_id,
                "health": task.health,
                "detail": task.detail,
            })
        })
        .collect();
    let offsets: Vec<Value> = snapshot
        .partitions
        .iter()
        .map(|p| {
            json!({
                "partition": p.partition.as_map(),
                "acknowledged": p.acknowledged.as_ref().map(|o| o.to_json()),
                "committed": p.committed.as_ref().map(|o| o.to_json()),
                "pending": p.pending,
            })
        })
        .collect();
    let mut status = json!({
        "name": snapshot.entry.name,
        "connector": connector,
        "tasks": tasks,
        "type": "source",
        "class": snapshot.entry.class,
        "restarts": snapshot.connector.restarts,
        "runtime": {
            "runs": snapshot.runs,
            "running_since": snapshot.running_since.map(rfc3339),
            "records_in_flight": snapshot.records_in_flight,
            "records_acknowledged": snapshot.records_acknowledged,
            "offsets": offsets,
        },
    });
    // Task details and reasons come from connectors; they must not carry the entry's secrets.
    scrub_value(&snapshot.entry.scrubber(), &mut status);
    status
}

/// `GET /connectors/{name}`.
pub async fn info(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    here(&state, &name)?;
    Ok(Json(info_json(&state.supervisor.snapshot(&name)?)))
}

/// `GET /connectors/{name}/config`: the entry as written, secrets redacted.
pub async fn config(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    Ok(Json(state.supervisor.entry(&name)?.shown))
}

/// `GET /connectors/{name}/status`.
pub async fn status(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    match state.supervisor.snapshot(&name) {
        Ok(snapshot) => Ok(Json(status_json(&snapshot, &state.worker_id))),
        Err(missing) => cluster::remote_status(&state, &name).map(Json).ok_or_else(|| missing.into()),
    }
}

/// `GET /connectors/{name}/tasks/{task}/status`: one task's entry of the status.
pub async fn task_status(
    State(state): State<AppState>,
    Path((name, task)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let status = status_json(&state.supervisor.snapshot(&name)?, &state.worker_id);
    task.parse::<usize>()
        .ok()
        .and_then(|id| status["tasks"].get(id).cloned())
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("connector `{name}` has no running task `{task}`")))
}

/// `PUT /connectors/{name}/pause`: 202.
pub async fn pause(State(state): State<AppState>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    here(&state, &name)?;
    state.supervisor.pause(&name).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `PUT /connectors/{name}/resume`: 202. Starts a STOPPED or FAILED connector again.
pub async fn resume(State(state): State<AppState>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    here(&state, &name)?;
    state.supervisor.resume(&name).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `PUT /connectors/{name}/stop`: 202; the connector reaches STOPPED once its offsets are flushed.
pub async fn stop(State(state): State<AppState>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    here(&state, &name)?;
    state.supervisor.stop(&name).await?;
    Ok(StatusCode::ACCEPTED)
}

fn flag(pairs: &[(String, String)], key: &str) -> Result<bool, ApiError> {
    match pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str()) {
        None => Ok(false),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(ApiError::bad_request(format!("`{key}` must be true or false, not `{other}`"))),
    }
}

/// `POST /connectors/{name}/restart[?includeTasks=…&onlyFailed=…]`.
///
/// The instance restarts as a whole (its tasks always restart with it). Without flags: 204.
/// With either flag: 202 and the status; `onlyFailed=true` restarts only a FAILED connector.
pub async fn restart(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(query.as_deref());
    let include_tasks = flag(&pairs, "includeTasks")?;
    let only_failed = flag(&pairs, "onlyFailed")?;
    here(&state, &name)?;
    let current = state.supervisor.snapshot(&name)?;
    if !only_failed || current.connector.state == ConnectorStateKind::Failed {
        state.supervisor.restart(&name).await?;
    }
    if !include_tasks && !only_failed {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let snapshot = state.supervisor.snapshot(&name)?;
    Ok((StatusCode::ACCEPTED, Json(status_json(&snapshot, &state.worker_id))).into_response())
}

/// Creating, reconfiguring and deleting connectors: the config file owns them.
pub async fn defined_by_file() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "connectors are defined in the config file: edit it, then POST /reload (or send SIGHUP)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_repeat_and_decode() {
        assert_eq!(
            query_pairs(Some("expand=status&expand=info&x=a%20b+c&flag")),
            vec![
                ("expand".to_owned(), "status".to_owned()),
                ("expand".to_owned(), "info".to_owned()),
                ("x".to_owned(), "a b c".to_owned()),
                ("flag".to_owned(), String::new()),
            ]
        );
        assert_eq!(query_pairs(None), vec![]);
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz"), "%zz");
        assert_eq!(decode("%41"), "A");
    }
}
