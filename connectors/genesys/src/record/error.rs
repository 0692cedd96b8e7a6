//! Why a snapshot could not be mapped.

/// A snapshot that cannot be turned into a record. Paths name the offending value from the root
/// of the body, e.g. `participants[1].calls[0].connectedTime`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// The body is not JSON at all.
    #[error("not JSON: {detail}")]
    NotJson { detail: String },
    /// The value at `path` (`$` for the root) should be an object.
    #[error("`{path}` is not a JSON object")]
    NotAnObject { path: String },
    /// A required field is absent, null or empty.
    #[error("`{path}` is missing")]
    Missing { path: String },
    /// A field has the wrong JSON type.
    #[error("`{path}` must be {expected}, found {found}")]
    WrongType { path: String, expected: &'static str, found: &'static str },
    /// A date-time field does not parse as ISO-8601.
    #[error("`{path}` is not an ISO-8601 date-time: {value:?}")]
    BadTimestamp { path: String, value: String },
    /// A number does not fit the schema's type.
    #[error("`{path}` is out of range: {value}")]
    OutOfRange { path: String, value: String },
}
