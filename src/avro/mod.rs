//! Avro schemas, Confluent wire format, encoding and decoding.
//!
//! * [`Schemas`]: every `schemas/*.avsc`, parsed and checked once at start-up, each with its
//!   self-contained JSON text (what is registered) and its writer (built once).
//! * [`Encoder`]: record values to Confluent-framed Avro (`0x00`, 4-byte big-endian schema id,
//!   Avro binary). Registers (or looks up) each `(topic, schema)` once, then encodes without I/O.
//! * [`Decoder`]: framed values back to JSON, fetching writer schemas by id (cached).
//! * [`wire`]: the 5-byte framing on its own.

mod compiled;
mod decoder;
mod encoder;
mod error;
pub mod json;
mod schemas;
mod subject;
pub mod wire;

pub use decoder::Decoder;
pub use encoder::{Encoder, EncoderOptions, Prepared};
pub use error::{AvroError, SchemaError};
pub use schemas::{LoadedSchema, Schemas};
pub use subject::{SubjectNameStrategy, UnknownStrategy};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod writer_equivalence;
