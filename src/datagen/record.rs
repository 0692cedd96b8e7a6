//! The datagen record: a pure function of (seed, generator, seq).

use std::sync::Arc;

use serde::Serialize;

/// Full name of the schema in `schemas/datagen.avsc`.
pub const SCHEMA: &str = "tributary.datagen.DatagenRecord";

const STATUSES: [&str; 3] = ["NEW", "ACTIVE", "CLOSED"];

/// Filler text shared by every record, so generating a record allocates nothing for it.
#[derive(Clone, Debug)]
pub struct FillerPool {
    text: Arc<str>,
    len: usize,
}

impl FillerPool {
    /// `record_bytes` is the target encoded size; the fixed fields take about 60 bytes.
    pub fn new(seed: u64, record_bytes: usize) -> Self {
        let len = record_bytes.saturating_sub(60);
        let mut state = seed ^ 0x5eed;
        let text: String = (0..len + 4096)
            .map(|_| {
                let n = splitmix64(&mut state);
                char::from(b'a' + (n % 26) as u8)
            })
            .collect();
        Self { text: text.into(), len }
    }

    fn slice(&self, at: u64) -> Filler {
        let start = (at % 4096) as usize;
        Filler { text: self.text.clone(), start, len: self.len }
    }
}

/// A window into the pool, serialized as a string.
#[derive(Debug, Clone)]
pub struct Filler {
    text: Arc<str>,
    start: usize,
    len: usize,
}

impl Filler {
    pub fn as_str(&self) -> &str {
        self.text.get(self.start..self.start + self.len).unwrap_or_default()
    }
}

impl Serialize for Filler {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One record; field order and names match the Avro schema.
#[derive(Debug, Clone, Serialize)]
pub struct DatagenRecord {
    pub generator: i32,
    pub seq: i64,
    pub event_time: i64,
    pub customer: String,
    pub amount_cents: i64,
    pub status: &'static str,
    pub note: Option<String>,
    pub payload: Filler,
}

impl DatagenRecord {
    /// Every field but `event_time` depends only on the arguments.
    pub fn generate(seed: u64, generator: u32, seq: u64, pool: &FillerPool) -> Self {
        let mut state = seed ^ (u64::from(generator) << 48) ^ seq;
        let a = splitmix64(&mut state);
        let b = splitmix64(&mut state);
        Self {
            generator: generator as i32,
            seq: seq as i64,
            event_time: now_ms(),
            customer: format!("customer-{:04}", a % 10_000),
            amount_cents: (b % 1_000_000) as i64,
            status: STATUSES[(a >> 32) as usize % STATUSES.len()],
            note: b.is_multiple_of(4).then(|| format!("note {}", b % 997)),
            payload: pool.slice(a),
        }
    }

    /// The Kafka key: the customer, so a customer's records stay in order in one partition.
    pub fn customer_key(&self) -> String {
        self.customer.clone()
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}

/// SplitMix64: a tiny, well-mixed deterministic generator.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_deterministic() {
        let pool = FillerPool::new(7, 500);
        let a = DatagenRecord::generate(7, 1, 42, &pool);
        let b = DatagenRecord::generate(7, 1, 42, &FillerPool::new(7, 500));
        assert_eq!(
            (a.customer.as_str(), a.amount_cents, a.payload.as_str()),
            (b.customer.as_str(), b.amount_cents, b.payload.as_str())
        );
        assert_eq!(a.payload.as_str().len(), 440);
        let c = DatagenRecord::generate(7, 1, 43, &pool);
        assert_ne!((a.customer, a.amount_cents), (c.customer, c.amount_cents));
    }
}
