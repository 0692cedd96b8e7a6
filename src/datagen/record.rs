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

/// Short text kept inline, serialized as a string: a record's small fields allocate nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Short<const N: usize> {
    bytes: [u8; N],
    len: u8,
}

impl<const N: usize> Short<N> {
    /// `prefix` followed by `n` in decimal, zero-padded to `width` digits. `N` must hold it.
    fn number(prefix: &str, n: u64, width: usize) -> Self {
        let mut digits = [0u8; 20];
        let (mut rest, mut count) = (n, 0);
        while rest > 0 || count < width.max(1) {
            digits[digits.len() - 1 - count] = b'0' + (rest % 10) as u8;
            rest /= 10;
            count += 1;
        }
        let mut bytes = [0u8; N];
        let len = prefix.len() + count;
        bytes[..prefix.len()].copy_from_slice(prefix.as_bytes());
        bytes[prefix.len()..len].copy_from_slice(&digits[digits.len() - count..]);
        Self { bytes, len: len as u8 }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl<const N: usize> std::fmt::Debug for Short<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<const N: usize> std::fmt::Display for Short<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const N: usize> Serialize for Short<N> {
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
    /// `customer-0000` to `customer-9999`.
    pub customer: Short<13>,
    pub amount_cents: i64,
    pub status: &'static str,
    /// `note 0` to `note 996`, on about a quarter of the records.
    pub note: Option<Short<8>>,
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
            customer: Short::number("customer-", a % 10_000, 4),
            amount_cents: (b % 1_000_000) as i64,
            status: STATUSES[(a >> 32) as usize % STATUSES.len()],
            note: b.is_multiple_of(4).then(|| Short::number("note ", b % 997, 0)),
            payload: pool.slice(a),
        }
    }

    /// The Kafka key: the customer, so a customer's records stay in order in one partition.
    pub fn customer_key(&self) -> String {
        self.customer.to_string()
    }

    /// [`customer_key`](Self::customer_key) as the bytes of a Kafka key.
    pub fn key_bytes(&self) -> Vec<u8> {
        self.customer.as_str().as_bytes().to_vec()
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
        assert_eq!(a.customer_key().as_bytes(), a.key_bytes());
        assert_eq!(a.payload.as_str().len(), 440);
        let c = DatagenRecord::generate(7, 1, 43, &pool);
        assert_ne!((a.customer, a.amount_cents), (c.customer, c.amount_cents));
    }

    #[test]
    fn short_fields_read_as_the_formatted_numbers() {
        for n in [0, 7, 42, 999, 1234, 9999] {
            assert_eq!(Short::<13>::number("customer-", n, 4).as_str(), format!("customer-{n:04}"));
        }
        for n in [0, 5, 10, 996] {
            let note = Short::<8>::number("note ", n, 0);
            assert_eq!((note.as_str(), note.to_string()), (format!("note {n}").as_str(), format!("note {n}")));
        }
        let pool = FillerPool::new(1, 100);
        let notes = (0..200).filter_map(|seq| DatagenRecord::generate(1, 0, seq, &pool).note).count();
        assert!(notes > 20 && notes < 100, "about a quarter have a note: {notes}");
        let record = DatagenRecord::generate(1, 0, 3, &pool);
        let json = serde_json::to_value(&record).expect("serializes");
        assert_eq!(json["customer"], record.customer_key());
        assert_eq!(format!("{:?}", record.customer), format!("{:?}", record.customer_key()));
    }
}
