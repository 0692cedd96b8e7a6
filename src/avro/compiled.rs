//! A schema together with the writer or reader built from it, built once and reused.
//!
//! apache-avro's `GenericDatumWriter`/`GenericDatumReader` borrow their schema and resolve its
//! named types when built; building one per record is what makes naive encoders slow. Each cell
//! here owns the schema and keeps the writer (or reader) that borrows it.
//!
//! Record values are written by [`FastWriter`] (serde_avro_fast), which writes the same bytes as
//! apache-avro's schema-aware serde writer for the same value and schema (tests compare the two
//! byte for byte) at about a third of the cost; apache-avro's [`CompiledWriter`] remains for a
//! schema that serde_avro_fast cannot parse.

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value;
use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::{AvroResult, Schema};
use serde::Serialize;

self_cell::self_cell!(
    struct WriterCell {
        owner: Schema,
        #[covariant]
        dependent: GenericDatumWriter,
    }
);

self_cell::self_cell!(
    struct ReaderCell {
        owner: Schema,
        #[covariant]
        dependent: GenericDatumReader,
    }
);

/// A self-contained schema and its schema-aware serde writer.
pub(crate) struct CompiledWriter(WriterCell);

impl CompiledWriter {
    /// `schema` must be self-contained (no references to types defined elsewhere).
    pub fn new(schema: Schema) -> AvroResult<Self> {
        // `human_readable(true)`: types with two serde forms (UUIDs, timestamps of date-time
        // crates) serialize as text, which is what an Avro `string` field expects.
        WriterCell::try_new(schema, |schema| GenericDatumWriter::builder(schema).human_readable(true).build()).map(Self)
    }

    /// Appends the Avro binary encoding of `value` to `out`, through serde (no `Value` tree).
    pub fn write<T: Serialize + ?Sized>(&self, out: &mut Vec<u8>, value: &T) -> AvroResult<usize> {
        self.0.borrow_dependent().write_ser(out, &value)
    }
}

/// A self-contained schema parsed by serde_avro_fast, whose serializer walks it directly: the
/// writer of record values.
pub(crate) struct FastWriter {
    schema: serde_avro_fast::Schema,
}

impl FastWriter {
    /// `json` is a self-contained schema text (named types defined where first used).
    pub fn new(json: &str) -> Result<Self, String> {
        json.parse().map(|schema| Self { schema }).map_err(|e: serde_avro_fast::schema::SchemaError| e.to_string())
    }

    /// Appends the Avro binary encoding of `value` to `out`; on error, `out` may hold part of it.
    pub fn write<T: Serialize + ?Sized>(&self, out: &mut Vec<u8>, value: &T) -> Result<(), String> {
        // The config only holds buffers for struct fields serialized out of schema order; for a
        // body whose fields come in order (derived `Serialize` of a struct that follows the
        // schema) it stays empty and costs nothing to make.
        let mut config = serde_avro_fast::ser::SerializerConfig::new(&self.schema);
        serde_avro_fast::to_datum(value, out, &mut config).map(drop).map_err(|e| e.to_string())
    }
}

/// A self-contained writer schema and the reader for data written with it.
pub(crate) struct CompiledReader(ReaderCell);

impl CompiledReader {
    pub fn new(schema: Schema) -> AvroResult<Self> {
        ReaderCell::try_new(schema, |schema| GenericDatumReader::builder(schema).build()).map(Self)
    }

    /// Reads one datum from the front of `datum`, advancing it.
    pub fn read(&self, datum: &mut &[u8]) -> AvroResult<Value> {
        self.0.borrow_dependent().read_value(datum)
    }
}
