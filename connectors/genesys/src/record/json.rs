//! Typed reads from `serde_json` objects that remember where they are, so every error names the
//! path of the offending value. `null` reads as absent, the way Genesys omits empty fields.

use serde_json::{Map, Value};

use super::error::MappingError;
use super::timestamp::parse_timestamp_ms;

/// Longest excerpt of a bad value quoted in an error.
const QUOTE_MAX: usize = 64;

/// A JSON object and its path from the root of the body (empty at the root).
pub(super) struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Obj<'a> {
    /// The root of a body; an error if it is not an object.
    pub fn root(value: &'a Value) -> Result<Self, MappingError> {
        match value {
            Value::Object(map) => Ok(Obj { map, path: String::new() }),
            _ => Err(MappingError::NotAnObject { path: "$".to_owned() }),
        }
    }

    pub fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() { key.to_owned() } else { format!("{}.{key}", self.path) }
    }

    /// The value of `key`, `None` when absent or null.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn opt_str(&self, key: &str) -> Result<Option<&'a str>, MappingError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(other) => Err(self.wrong_type(key, "a string", other)),
        }
    }

    pub fn opt_string(&self, key: &str) -> Result<Option<String>, MappingError> {
        Ok(self.opt_str(key)?.map(str::to_owned))
    }

    /// A string that must be present and non-empty.
    pub fn req_str(&self, key: &str) -> Result<&'a str, MappingError> {
        match self.opt_str(key)? {
            Some(text) if !text.is_empty() => Ok(text),
            _ => Err(MappingError::Missing { path: self.path_of(key) }),
        }
    }

    /// An ISO-8601 date-time as epoch ms.
    pub fn opt_time(&self, key: &str) -> Result<Option<i64>, MappingError> {
        let Some(text) = self.opt_str(key)? else { return Ok(None) };
        parse_timestamp_ms(text)
            .map(Some)
            .ok_or_else(|| MappingError::BadTimestamp { path: self.path_of(key), value: quote(text) })
    }

    pub fn opt_i64(&self, key: &str) -> Result<Option<i64>, MappingError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| MappingError::OutOfRange { path: self.path_of(key), value: n.to_string() }),
            Some(other) => Err(self.wrong_type(key, "an integer", other)),
        }
    }

    /// A nested object, `None` when absent.
    pub fn opt_obj(&self, key: &str) -> Result<Option<Obj<'a>>, MappingError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Obj { map, path: self.path_of(key) })),
            Some(other) => Err(self.wrong_type(key, "an object", other)),
        }
    }

    /// An array of objects, empty when absent. Elements are located as `key[i]`.
    pub fn objects(&self, key: &str) -> Result<Vec<Obj<'a>>, MappingError> {
        let items = match self.get(key) {
            None => return Ok(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(other) => return Err(self.wrong_type(key, "an array", other)),
        };
        let base = self.path_of(key);
        items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Object(map) => Ok(Obj { map, path: format!("{base}[{i}]") }),
                _ => Err(MappingError::NotAnObject { path: format!("{base}[{i}]") }),
            })
            .collect()
    }

    fn wrong_type(&self, key: &str, expected: &'static str, found: &Value) -> MappingError {
        MappingError::WrongType { path: self.path_of(key), expected, found: kind(found) }
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// At most [`QUOTE_MAX`] characters of `text`, so a huge bad value does not flood a log line.
fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTE_MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The largest of some optional timestamps.
pub(super) fn newest(times: impl IntoIterator<Item = Option<i64>>) -> Option<i64> {
    times.into_iter().flatten().max()
}

/// The smallest of some optional timestamps.
pub(super) fn earliest(times: impl IntoIterator<Item = Option<i64>>) -> Option<i64> {
    times.into_iter().flatten().min()
}
