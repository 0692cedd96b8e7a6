//! What a slot stands for, and how replicas tell whether they read the same connectors.
//!
//! Every replica reads the same config, so every replica orders the connectors the same way: slot
//! `i` (partition `i` of the coordination topic) is the `i`-th connector by name. A replica whose
//! connector definitions differ computes a different [`digest`], which it carries in its Kafka
//! `client.id` so that the others can see it in the group's description ([`MemberId`]).

use serde_json::Value;

use crate::config::ConnectorConfig;

/// The connectors of the config, by slot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Slots {
    names: Vec<String>,
}

impl Slots {
    pub fn new(connectors: &[ConnectorConfig]) -> Self {
        let mut names: Vec<String> = connectors.iter().map(|c| c.name.clone()).collect();
        names.sort();
        Self { names }
    }

    /// How many slots there are: one per connector.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The connector of `slot`; `None` for a partition beyond the connectors (the topic has more
    /// partitions than this config has connectors: such slots are idle).
    pub fn name(&self, slot: i32) -> Option<&str> {
        usize::try_from(slot).ok().and_then(|i| self.names.get(i)).map(String::as_str)
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// A short, stable digest of the connector definitions as written (names, classes, configs with
/// `${…}` placeholders unresolved, literal secrets redacted): equal on replicas that run the same
/// connectors the same way, whatever order the file lists them in. FNV-1a (64 bits) over a
/// canonical rendering, so that it does not change between builds.
pub fn digest(connectors: &[ConnectorConfig]) -> String {
    let mut entries: Vec<(&str, &Value)> = connectors.iter().map(|c| (c.name.as_str(), &c.shown)).collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let mut text = String::new();
    for (name, shown) in entries {
        text.push_str(name);
        text.push('\u{0}');
        canonical(shown, &mut text);
        text.push('\u{0}');
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// JSON with object keys sorted, whatever the map type keeps.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// How a replica names itself to the group: its Kafka `client.id` is
/// `tributary/<digest>/<replica id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberId {
    pub digest: String,
    pub replica: String,
}

impl MemberId {
    const PREFIX: &'static str = "tributary/";

    pub fn client_id(&self) -> String {
        format!("{}{}/{}", Self::PREFIX, self.digest, self.replica)
    }

    /// Reads a member's `client.id`; `None` for a client that is not a Tributary replica.
    pub fn parse(client_id: &str) -> Option<Self> {
        let rest = client_id.strip_prefix(Self::PREFIX)?;
        let (digest, replica) = rest.split_once('/')?;
        Some(Self { digest: digest.to_owned(), replica: replica.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn entry(name: &str, shown: Value) -> ConnectorConfig {
        ConnectorConfig {
            name: name.into(),
            class: "datagen".into(),
            producer: Default::default(),
            config: shown.clone(),
            shown,
            path: "connectors[0]".into(),
        }
    }

    #[test]
    fn slots_follow_the_names_not_the_file_order() {
        let slots = Slots::new(&[entry("b", json!({})), entry("a", json!({}))]);
        assert_eq!(slots.name(0), Some("a"));
        assert_eq!(slots.name(1), Some("b"));
        assert_eq!(slots.name(2), None);
        assert_eq!(slots.name(-1), None);
    }

    #[test]
    fn the_digest_ignores_order_and_sees_every_change() {
        let a = entry("a", json!({"name": "a", "rate": 1, "nested": {"x": 1, "y": 2}}));
        let b = entry("b", json!({"name": "b"}));
        let same = digest(&[a.clone(), b.clone()]);
        assert_eq!(same, digest(&[b.clone(), a.clone()]));
        let reordered_keys = entry("a", json!({"nested": {"y": 2, "x": 1}, "rate": 1, "name": "a"}));
        assert_eq!(same, digest(&[reordered_keys, b.clone()]));
        let changed = entry("a", json!({"name": "a", "rate": 2, "nested": {"x": 1, "y": 2}}));
        assert_ne!(same, digest(&[changed, b.clone()]));
        assert_ne!(same, digest(&[a]));
        assert_eq!(digest(&[]).len(), 16);
    }

    #[test]
    fn member_ids_round_trip_and_others_are_not_replicas() {
        let id = MemberId { digest: "00ff".into(), replica: "host:8083".into() };
        assert_eq!(MemberId::parse(&id.client_id()), Some(id));
        assert_eq!(MemberId::parse("rdkafka"), None);
        assert_eq!(MemberId::parse("tributary/nodigest"), None);
    }
}
