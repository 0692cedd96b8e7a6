//! Avro values as natural JSON, for people reading records (`tributary tail`) and for tests.
//!
//! Records become objects, unions their branch's value (or `null`), enums their symbol, maps
//! objects, arrays arrays, numbers numbers (logical dates and times stay the numbers they are
//! encoded as). `bytes` and `fixed` become strings with one character per byte (U+0000–U+00FF),
//! as in Avro's JSON encoding. UUIDs and big decimals become their text, durations
//! `{"months", "days", "millis"}`. Non-finite floats, which JSON cannot hold, become `null`.

use apache_avro::types::Value;
use serde_json::{Map, Number, Value as Json};

/// Converts a decoded Avro value to JSON.
pub fn to_json(value: Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Boolean(b) => Json::Bool(b),
        Value::Int(n) | Value::Date(n) | Value::TimeMillis(n) => Json::from(n),
        Value::Long(n)
        | Value::TimeMicros(n)
        | Value::TimestampMillis(n)
        | Value::TimestampMicros(n)
        | Value::TimestampNanos(n)
        | Value::LocalTimestampMillis(n)
        | Value::LocalTimestampMicros(n)
        | Value::LocalTimestampNanos(n) => Json::from(n),
        Value::Float(x) => float(f64::from(x)),
        Value::Double(x) => float(x),
        Value::Bytes(bytes) | Value::Fixed(_, bytes) => Json::String(latin1(&bytes)),
        Value::Decimal(decimal) => match Vec::<u8>::try_from(&decimal) {
            Ok(bytes) => Json::String(latin1(&bytes)),
            Err(_) => Json::Null,
        },
        Value::BigDecimal(decimal) => Json::String(decimal.to_string()),
        Value::String(s) | Value::Enum(_, s) => Json::String(s),
        Value::Uuid(uuid) => Json::String(uuid.to_string()),
        Value::Union(_, inner) => to_json(*inner),
        Value::Array(items) => Json::Array(items.into_iter().map(to_json).collect()),
        Value::Map(entries) => Json::Object(entries.into_iter().map(|(k, v)| (k, to_json(v))).collect()),
        Value::Record(fields) => Json::Object(fields.into_iter().map(|(k, v)| (k, to_json(v))).collect::<Map<_, _>>()),
        Value::Duration(d) => serde_json::json!({
            "months": u32::from(d.months()),
            "days": u32::from(d.days()),
            "millis": u32::from(d.millis()),
        }),
    }
}

fn float(x: f64) -> Json {
    Number::from_f64(x).map_or(Json::Null, Json::Number)
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use serde_json::json;

    #[test]
    fn values_map_to_natural_json() {
        let value = Value::Record(vec![
            ("id".into(), Value::String("c-1".into())),
            ("n".into(), Value::Long(1 << 40)),
            ("state".into(), Value::Enum(1, "CLOSED".into())),
            ("note".into(), Value::Union(0, Box::new(Value::Null))),
            ("queue".into(), Value::Union(1, Box::new(Value::String("q".into())))),
            ("raw".into(), Value::Bytes(vec![0x41, 0xe9])),
            ("tags".into(), Value::Map(HashMap::from([("k".into(), Value::String("v".into()))]))),
            ("xs".into(), Value::Array(vec![Value::Int(1), Value::Int(2)])),
            ("at".into(), Value::TimestampMillis(1_700_000_000_000)),
            ("nan".into(), Value::Double(f64::NAN)),
        ]);
        assert_eq!(
            to_json(value),
            json!({
                "id": "c-1", "n": 1_099_511_627_776_i64, "state": "CLOSED", "note": null, "queue": "q",
                "raw": "Aé", "tags": {"k": "v"}, "xs": [1, 2], "at": 1_700_000_000_000_i64, "nan": null
            })
        );
    }
}
