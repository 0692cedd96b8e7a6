//! Records, source partitions and source offsets.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value};

/// A source partition or offset contained something other than a flat object of primitives.
///
/// Kafka Connect requires both to be `Map<String, primitive>`; we keep the same rule so that
/// Connect tooling can read and write our offsets topic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} field `{field}` must be a string, number, boolean or null, not {kind}")]
pub struct OffsetFormatError {
    what: &'static str,
    field: String,
    kind: &'static str,
}

fn check_primitives(what: &'static str, map: &Map<String, Value>) -> Result<(), OffsetFormatError> {
    for (field, value) in map {
        let kind = match value {
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
            _ => continue,
        };
        return Err(OffsetFormatError { what, field: field.clone(), kind });
    }
    Ok(())
}

/// Names the stream within a connector that an offset belongs to, e.g. `{"queue_id": "q1"}`.
///
/// Cheap to clone. Equality and hashing use the canonical JSON text (keys sorted), which is also
/// the form written into the offsets topic key.
#[derive(Clone)]
pub struct SourcePartition(Arc<PartitionInner>);

struct PartitionInner {
    map: Map<String, Value>,
    canonical: String,
}

impl SourcePartition {
    /// Builds a partition from a flat JSON object of primitives.
    pub fn new(map: Map<String, Value>) -> Result<Self, OffsetFormatError> {
        check_primitives("source partition", &map)?;
        // serde_json's `Map` is a BTreeMap here (no `preserve_order`), so this text is canonical.
        let canonical = Value::Object(map.clone()).to_string();
        Ok(Self(Arc::new(PartitionInner { map, canonical })))
    }

    /// A partition with one string field, the common case.
    pub fn single(field: &str, value: impl Into<String>) -> Self {
        let mut map = Map::new();
        map.insert(field.to_owned(), Value::String(value.into()));
        let canonical = Value::Object(map.clone()).to_string();
        Self(Arc::new(PartitionInner { map, canonical }))
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0.map
    }

    /// The canonical JSON text, e.g. `{"queue_id":"q1"}`.
    pub fn canonical(&self) -> &str {
        &self.0.canonical
    }

    /// The string value of `field`, if present.
    pub fn get_str(&self, field: &str) -> Option<&str> {
        self.0.map.get(field).and_then(Value::as_str)
    }
}

impl PartialEq for SourcePartition {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.canonical == other.0.canonical
    }
}
impl Eq for SourcePartition {}

impl Hash for SourcePartition {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.canonical.hash(state);
    }
}

impl PartialOrd for SourcePartition {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for SourcePartition {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.canonical.cmp(&other.0.canonical)
    }
}

impl fmt::Debug for SourcePartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.canonical)
    }
}

impl fmt::Display for SourcePartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.canonical)
    }
}

/// A position within a source partition, e.g. `{"watermark_ms": 1700000000000}`.
///
/// What a position means is the connector's business; the runtime stores the latest committed one
/// per partition and hands it back at start-up.
///
/// Cheap to clone. Equality compares the fields, whichever way the offset was built. An offset is
/// created for every record and held until Kafka acknowledges it, so the common one-field offset
/// is kept small: its map is only built if [`as_map`](Self::as_map) asks for it.
#[derive(Clone)]
pub struct SourceOffset(Arc<OffsetInner>);

enum OffsetInner {
    Single { field: FieldName, value: Value, map: OnceLock<Map<String, Value>> },
    Map(Map<String, Value>),
}

/// The field name of a one-field offset: inline when it is short, as field names usually are, so
/// that making an offset for every record allocates only the offset itself.
#[derive(PartialEq, Eq)]
enum FieldName {
    Inline { len: u8, bytes: [u8; FieldName::INLINE] },
    Heap(Box<str>),
}

impl FieldName {
    const INLINE: usize = 22;

    fn new(name: &str) -> Self {
        // A name has one form (inline exactly when it fits), so the derived equality holds.
        if name.len() <= Self::INLINE {
            let mut bytes = [0; Self::INLINE];
            bytes[..name.len()].copy_from_slice(name.as_bytes());
            Self::Inline { len: name.len() as u8, bytes }
        } else {
            Self::Heap(name.into())
        }
    }

    fn as_str(&self) -> &str {
        match self {
            // Copied whole from a `str`, so always UTF-8.
            Self::Inline { len, bytes } => std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default(),
            Self::Heap(name) => name,
        }
    }
}

impl SourceOffset {
    pub fn new(map: Map<String, Value>) -> Result<Self, OffsetFormatError> {
        check_primitives("source offset", &map)?;
        if map.len() == 1
            && let Some((field, value)) = map.iter().next()
        {
            let (field, value) = (FieldName::new(field), value.clone());
            return Ok(Self(Arc::new(OffsetInner::Single { field, value, map: OnceLock::from(map) })));
        }
        Ok(Self(Arc::new(OffsetInner::Map(map))))
    }

    /// An offset with one integer field, the common case.
    pub fn single_i64(field: &str, value: i64) -> Self {
        Self(Arc::new(OffsetInner::Single {
            field: FieldName::new(field),
            value: Value::from(value),
            map: OnceLock::new(),
        }))
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        match &*self.0 {
            OffsetInner::Single { field, value, map } => map.get_or_init(|| {
                let mut map = Map::new();
                map.insert(field.as_str().to_owned(), value.clone());
                map
            }),
            OffsetInner::Map(map) => map,
        }
    }

    pub fn get_i64(&self, field: &str) -> Option<i64> {
        match &*self.0 {
            OffsetInner::Single { field: f, value, .. } => (f.as_str() == field).then(|| value.as_i64()).flatten(),
            OffsetInner::Map(map) => map.get(field).and_then(Value::as_i64),
        }
    }

    pub fn to_json(&self) -> Value {
        Value::Object(self.as_map().clone())
    }
}

impl PartialEq for SourceOffset {
    fn eq(&self, other: &Self) -> bool {
        match (&*self.0, &*other.0) {
            (OffsetInner::Single { field: a, value: x, .. }, OffsetInner::Single { field: b, value: y, .. }) => {
                a == b && x == y
            }
            _ => Arc::ptr_eq(&self.0, &other.0) || self.as_map() == other.as_map(),
        }
    }
}

impl fmt::Debug for SourceOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_json())
    }
}

/// A record value: a serializable body and the full name of the Avro schema (from `schemas/`)
/// it is encoded with. The runtime encodes it with a writer built once per schema.
pub struct RecordValue {
    pub schema: Arc<str>,
    pub body: Box<dyn erased_serde::Serialize + Send + Sync>,
}

impl RecordValue {
    pub fn new<T>(schema: Arc<str>, body: T) -> Self
    where
        T: serde::Serialize + Send + Sync + 'static,
    {
        Self { schema, body: Box::new(body) }
    }
}

impl fmt::Debug for RecordValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordValue").field("schema", &self.schema).finish_non_exhaustive()
    }
}

/// One record for Kafka.
#[derive(Debug)]
pub struct SourceRecord {
    /// The stream the record belongs to.
    pub partition: SourcePartition,
    /// The partition's position once this record (and every earlier one of the partition) is in
    /// Kafka.
    pub offset: SourceOffset,
    pub topic: Arc<str>,
    /// The Kafka key, written as raw bytes (UTF-8 text by convention, as Kafka Connect's
    /// `StringConverter` does). Records with the same key land in the same Kafka partition, in order.
    pub key: Option<Vec<u8>>,
    pub value: RecordValue,
    /// Event time in milliseconds since the Unix epoch; the broker's time when absent.
    pub timestamp_ms: Option<i64>,
    pub headers: Vec<(String, Vec<u8>)>,
}

/// What a task hands to the runtime.
#[derive(Debug)]
pub enum Emit {
    /// A record to produce; its offset is committed once it and everything before it is acknowledged.
    Record(SourceRecord),
    /// An offset with no record: committed once every record emitted before it for the same
    /// partition is acknowledged.
    Offset { partition: SourcePartition, offset: SourceOffset },
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn partition_text_is_canonical_and_drives_equality() {
        let a = SourcePartition::new(json!({"b": 1, "a": "x"}).as_object().cloned().unwrap_or_default())
            .expect("primitives");
        let b = SourcePartition::new(json!({"a": "x", "b": 1}).as_object().cloned().unwrap_or_default())
            .expect("primitives");
        assert_eq!(a.canonical(), r#"{"a":"x","b":1}"#);
        assert_eq!(a, b);
    }

    #[test]
    fn nested_values_are_rejected_with_the_field_name() {
        let map = json!({"queue": {"id": 1}}).as_object().cloned().unwrap_or_default();
        let err = SourcePartition::new(map).expect_err("nested object");
        assert_eq!(
            err.to_string(),
            "source partition field `queue` must be a string, number, boolean or null, not an object"
        );
        let map = json!({"ids": [1]}).as_object().cloned().unwrap_or_default();
        assert!(SourceOffset::new(map).is_err());
    }

    #[test]
    fn offsets_compare_by_content_however_they_were_built() {
        let single = SourceOffset::single_i64("seq", 7);
        let read = SourceOffset::new(json!({"seq": 7}).as_object().cloned().unwrap_or_default()).expect("flat");
        assert_eq!(single, read);
        assert_eq!(read, single);
        assert_ne!(single, SourceOffset::single_i64("seq", 8));
        assert_ne!(single, SourceOffset::single_i64("pos", 7));
        let two =
            SourceOffset::new(json!({"seq": 7, "epoch": 1}).as_object().cloned().unwrap_or_default()).expect("flat");
        assert_ne!(single, two);
        assert_eq!(two, two.clone());
        assert_eq!(single.as_map(), read.as_map());
        assert_eq!(single.to_json(), json!({"seq": 7}));
        assert_eq!(format!("{single:?}"), r#"{"seq":7}"#);
        assert_eq!((single.get_i64("seq"), single.get_i64("pos")), (Some(7), None));
        assert_eq!((two.get_i64("epoch"), two.get_i64("nope")), (Some(1), None));
    }

    #[test]
    fn long_and_short_field_names_behave_alike() {
        for name in ["", "seq", "watermark_ms", &"é".repeat(11), &"x".repeat(22), &"x".repeat(23), &"y".repeat(300)] {
            let single = SourceOffset::single_i64(name, -3);
            let read = SourceOffset::new(json!({ name: -3 }).as_object().cloned().unwrap_or_default()).expect("flat");
            assert_eq!(single, read, "{name}");
            assert_eq!(single.get_i64(name), Some(-3), "{name}");
            assert_eq!(single.as_map(), read.as_map(), "{name}");
            assert_ne!(single, SourceOffset::single_i64(&format!("{name}_"), -3), "{name}");
        }
    }
}
