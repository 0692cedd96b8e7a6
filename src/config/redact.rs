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

/// Secrets shorter than this are not scrubbed from text: they would mangle ordinary words, and a
/// secret that short protects nothing anyway.
const MIN_SCRUBBED_LEN: usize = 4;

/// Removes known secret values from free text (error messages, failure reasons) before it is
/// logged or shown. [`redact`] hides secrets where the config's structure says they are; this
/// catches the same values when they leak into text, e.g. a serde error quoting a bad value or a
/// connector's error message quoting its own credentials.
#[derive(Debug, Clone, Default)]
pub struct Scrubber {
    /// Longest first, so a secret containing another is replaced whole.
    secrets: Vec<String>,
}

impl Scrubber {
    /// A scrubber for every literal value under a sensitive key in `value`, at any depth
    /// (e.g. a connector entry after substitution, so resolved `${env:…}` secrets are included).
    pub fn for_value(value: &Value) -> Self {
        let mut scrubber = Self::default();
        scrubber.add_value(value);
        scrubber
    }

    /// Adds every literal under a sensitive key in `value`.
    pub fn add_value(&mut self, value: &Value) {
        collect_sensitive(value, false, &mut self.secrets);
        self.normalize();
    }

    /// Adds one secret.
    pub fn add(&mut self, secret: &str) {
        self.secrets.push(secret.to_owned());
        self.normalize();
    }

    fn normalize(&mut self) {
        self.secrets.retain(|s| s.chars().count() >= MIN_SCRUBBED_LEN);
        self.secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        self.secrets.dedup();
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// `text` with every known secret replaced by `[redacted]`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), Secret::REDACTED);
            }
        }
        out
    }
}

fn collect_sensitive(value: &Value, sensitive: bool, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                collect_sensitive(item, sensitive || is_sensitive_key(key), out);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_sensitive(item, sensitive, out)),
        Value::String(s) if sensitive && !is_placeholder(s) => out.push(s.clone()),
        Value::Number(n) if sensitive => out.push(n.to_string()),
        _ => {}
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

    #[test]
    fn scrubber_removes_known_secrets_from_text() {
        let config = json!({
            "client_id": "abc",
            "client_secret": "hunter2-long",
            "auth": {"password": 123456, "token": "${env:TOKEN}", "nested": {"secret_key": "ab"}},
        });
        let scrubber = Scrubber::for_value(&config);
        let text = "login failed for abc with hunter2-long (pin 123456) ${env:TOKEN} ab";
        assert_eq!(scrubber.scrub(text), "login failed for abc with [redacted] (pin [redacted]) ${env:TOKEN} ab");
        assert!(Scrubber::for_value(&json!({"name": "x"})).is_empty());
    }
}
