//! Confluent's wire format: byte 0 is the magic byte `0x00`, bytes 1–4 the schema id as a
//! big-endian 32-bit integer, then the Avro binary datum.

use super::error::AvroError;

/// The first byte of every framed value.
pub const MAGIC_BYTE: u8 = 0;

/// Magic byte plus schema id.
pub const HEADER_LEN: usize = 5;

/// Appends the 5-byte header for `schema_id` to `out`.
pub fn write_header(out: &mut Vec<u8>, schema_id: u32) {
    out.push(MAGIC_BYTE);
    out.extend_from_slice(&schema_id.to_be_bytes());
}

/// Splits a framed value into its schema id and Avro datum.
pub fn split(framed: &[u8]) -> Result<(u32, &[u8]), AvroError> {
    let Some((header, datum)) = framed.split_first_chunk::<HEADER_LEN>() else {
        return Err(AvroError::Framing {
            reason: format!("{} byte(s), shorter than the {HEADER_LEN}-byte header", framed.len()),
        });
    };
    let [magic, id @ ..] = *header;
    if magic != MAGIC_BYTE {
        return Err(AvroError::Framing { reason: format!("magic byte is {magic:#04x}, expected 0x00") });
    }
    Ok((u32::from_be_bytes(id), datum))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_magic_then_big_endian_id() {
        let mut out = vec![0xAA];
        write_header(&mut out, 0x0102_0304);
        assert_eq!(out, [0xAA, 0x00, 0x01, 0x02, 0x03, 0x04]);
    }

    #[test]
    fn split_returns_id_and_datum() {
        let framed = [0x00, 0x00, 0x00, 0x01, 0x2C, 0x02, 0x61];
        let (id, datum) = split(&framed).expect("framed");
        assert_eq!(id, 300);
        assert_eq!(datum, [0x02, 0x61]);
        assert_eq!(split(&[0, 0, 0, 0, 7]).map(|(id, d)| (id, d.len())).ok(), Some((7, 0)));
    }

    #[test]
    fn split_rejects_short_input_and_wrong_magic() {
        let err = split(&[0, 0, 1]).expect_err("short");
        assert_eq!(err.to_string(), "not a Confluent-framed Avro value: 3 byte(s), shorter than the 5-byte header");
        let err = split(&[1, 0, 0, 0, 1, 9]).expect_err("magic");
        assert_eq!(err.to_string(), "not a Confluent-framed Avro value: magic byte is 0x01, expected 0x00");
    }
}
