//! Deterministic event ids: the conversation id plus a digest of the body's canonical JSON.

use std::fmt::Write as _;
use std::io::{self, Write};

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Hex characters of the SHA-256 kept in an event id (128 bits).
const DIGEST_HEX_CHARS: usize = 32;

/// `<conversation_id>:<first 32 hex chars of SHA-256(canonical_json(body))>`.
///
/// The same body gives the same id whatever order its keys arrived in, so consumers can recompute
/// it and dedupe exactly.
pub fn event_id_for(conversation_id: &str, body: &Value) -> String {
    let mut hasher = Sha256::new();
    // Writing into a hasher cannot fail.
    let _ = write_canonical(&mut HashWriter(&mut hasher), body);
    let digest = hasher.finalize();
    let mut id = String::with_capacity(conversation_id.len() + 1 + DIGEST_HEX_CHARS);
    id.push_str(conversation_id);
    id.push(':');
    for byte in digest.iter().take(DIGEST_HEX_CHARS / 2) {
        let _ = write!(id, "{byte:02x}");
    }
    id
}

/// The canonical JSON text of `value`: object keys sorted by their UTF-8 bytes at every level, no
/// whitespace, strings escaped as `serde_json` does, numbers as they were parsed.
///
/// Independent of `serde_json`'s `preserve_order` feature, which another crate in the build
/// could switch on.
pub fn canonical_json(value: &Value) -> String {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = write_canonical(&mut out, value);
    String::from_utf8(out).unwrap_or_default()
}

fn write_canonical(out: &mut impl Write, value: &Value) -> io::Result<()> {
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => serde_json::to_writer(&mut *out, value)?,
        Value::String(text) => serde_json::to_writer(&mut *out, text)?,
        Value::Array(items) => {
            out.write_all(b"[")?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                write_canonical(out, item)?;
            }
            out.write_all(b"]")?;
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.write_all(b"{")?;
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                serde_json::to_writer(&mut *out, key)?;
                out.write_all(b":")?;
                write_canonical(out, item)?;
            }
            out.write_all(b"}")?;
        }
    }
    Ok(())
}

/// Feeds written bytes into a hasher, so the canonical text is never held in memory.
struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_text_sorts_keys_recursively_without_whitespace() {
        let body: Value =
            serde_json::from_str(r#"{ "b": [ {"z": 1, "a": "x\"y"} ], "a": null, "é": 1.5 }"#).expect("valid json");
        assert_eq!(canonical_json(&body), r#"{"a":null,"b":[{"a":"x\"y","z":1}],"é":1.5}"#);
    }

    #[test]
    fn id_ignores_key_order_and_whitespace() {
        let a: Value =
            serde_json::from_str(r#"{"id":"c1","participants":[{"id":"p","purpose":"agent"}]}"#).expect("valid json");
        let b: Value =
            serde_json::from_str("{ \"participants\" : [ { \"purpose\":\"agent\", \"id\":\"p\" } ],\n\"id\":\"c1\" }")
                .expect("valid json");
        let id = event_id_for("c1", &a);
        assert_eq!(id, event_id_for("c1", &b));
        let (conversation, digest) = id.split_once(':').expect("separator");
        assert_eq!(conversation, "c1");
        assert_eq!(digest.len(), 32);
        assert!(digest.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }

    #[test]
    fn id_is_the_sha256_prefix_of_the_canonical_text() {
        let body = json!({"b": 2, "a": 1});
        let full = format!("{:x}", Sha256::digest(canonical_json(&body).as_bytes()));
        assert_eq!(event_id_for("c", &body), format!("c:{}", &full[..32]));
    }

    #[test]
    fn any_content_change_changes_the_id() {
        let a = json!({"id": "c", "participants": [{"calls": [{"state": "connected"}]}]});
        let b = json!({"id": "c", "participants": [{"calls": [{"state": "disconnected"}]}]});
        assert_ne!(event_id_for("c", &a), event_id_for("c", &b));
    }
}
