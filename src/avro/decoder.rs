//! Confluent-framed Avro back to JSON, with writer schemas fetched from the registry by id.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use apache_avro::Schema;

use super::compiled::CompiledReader;
use super::error::AvroError;
use super::json::to_json;
use super::wire;
use crate::schema_registry::RegistryClient;

/// Decodes framed values to JSON (see [`json`](super::json) for the mapping).
///
/// The writer schema of each id is fetched from the registry on first use and kept, with its
/// reader, for the life of the decoder (an id always names the same schema). A failed fetch is
/// not kept: the next value with that id fetches again. Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct Decoder {
    registry: RegistryClient,
    readers: Arc<Mutex<HashMap<u32, Arc<CompiledReader>>>>,
}

impl fmt::Debug for Decoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoder").field("registry", &self.registry).finish_non_exhaustive()
    }
}

impl Decoder {
    pub fn new(registry: RegistryClient) -> Self {
        Self { registry, readers: Arc::default() }
    }

    /// Decodes one framed value to JSON.
    pub async fn decode(&self, framed: &[u8]) -> Result<serde_json::Value, AvroError> {
        self.decode_with_id(framed).await.map(|(_, json)| json)
    }

    /// Decodes one framed value; also returns the writer schema id from its header.
    ///
    /// The datum must fill the value exactly: trailing bytes are an error, since they mean the
    /// value was not written with that schema.
    pub async fn decode_with_id(&self, framed: &[u8]) -> Result<(u32, serde_json::Value), AvroError> {
        let (id, datum) = wire::split(framed)?;
        let reader = self.reader(id).await?;
        let mut rest = datum;
        let value = reader.read(&mut rest).map_err(|e| AvroError::Decode { id, message: e.to_string() })?;
        if !rest.is_empty() {
            return Err(AvroError::Decode { id, message: format!("{} byte(s) left over after the datum", rest.len()) });
        }
        Ok((id, to_json(value)))
    }

    async fn reader(&self, id: u32) -> Result<Arc<CompiledReader>, AvroError> {
        if let Some(reader) = self.cached(id) {
            return Ok(reader);
        }
        let text = self
            .registry
            .schema_by_id(id)
            .await
            .map_err(|error| AvroError::FetchSchema { id, error: Box::new(error) })?;
        let schema = Schema::parse_str(&text).map_err(|e| AvroError::BadWriterSchema { id, message: e.to_string() })?;
        let reader =
            CompiledReader::new(schema).map_err(|e| AvroError::BadWriterSchema { id, message: e.to_string() })?;
        let reader = Arc::new(reader);
        self.readers.lock().unwrap_or_else(PoisonError::into_inner).insert(id, reader.clone());
        Ok(reader)
    }

    fn cached(&self, id: u32) -> Option<Arc<CompiledReader>> {
        self.readers.lock().unwrap_or_else(PoisonError::into_inner).get(&id).cloned()
    }
}
