//! Config problems that name their key path, and human durations (`30s`, `5m`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One problem in a connector's config, at a key path relative to the connector's entry
/// (e.g. `queues.ids[2]`; empty for the entry itself). The runtime prefixes the entry's own path
/// and, where it can, the line in the YAML file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    pub path: String,
    pub message: String,
}

impl ConfigIssue {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), message: message.into() }
    }

    /// Turns a serde error (with its path) into an issue.
    pub fn from_serde(err: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let path = err.path().to_string();
        let path = if path == "." { String::new() } else { path };
        Self { path, message: err.into_inner().to_string() }
    }
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() { f.write_str(&self.message) } else { write!(f, "{}: {}", self.path, self.message) }
    }
}

/// A duration written as `500ms`, `30s`, `5m`, `1h 30m` in config files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    pub const fn from_secs(secs: u64) -> Self {
        Self(std::time::Duration::from_secs(secs))
    }
    pub const fn from_millis(ms: u64) -> Self {
        Self(std::time::Duration::from_millis(ms))
    }
    pub const fn get(self) -> std::time::Duration {
        self.0
    }
}

impl From<Duration> for std::time::Duration {
    fn from(d: Duration) -> Self {
        d.0
    }
}

/// Parses `30s`, `5m`, `250ms`, `1h 30m`. A bare number is refused: the unit must be explicit.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration; write e.g. `30s` or `5m`".into());
    }
    if text.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("duration `{text}` has no unit; write e.g. `{text}s` or `{text}ms`"));
    }
    humantime::parse_duration(text).map_err(|e| format!("invalid duration `{text}`: {e}; write e.g. `30s` or `5m`"))
}

impl FromStr for Duration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_duration(s).map(Duration)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // YAML reads `flush_interval: 5` as a number: say that the unit is missing rather than
        // that a string was expected.
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as `30s` or `5m`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Duration, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Duration, E> {
                Err(E::custom(format!("duration `{v}` has no unit; write e.g. `{v}s` or `{v}ms`")))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Duration, E> {
                Err(E::custom(format!("duration `{v}` has no unit; write e.g. `30s` or `5m`")))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Duration, E> {
                Err(E::custom(format!("duration `{v}` has no unit; write e.g. `{v}s`")))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_units() {
        assert_eq!(parse_duration("30s"), Ok(std::time::Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(std::time::Duration::from_secs(300)));
        assert_eq!(parse_duration("250ms"), Ok(std::time::Duration::from_millis(250)));
        assert!(parse_duration("30").unwrap_err().contains("no unit"));
        assert!(parse_duration("soon").unwrap_err().contains("invalid duration `soon`"));
    }

    #[test]
    fn a_bare_number_in_a_config_says_the_unit_is_missing() {
        let d: Duration = serde_json::from_value(serde_json::json!("1m 30s")).expect("text");
        assert_eq!(d.get(), std::time::Duration::from_secs(90));
        let err = serde_json::from_value::<Duration>(serde_json::json!(5)).expect_err("number");
        assert_eq!(err.to_string(), "duration `5` has no unit; write e.g. `5s` or `5ms`");
        let err = serde_json::from_value::<Duration>(serde_json::json!([1])).expect_err("list");
        assert!(err.to_string().contains("expected a duration such as `30s`"), "{err}");
    }
}
