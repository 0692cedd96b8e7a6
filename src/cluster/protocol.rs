//! Reading a member's assignment from a consumer group's description: the consumer protocol's
//! `Assignment` (Kafka's `ConsumerProtocolAssignment`, versions 0 to 3 share this layout):
//!
//! ```text
//! version: int16, [topic: string (int16 length), [partition: int32]], user_data: bytes
//! ```
//!
//! Arrays are an int32 count; all big-endian. The bytes come from the broker: anything short or
//! inconsistent is an error, never a panic.

use std::collections::BTreeMap;

/// The assignment bytes could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable group assignment: {0}")]
pub struct AssignmentError(&'static str);

/// Topic → partitions assigned to one member.
pub fn decode_assignment(bytes: &[u8]) -> Result<BTreeMap<String, Vec<i32>>, AssignmentError> {
    let mut out = BTreeMap::new();
    if bytes.is_empty() {
        // A member that has no assignment yet.
        return Ok(out);
    }
    let mut r = Reader(bytes);
    let version = r.i16()?;
    if version < 0 {
        return Err(AssignmentError("negative version"));
    }
    let topics = r.count()?;
    for _ in 0..topics {
        let len = usize::try_from(r.i16()?).map_err(|_| AssignmentError("negative topic name length"))?;
        let name = std::str::from_utf8(r.take(len)?).map_err(|_| AssignmentError("topic name is not UTF-8"))?;
        let count = r.count()?;
        let mut partitions = Vec::with_capacity(count.min(r.0.len() / 4));
        for _ in 0..count {
            partitions.push(r.i32()?);
        }
        out.entry(name.to_owned()).or_insert_with(Vec::new).extend(partitions);
    }
    // The user data (the sticky assignor's) follows; it is not needed.
    Ok(out)
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], AssignmentError> {
        if self.0.len() < n {
            return Err(AssignmentError("truncated"));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn i16(&mut self) -> Result<i16, AssignmentError> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self) -> Result<i32, AssignmentError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// An array's element count; -1 (null) reads as empty.
    fn count(&mut self) -> Result<usize, AssignmentError> {
        match self.i32()? {
            -1 => Ok(0),
            n => usize::try_from(n).map_err(|_| AssignmentError("negative array length")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(topics: &[(&str, &[i32])]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(1i16.to_be_bytes());
        b.extend((topics.len() as i32).to_be_bytes());
        for (name, partitions) in topics {
            b.extend((name.len() as i16).to_be_bytes());
            b.extend(name.as_bytes());
            b.extend((partitions.len() as i32).to_be_bytes());
            for p in *partitions {
                b.extend(p.to_be_bytes());
            }
        }
        b.extend((-1i32).to_be_bytes());
        b
    }

    #[test]
    fn reads_topics_and_partitions() {
        let decoded = decode_assignment(&encode(&[("slots", &[0, 2]), ("other", &[])])).expect("decodes");
        assert_eq!(decoded.get("slots"), Some(&vec![0, 2]));
        assert_eq!(decoded.get("other"), Some(&vec![]));
        assert!(decode_assignment(&[]).expect("empty").is_empty());
    }

    #[test]
    fn short_or_inconsistent_bytes_are_errors() {
        let full = encode(&[("slots", &[0, 1, 2])]);
        for cut in 1..full.len() - 4 {
            assert!(decode_assignment(&full[..cut]).is_err(), "cut at {cut}");
        }
        let mut huge = 1i16.to_be_bytes().to_vec();
        huge.extend(i32::MAX.to_be_bytes());
        assert!(decode_assignment(&huge).is_err());
        let mut negative = 1i16.to_be_bytes().to_vec();
        negative.extend((-5i32).to_be_bytes());
        assert!(decode_assignment(&negative).is_err());
    }
}
