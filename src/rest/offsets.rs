//! `/connectors/{name}/offsets`: reading and editing a connector's stored source offsets, in Kafka
//! Connect's shape (KIP-875): `{"offsets": [{"partition": {…}, "offset": {…}}]}`.
//!
//! Reading works in any state and answers what is committed in the offsets topic (a running
//! connector's acknowledged-but-uncommitted progress is in its status). Editing needs the
//! connector STOPPED, and keeps it STOPPED until the edit is written; the connector picks the new
//! offsets up when it is resumed or restarted.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::AppState;
use super::error::{ApiError, json_body};
use crate::api::{SourceOffset, SourcePartition};
use crate::offsets::{read_to_end, write_offsets};

/// Bound on reading the offsets topic and on Kafka acknowledging an edit.
const KAFKA_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OffsetsBody {
    offsets: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    partition: Map<String, Value>,
    /// `null` resets the partition.
    offset: Option<Map<String, Value>>,
}

/// The committed offsets of `name`, sorted by partition.
async fn committed(state: &AppState, name: &str) -> Result<Vec<(SourcePartition, SourceOffset)>, ApiError> {
    let env = state.supervisor.environment();
    let (consumer, topic) = (env.consumer.clone(), env.offsets_topic.clone());
    let stored = tokio::task::spawn_blocking(move || read_to_end(&consumer, &topic, KAFKA_TIMEOUT))
        .await
        .map_err(|e| ApiError::internal(format!("the offsets reader panicked: {e}")))?
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut entries: Vec<_> = stored.for_connector(name).into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(entries)
}

/// Writes `changes` (a `None` offset is a tombstone) through a short-lived producer.
async fn write(
    state: &AppState,
    name: &str,
    changes: &[(SourcePartition, Option<SourceOffset>)],
) -> Result<(), ApiError> {
    let env = state.supervisor.environment();
    let producer = crate::clients::client_config(&env.bootstrap_servers, &env.producer);
    write_offsets(&producer, &env.offsets_topic, name, changes, KAFKA_TIMEOUT)
        .await
        .map_err(|e| ApiError::internal(format!("offsets of connector `{name}` not changed: {e}")))
}

/// `GET /connectors/{name}/offsets`.
pub async fn get(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    super::connectors::here(&state, &name)?;
    state.supervisor.entry(&name)?;
    let offsets: Vec<Value> = committed(&state, &name)
        .await?
        .into_iter()
        .map(|(partition, offset)| json!({"partition": partition.as_map(), "offset": offset.to_json()}))
        .collect();
    Ok(Json(json!({ "offsets": offsets })))
}

/// `PATCH /connectors/{name}/offsets`: sets the partitions listed (others are left as they are);
/// `"offset": null` resets a partition. The connector must be STOPPED.
pub async fn patch(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: OffsetsBody = json_body(&body)?;
    if body.offsets.is_empty() {
        return Err(ApiError::bad_request("`offsets` must list at least one partition"));
    }
    let mut changes = Vec::with_capacity(body.offsets.len());
    for (i, entry) in body.offsets.into_iter().enumerate() {
        let partition =
            SourcePartition::new(entry.partition).map_err(|e| ApiError::bad_request(format!("offsets[{i}]: {e}")))?;
        let offset = entry
            .offset
            .map(SourceOffset::new)
            .transpose()
            .map_err(|e| ApiError::bad_request(format!("offsets[{i}]: {e}")))?;
        changes.push((partition, offset));
    }
    let _stopped = state.supervisor.lock_stopped(&name)?;
    write(&state, &name, &changes).await?;
    let (set, reset) = changes.iter().fold((0, 0), |(s, r), (_, o)| if o.is_some() { (s + 1, r) } else { (s, r + 1) });
    tracing::info!(connector = %name, set, reset, "offsets changed through the API");
    Ok(Json(json!({
        "message": format!(
            "offsets of connector `{name}` changed ({set} set, {reset} reset); they are used when it is resumed or restarted"
        ),
    })))
}

/// `DELETE /connectors/{name}/offsets`: resets every partition. The connector must be STOPPED.
pub async fn delete(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    let _stopped = state.supervisor.lock_stopped(&name)?;
    let changes: Vec<_> = committed(&state, &name).await?.into_iter().map(|(p, _)| (p, None)).collect();
    if !changes.is_empty() {
        write(&state, &name, &changes).await?;
    }
    tracing::info!(connector = %name, partitions = changes.len(), "offsets reset through the API");
    Ok(Json(json!({
        "message": format!(
            "offsets of connector `{name}` reset ({} partitions); it starts from scratch when it is resumed or restarted",
            changes.len()
        ),
    })))
}
