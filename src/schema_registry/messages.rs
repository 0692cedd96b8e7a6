//! The JSON bodies of Confluent's Schema Registry REST API (v1), shared by the client and the
//! embedded server so that both speak exactly the same shapes.

use serde::{Deserialize, Serialize};

use super::compat::CompatibilityLevel;

/// The media type Confluent's registry answers with and its clients send.
pub const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// What clients put in `Accept`, most specific first (as Confluent's own clients do).
pub const ACCEPT: &str =
    "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, application/json";

/// Body of `POST /subjects/{s}/versions`, `POST /subjects/{s}` and the compatibility checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchemaRequest {
    pub schema: String,
    /// `AVRO` when absent.
    #[serde(rename = "schemaType", default, skip_serializing_if = "Option::is_none")]
    pub schema_type: Option<String>,
    /// Schema references; only an empty list is supported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<serde_json::Value>,
}

impl SchemaRequest {
    pub fn avro(schema: &str) -> Self {
        Self { schema: schema.to_owned(), schema_type: None, references: Vec::new() }
    }
}

/// Answer to `POST /subjects/{s}/versions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdResponse {
    pub id: u32,
}

/// One version of a subject: answer to `POST /subjects/{s}` (lookup) and
/// `GET /subjects/{s}/versions/{v}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectVersion {
    pub subject: String,
    /// The schema's global id.
    pub id: u32,
    /// The version within the subject, from 1.
    pub version: u32,
    pub schema: String,
}

/// Answer to `GET /schemas/ids/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaText {
    pub schema: String,
}

/// Answer to `GET /config` and `GET /config/{s}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigResponse {
    #[serde(rename = "compatibilityLevel")]
    pub compatibility_level: CompatibilityLevel,
}

/// Body of `PUT /config` and `PUT /config/{s}`, echoed back as the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigUpdate {
    pub compatibility: CompatibilityLevel,
}

/// Answer to `POST /compatibility/subjects/{s}/versions[/{v}]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompatibilityResponse {
    pub is_compatible: bool,
    /// Why not, when the request asked for `verbose=true`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<String>,
}

/// Every error answer: `{"error_code": 40401, "message": "Subject 'x' not found."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error_code: i64,
    pub message: String,
}

/// Confluent's error codes, as sent in [`ErrorBody::error_code`].
pub mod codes {
    pub const SUBJECT_NOT_FOUND: i64 = 40401;
    pub const VERSION_NOT_FOUND: i64 = 40402;
    pub const SCHEMA_NOT_FOUND: i64 = 40403;
    pub const SUBJECT_COMPATIBILITY_NOT_CONFIGURED: i64 = 40408;
    pub const INCOMPATIBLE_SCHEMA: i64 = 409;
    pub const INVALID_SCHEMA: i64 = 42201;
    pub const INVALID_VERSION: i64 = 42202;
    pub const INVALID_COMPATIBILITY_LEVEL: i64 = 42203;
}
