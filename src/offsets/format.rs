//! Kafka Connect's offsets-topic record format.
//!
//! Key: the JSON array `["<connector name>", {<source partition>}]`. Value: the source offset as a
//! JSON object, or a null value (tombstone) to reset the partition. This is what Kafka Connect's
//! worker writes with its internal `JsonConverter` (`schemas.enable=false`), so Connect tooling
//! can read and write our topic.

use serde_json::Value;

use crate::api::{SourceOffset, SourcePartition};

/// A record of the offsets topic that is not in Kafka Connect's format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("offsets record is not in Kafka Connect's format: {0}")]
pub struct FormatError(String);

/// The key of `partition` for `connector`.
pub fn encode_key(connector: &str, partition: &SourcePartition) -> Vec<u8> {
    // The partition's canonical text is already JSON; only the name needs encoding.
    let name = Value::String(connector.to_owned()).to_string();
    format!("[{name},{}]", partition.canonical()).into_bytes()
}

pub fn encode_value(offset: &SourceOffset) -> Vec<u8> {
    offset.to_json().to_string().into_bytes()
}

/// Decodes one record: the connector, the partition, and the offset (`None` for a tombstone).
pub fn decode(
    key: &[u8],
    value: Option<&[u8]>,
) -> Result<(String, SourcePartition, Option<SourceOffset>), FormatError> {
    let key: Value = serde_json::from_slice(key).map_err(|e| FormatError(format!("key is not JSON: {e}")))?;
    let Value::Array(mut parts) = key else {
        return Err(FormatError("key is not a JSON array".into()));
    };
    if parts.len() != 2 {
        return Err(FormatError(format!("key has {} elements, not 2", parts.len())));
    }
    let partition = parts.pop().unwrap_or(Value::Null);
    let Some(Value::String(connector)) = parts.pop() else {
        return Err(FormatError("key's first element is not a connector name".into()));
    };
    let Value::Object(partition) = partition else {
        return Err(FormatError("key's second element is not an object".into()));
    };
    let partition = SourcePartition::new(partition).map_err(|e| FormatError(e.to_string()))?;
    let offset = match value {
        None => None,
        Some(bytes) => match serde_json::from_slice(bytes) {
            Ok(Value::Object(map)) => Some(SourceOffset::new(map).map_err(|e| FormatError(e.to_string()))?),
            Ok(Value::Null) => None,
            Ok(_) => return Err(FormatError("value is not a JSON object".into())),
            Err(e) => return Err(FormatError(format!("value is not JSON: {e}"))),
        },
    };
    Ok((connector, partition, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_in_connect_format() {
        let p = SourcePartition::single("queue_id", "q-1");
        let o = SourceOffset::single_i64("watermark_ms", 42);
        let key = encode_key("acme \"prod\"", &p);
        assert_eq!(String::from_utf8_lossy(&key), r#"["acme \"prod\"",{"queue_id":"q-1"}]"#);
        assert_eq!(String::from_utf8_lossy(&encode_value(&o)), r#"{"watermark_ms":42}"#);
        let (c, p2, o2) = decode(&key, Some(&encode_value(&o))).expect("decodes");
        assert_eq!((c.as_str(), p2, o2), ("acme \"prod\"", p, Some(o)));
    }

    #[test]
    fn tombstones_and_foreign_records() {
        let (_, _, o) = decode(br#"["c",{"a":1}]"#, None).expect("tombstone");
        assert_eq!(o, None);
        // A key written by Kafka Connect with spaces still decodes.
        assert!(decode(br#"[ "c" , { "file" : "x.txt" } ]"#, Some(br#"{"position": 30}"#)).is_ok());
        for bad in [&br#"{"a":1}"#[..], br#"["c"]"#, br#"[1,{}]"#, br#"["c",[1]]"#, b"nope"] {
            assert!(decode(bad, None).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert!(decode(br#"["c",{}]"#, Some(b"[1]")).is_err());
    }
}
