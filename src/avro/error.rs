//! Errors of schema loading, encoding and decoding.

use std::path::PathBuf;

use crate::schema_registry::RegistryError;

/// A schema file could not be loaded. Every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    #[error("cannot list schema directory {}: {error}", dir.display())]
    ReadDir { dir: PathBuf, error: std::io::Error },

    #[error("cannot read schema file {}: {error}", file.display())]
    Unreadable { file: PathBuf, error: std::io::Error },

    #[error("schema file {} is not valid JSON: {error}", file.display())]
    InvalidJson { file: PathBuf, error: serde_json::Error },

    #[error("schema file {} is not a valid Avro schema: {message}", file.display())]
    InvalidAvro { file: PathBuf, message: String },

    #[error("schema file {} must define a named type (record, enum or fixed) at the top level", file.display())]
    NotNamed { file: PathBuf },

    #[error("schema `{name}` is defined twice: in {} and in {}", first.display(), second.display())]
    Duplicate { name: String, first: PathBuf, second: PathBuf },
}

/// A record could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AvroError {
    #[error("schema `{schema}` (topic `{topic}`) is not among the loaded schemas")]
    UnknownSchema { topic: String, schema: String },

    #[error("schema `{schema}` was not prepared for topic `{topic}`: call Encoder::prepare first")]
    NotPrepared { topic: String, schema: String },

    #[error(
        "schema `{schema}` is not registered under subject `{subject}` (topic `{topic}`) and auto-registration is off"
    )]
    NotRegistered { topic: String, subject: String, schema: String },

    #[error("cannot {action} schema `{schema}` under subject `{subject}` (topic `{topic}`): {error}")]
    Registry { action: &'static str, topic: String, subject: String, schema: String, error: Box<RegistryError> },

    #[error("record for topic `{topic}` does not match schema `{schema}`: {message}")]
    Encode { topic: String, schema: String, message: String },

    #[error("not a Confluent-framed Avro value: {reason}")]
    Framing { reason: String },

    #[error("cannot fetch the writer schema with id {id}: {error}")]
    FetchSchema { id: u32, error: Box<RegistryError> },

    #[error("writer schema with id {id} is not a valid Avro schema: {message}")]
    BadWriterSchema { id: u32, message: String },

    #[error("cannot decode a value written with schema id {id}: {message}")]
    Decode { id: u32, message: String },
}
