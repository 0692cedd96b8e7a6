//! `/connector-plugins`: the connector classes this process knows, and offline config validation.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use serde_json::{Map, Value, json};

use super::AppState;
use super::error::{ApiError, json_body};
use crate::config::{Properties, Scrubber, redact};

/// `GET /connector-plugins`: `[{class, type, version, description}]`. Plugins are compiled into
/// the binary, so their version is the runtime's.
pub async fn list(State(state): State<AppState>) -> Json<Value> {
    let plugins: Vec<Value> = state
        .plugins
        .iter()
        .map(|p| {
            json!({
                "class": p.class(),
                "type": "source",
                "version": env!("CARGO_PKG_VERSION"),
                "description": p.description(),
            })
        })
        .collect();
    Json(Value::Array(plugins))
}

/// Where errors about the entry as a whole (not about one key) are listed.
const ENTRY_KEY: &str = "(config)";

/// The top-level key an issue is about: the first segment of its path, or, for a path-less serde
/// error (`missing field `x``, `unknown field `x``), the field it names.
fn issue_key(path: &str, message: &str) -> String {
    let first = path.split(['.', '[']).next().unwrap_or_default();
    if !first.is_empty() {
        return first.to_owned();
    }
    for prefix in ["missing field `", "unknown field `"] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some(end) = rest.find('`')
        {
            return rest[..end].to_owned();
        }
    }
    ENTRY_KEY.to_owned()
}

/// A config value as Connect shows it: text.
fn shown_value(value: &Value) -> Value {
    match value {
        Value::Null => Value::Null,
        Value::String(s) => Value::String(s.clone()),
        other => Value::String(other.to_string()),
    }
}

/// `PUT /connector-plugins/{class}/config/validate`: checks a connector entry offline, as
/// `tributary validate` would, and answers Kafka Connect's `ConfigInfos`:
/// `{name, error_count, groups, configs: [{value: {name, value, recommended_values, errors, visible}}]}`.
///
/// The body is the entry as it would be written in the YAML file, as JSON (`name`, `class` and
/// `producer` are optional). Values under sensitive keys are shown redacted, and no error message
/// quotes them. Errors that belong to no single key are listed under `(config)`.
pub async fn validate(
    State(state): State<AppState>,
    Path(class): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let plugin =
        state.plugins.get(&class).ok_or_else(|| ApiError::not_found(format!("no connector plugin `{class}`")))?.clone();
    let body: Value = json_body(&body)?;
    let Value::Object(mut config) = body else {
        return Err(ApiError::bad_request("the body must be a JSON object: the connector's entry"));
    };
    let scrubber = Scrubber::for_value(&Value::Object(config.clone()));
    let mut shown = Value::Object(config.clone());
    redact(&mut shown);
    let shown = match shown {
        Value::Object(map) => map,
        _ => Map::new(),
    };

    let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for key in ["class", "connector.class"] {
        if let Some(given) = config.remove(key)
            && given.as_str() != Some(class.as_str())
        {
            errors.entry(key.to_owned()).or_default().push(format!("must be `{class}`, the plugin being validated"));
        }
    }
    if let Some(name) = config.remove("name")
        && name.as_str().is_none_or(str::is_empty)
    {
        errors.entry("name".into()).or_default().push("must be a non-empty string".into());
    }
    if let Some(producer) = config.remove("producer")
        && let Err(e) = serde_json::from_value::<Properties>(producer)
    {
        errors.entry("producer".into()).or_default().push(format!("must map librdkafka properties to values: {e}"));
    }
    if let Err(issues) = plugin.validate(&Value::Object(config)) {
        for issue in issues {
            let key = issue_key(&issue.path, &issue.message);
            errors.entry(key).or_default().push(issue.to_string());
        }
    }

    let mut names: Vec<&String> = shown.keys().chain(errors.keys()).collect();
    names.sort();
    names.dedup();
    let configs: Vec<Value> = names
        .into_iter()
        .map(|name| {
            let errs: Vec<String> =
                errors.get(name).map(|e| e.iter().map(|m| scrubber.scrub(m)).collect()).unwrap_or_default();
            json!({
                "value": {
                    "name": name,
                    "value": shown.get(name).map(shown_value).unwrap_or(Value::Null),
                    "recommended_values": [],
                    "errors": errs,
                    "visible": true,
                }
            })
        })
        .collect();
    let error_count: usize = errors.values().map(Vec::len).sum();
    Ok(Json(json!({
        "name": class,
        "error_count": error_count,
        "groups": [],
        "configs": configs,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_find_their_key() {
        assert_eq!(issue_key("rate", "must be positive"), "rate");
        assert_eq!(issue_key("queues.ids[2]", "bad"), "queues");
        assert_eq!(issue_key("auth[0]", "bad"), "auth");
        assert_eq!(issue_key("", "missing field `topic`"), "topic");
        assert_eq!(issue_key("", "unknown field `topik`, expected one of `topic`"), "topik");
        assert_eq!(issue_key("", "something else"), ENTRY_KEY);
    }
}
