//! Hides literal secrets in config shown by the API or logs.
//!
//! A placeholder such as `${env:GENESYS_SECRET}` is shown as written (it names where the secret
//! lives, not the secret); a literal value under a sensitive key is replaced by `[redacted]`.

use serde_json::Value;

use crate::api::Secret;

/// Whether a key's value is a secret: `client_secret`, `password`, `sasl.password`, `token`, ….
pub fn is_sensitive_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["secret", "password", "token", "credential", "api_key", "apikey", "private_key"]
        .iter()
        .any(|word| key.contains(word))
}

/// Redacts, in place, every literal string under a sensitive key at any depth.
pub fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                if is_sensitive_key(key) {
                    redact_all(item);
                } else {
                    redact(item);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

fn redact_all(value: &mut Value) {
    match value {
        Value::String(s) if is_placeholder(s) => {}
        Value::Null => {}
        Value::Object(map) => map.values_mut().for_each(redact_all),
        Value::Array(items) => items.iter_mut().for_each(redact_all),
        other => *other = Value::String(Secret::REDACTED.into()),
    }
}

fn is_placeholder(s: &str) -> bool {
    s.starts_with("${") && s.ends_with('}') && s.matches("${").count() == 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn literal_secrets_go_placeholders_stay() {
        let mut v = json!({
            "client_id": "abc",
            "client_secret": "hunter2",
            "producer": {"sasl.password": "pw", "linger.ms": 5},
            "auth": {"token": "${env:TOKEN}"},
        });
        redact(&mut v);
        assert_eq!(
            v,
            json!({
                "client_id": "abc",
                "client_secret": "[redacted]",
                "producer": {"sasl.password": "[redacted]", "linger.ms": 5},
                "auth": {"token": "${env:TOKEN}"},
            })
        );
    }
}
