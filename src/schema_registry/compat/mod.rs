//! Compatibility levels and the checks behind them, as Confluent's registry defines them.
//!
//! "Can read" is Avro schema resolution: a reader schema can read data written with a writer
//! schema. The checks use `apache_avro::schema_compatibility` and demand full compatibility: a
//! reader that could only read *some* values of the writer (a missing enum symbol, a missing
//! union branch) is incompatible, as in Confluent's registry.

mod expand;

use std::fmt;
use std::str::FromStr;

use apache_avro::Schema;
use apache_avro::error::CompatibilityError;
use apache_avro::schema_compatibility::{Compatibility, SchemaCompatibility};
use serde::{Deserialize, Serialize};

/// A subject's compatibility level. `BACKWARD` is the default, as in Confluent's registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CompatibilityLevel {
    /// No check.
    None,
    /// The new schema can read data written with the latest version.
    #[default]
    Backward,
    /// The new schema can read data written with every version.
    BackwardTransitive,
    /// The latest version can read data written with the new schema.
    Forward,
    /// Every version can read data written with the new schema.
    ForwardTransitive,
    /// Backward and forward against the latest version.
    Full,
    /// Backward and forward against every version.
    FullTransitive,
}

impl CompatibilityLevel {
    pub const ALL: [Self; 7] = [
        Self::None,
        Self::Backward,
        Self::BackwardTransitive,
        Self::Forward,
        Self::ForwardTransitive,
        Self::Full,
        Self::FullTransitive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::Backward => "BACKWARD",
            Self::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Self::Forward => "FORWARD",
            Self::ForwardTransitive => "FORWARD_TRANSITIVE",
            Self::Full => "FULL",
            Self::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    fn transitive(self) -> bool {
        matches!(self, Self::BackwardTransitive | Self::ForwardTransitive | Self::FullTransitive)
    }

    fn backward(self) -> bool {
        matches!(self, Self::Backward | Self::BackwardTransitive | Self::Full | Self::FullTransitive)
    }

    fn forward(self) -> bool {
        matches!(self, Self::Forward | Self::ForwardTransitive | Self::Full | Self::FullTransitive)
    }
}

impl fmt::Display for CompatibilityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A compatibility level name that is not one of the seven.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown compatibility level `{0}` (expected one of NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE)"
)]
pub struct UnknownCompatibilityLevel(pub String);

impl FromStr for CompatibilityLevel {
    type Err = UnknownCompatibilityLevel;

    /// Case-insensitive, as clients send both `backward` and `BACKWARD`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|level| level.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownCompatibilityLevel(s.to_owned()))
    }
}

/// Checks `candidate` against a subject's `existing` versions (`(version, schema)`, oldest first)
/// under `level`.
///
/// Non-transitive levels look at the latest version only. Returns one message per violation;
/// an empty list means compatible.
pub fn check(level: CompatibilityLevel, candidate: &Schema, existing: &[(u32, &Schema)]) -> Vec<String> {
    let against: &[(u32, &Schema)] = if level.transitive() {
        existing
    } else {
        match existing.split_last() {
            Some((last, _)) => std::slice::from_ref(last),
            None => &[],
        }
    };
    let mut messages = Vec::new();
    for &(version, old) in against {
        if level.backward()
            && let Err(reason) = can_read(old, candidate)
        {
            messages.push(format!("{level}: the new schema cannot read data written with version {version}: {reason}"));
        }
        if level.forward()
            && let Err(reason) = can_read(candidate, old)
        {
            messages.push(format!("{level}: version {version} cannot read data written with the new schema: {reason}"));
        }
    }
    messages
}

/// `Ok` when `reader` can read every datum written with `writer`.
pub fn can_read(writer: &Schema, reader: &Schema) -> Result<(), String> {
    match SchemaCompatibility::can_read(&expand::expand(writer), &expand::expand(reader)) {
        Ok(Compatibility::Full) => Ok(()),
        Ok(Compatibility::Partial) => Err(
            "the reader can read only some of the writer's values (an enum symbol or a union branch of the writer is missing from the reader)"
                .to_owned(),
        ),
        Err(error) => Err(describe(&error)),
    }
}

/// A short, readable reason. The library's own messages embed whole schemas in `Debug` form.
fn describe(error: &CompatibilityError) -> String {
    match error {
        CompatibilityError::WrongType { writer_schema_type, reader_schema_type } => {
            format!("the writer's {} cannot be read as {}", kind_of(writer_schema_type), kind_of(reader_schema_type))
        }
        CompatibilityError::TypeExpected { schema_type, expected_type } => {
            format!("{schema_type} should have been one of {expected_type:?}")
        }
        CompatibilityError::FieldTypeMismatch(field, inner) => format!("field `{field}`: {}", describe(inner)),
        CompatibilityError::MissingDefaultValue(field) => {
            format!("field `{field}` is missing from the writer's schema and has no default in the reader's")
        }
        CompatibilityError::MissingSymbols => "the reader's enum has none of the writer's symbols".to_owned(),
        CompatibilityError::MissingUnionElements => {
            "a branch of the writer's union is missing from the reader's".to_owned()
        }
        CompatibilityError::SchemaMismatchAllUnionElements => {
            "no branch of the union matches the other schema".to_owned()
        }
        CompatibilityError::FixedMismatch => "the fixed sizes differ".to_owned(),
        CompatibilityError::DecimalMismatch { r_precision, r_scale, w_precision, w_scale } => format!(
            "decimal precision/scale differ: writer ({w_precision},{w_scale}), reader ({r_precision},{r_scale})"
        ),
        CompatibilityError::NameMismatch { writer_name, reader_name } => {
            format!("the writer's type is named `{writer_name}` and the reader's `{reader_name}`")
        }
        CompatibilityError::Inconclusive(what) => format!("cannot compare `{what}`"),
    }
}

/// `Record(RecordSchema { ... })` → `record`: the variant name of a schema's `Debug` text.
fn kind_of(debug: &str) -> String {
    let end = debug.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(debug.len());
    debug[..end].to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(text: &str) -> Schema {
        Schema::parse_str(text).expect("test schema parses")
    }

    fn record(fields: &str) -> Schema {
        schema(&format!(r#"{{"type":"record","name":"Event","namespace":"t","fields":[{fields}]}}"#))
    }

    const V1: &str = r#"{"name":"id","type":"string"}"#;

    #[test]
    fn new_field_without_default_breaks_backward_but_not_forward() {
        let v1 = record(V1);
        let v2 = record(&format!(r#"{V1},{{"name":"n","type":"int"}}"#));
        let msgs = check(CompatibilityLevel::Backward, &v2, &[(1, &v1)]);
        assert_eq!(msgs.len(), 1, "{msgs:?}");
        assert!(msgs[0].contains("field `n`") && msgs[0].contains("version 1"), "{msgs:?}");
        assert!(check(CompatibilityLevel::Forward, &v2, &[(1, &v1)]).is_empty());
        assert!(!check(CompatibilityLevel::Full, &v2, &[(1, &v1)]).is_empty());
        assert!(check(CompatibilityLevel::None, &v2, &[(1, &v1)]).is_empty());
    }

    #[test]
    fn new_field_with_default_is_fully_compatible() {
        let v1 = record(V1);
        let v2 = record(&format!(r#"{V1},{{"name":"n","type":"int","default":0}}"#));
        for level in CompatibilityLevel::ALL {
            assert!(check(level, &v2, &[(1, &v1)]).is_empty(), "{level}");
        }
    }

    #[test]
    fn removed_field_breaks_forward_only_when_it_had_no_default() {
        let v1 = record(&format!(r#"{V1},{{"name":"n","type":"int"}}"#));
        let v2 = record(V1);
        assert!(check(CompatibilityLevel::Backward, &v2, &[(1, &v1)]).is_empty());
        assert!(!check(CompatibilityLevel::Forward, &v2, &[(1, &v1)]).is_empty());
    }

    #[test]
    fn removed_enum_symbol_breaks_backward_added_symbol_breaks_forward() {
        let e = |symbols: &str| {
            record(&format!(r#"{{"name":"s","type":{{"type":"enum","name":"S","symbols":[{symbols}]}}}}"#))
        };
        let ab = e(r#""A","B""#);
        let a = e(r#""A""#);
        assert!(!check(CompatibilityLevel::Backward, &a, &[(1, &ab)]).is_empty());
        assert!(check(CompatibilityLevel::Forward, &a, &[(1, &ab)]).is_empty());
        assert!(check(CompatibilityLevel::Backward, &ab, &[(1, &a)]).is_empty());
        assert!(!check(CompatibilityLevel::Forward, &ab, &[(1, &a)]).is_empty());
    }

    #[test]
    fn int_promotes_to_long_but_not_back() {
        let int = record(r#"{"name":"n","type":"int"}"#);
        let long = record(r#"{"name":"n","type":"long"}"#);
        assert!(check(CompatibilityLevel::Backward, &long, &[(1, &int)]).is_empty());
        let msgs = check(CompatibilityLevel::Backward, &int, &[(1, &long)]);
        assert_eq!(msgs.len(), 1);
        assert!(msgs[0].contains("long cannot be read as int"), "{msgs:?}");
    }

    #[test]
    fn transitive_levels_check_every_version() {
        // v2 adds `n` with a default; v3 drops the default. v3 reads v2's data (which has `n`)
        // but not v1's (which lacks it): only a transitive level sees the difference.
        let v1 = record(V1);
        let v2 = record(&format!(r#"{V1},{{"name":"n","type":"int","default":0}}"#));
        let v3 = record(&format!(r#"{V1},{{"name":"n","type":"int"}}"#));
        let existing = [(1, &v1), (2, &v2)];
        assert!(check(CompatibilityLevel::Backward, &v3, &existing).is_empty());
        let msgs = check(CompatibilityLevel::BackwardTransitive, &v3, &existing);
        assert_eq!(msgs.len(), 1, "{msgs:?}");
        assert!(msgs[0].contains("version 1"));
    }

    #[test]
    fn a_named_type_defined_at_another_place_is_still_compatible() {
        let p = r#"{"type":"record","name":"P","fields":[{"name":"x","type":"int"}]}"#;
        let v1 = record(&format!(r#"{{"name":"a","type":{p}}},{{"name":"b","type":"P"}}"#));
        let v2 = record(&format!(r#"{{"name":"b","type":{p}}},{{"name":"a","type":"P"}}"#));
        assert!(check(CompatibilityLevel::FullTransitive, &v2, &[(1, &v1)]).is_empty());
    }

    #[test]
    fn levels_parse_case_insensitively_and_print_as_confluent_does() {
        assert_eq!("full_transitive".parse(), Ok(CompatibilityLevel::FullTransitive));
        assert_eq!(CompatibilityLevel::BackwardTransitive.to_string(), "BACKWARD_TRANSITIVE");
        assert!("SIDEWAYS".parse::<CompatibilityLevel>().is_err());
        assert_eq!(serde_json::to_string(&CompatibilityLevel::Forward).ok().as_deref(), Some("\"FORWARD\""));
    }
}
