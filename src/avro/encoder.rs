//! Record values to Confluent-framed Avro, with schema ids registered once per (topic, schema).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use serde::Serialize;

use super::error::AvroError;
use super::schemas::{LoadedSchema, Schemas};
use super::subject::SubjectNameStrategy;
use super::wire;
use crate::api::RecordValue;
use crate::schema_registry::RegistryClient;

/// How an [`Encoder`] finds the schema id of a topic's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderOptions {
    /// Which subject a topic's schema lives under. Default: `<topic>-value`.
    pub subject_strategy: SubjectNameStrategy,
    /// `true` (the default, as in Confluent's serializers): register the schema, which is a no-op
    /// returning the existing id when the subject already has it. `false`: only look it up, and
    /// fail when the subject does not hold exactly this schema (for registries where producers
    /// may not register).
    pub auto_register: bool,
}

impl Default for EncoderOptions {
    fn default() -> Self {
        Self { subject_strategy: SubjectNameStrategy::TopicName, auto_register: true }
    }
}

/// Encodes one connector instance's record values.
///
/// # Contract
///
/// * [`prepare`](Self::prepare) (async, talks to the registry) must run once for every
///   `(topic, schema)` pair before [`encode_value`](Self::encode_value) (sync, no I/O) encodes
///   values of that pair; encoding an unprepared pair is [`AvroError::NotPrepared`]. A runtime
///   prepares the pairs it knows at start-up, or calls [`encode_value_lazily`](Self::encode_value_lazily),
///   which prepares on first use.
/// * The schema id found by `prepare` is cached for the life of the encoder (ids never change in
///   a registry); a failed `prepare` caches nothing, so calling it again retries.
/// * Encoding writes the 5-byte header and the datum through the schema's writer, built once at
///   load time: no registry call, no schema resolution and no allocation per record other than
///   growth of the output buffer.
///
/// Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct Encoder {
    inner: Arc<Inner>,
}

struct Inner {
    registry: RegistryClient,
    schemas: Arc<Schemas>,
    options: EncoderOptions,
    /// Read on every record, written by `prepare`.
    prepared: RwLock<PreparedByTopic>,
}

/// topic → schema full name → id and schema.
type PreparedByTopic = HashMap<Arc<str>, HashMap<Arc<str>, Prepared>>;

/// One prepared `(topic, schema)` pair: its schema id and its writer.
///
/// Got from [`Encoder::prepared`], it encodes without the encoder's lookups (a lock and two hash
/// look-ups per record), for a loop that encodes many records of the same pair.
#[derive(Clone)]
pub struct Prepared {
    topic: Arc<str>,
    schema_name: Arc<str>,
    id: u32,
    schema: Arc<LoadedSchema>,
}

impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prepared")
            .field("topic", &self.topic)
            .field("schema", &self.schema_name)
            .field("id", &self.id)
            .finish()
    }
}

impl Prepared {
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Full name of the schema.
    pub fn schema(&self) -> &str {
        &self.schema_name
    }

    /// The schema id in the registry.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Appends the Confluent-framed encoding of `body` to `out`. On error `out` is left as it was.
    pub fn encode<T: Serialize + ?Sized>(&self, body: &T, out: &mut Vec<u8>) -> Result<(), AvroError> {
        let start = out.len();
        wire::write_header(out, self.id);
        if let Err(message) = self.schema.write(out, body) {
            out.truncate(start);
            return Err(AvroError::Encode {
                topic: self.topic.to_string(),
                schema: self.schema_name.to_string(),
                message,
            });
        }
        Ok(())
    }
}

impl fmt::Debug for Encoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encoder")
            .field("registry", &self.inner.registry)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl Encoder {
    pub fn new(registry: RegistryClient, schemas: Arc<Schemas>, options: EncoderOptions) -> Self {
        let inner = Inner { registry, schemas, options, prepared: RwLock::new(HashMap::new()) };
        Self { inner: Arc::new(inner) }
    }

    pub fn options(&self) -> EncoderOptions {
        self.inner.options
    }

    /// Makes `(topic, schema)` encodable: registers the schema under the topic's subject (or
    /// looks it up, without auto-registration) and caches its id, which it returns. Returns at
    /// once when already prepared.
    pub async fn prepare(&self, topic: &str, schema: &str) -> Result<u32, AvroError> {
        if let Some(id) = self.schema_id(topic, schema) {
            return Ok(id);
        }
        let loaded = self
            .inner
            .schemas
            .get(schema)
            .cloned()
            .ok_or_else(|| AvroError::UnknownSchema { topic: topic.to_owned(), schema: schema.to_owned() })?;
        let subject = self.inner.options.subject_strategy.value_subject(topic, loaded.full_name());
        let registry_error = |action, error| AvroError::Registry {
            action,
            topic: topic.to_owned(),
            subject: subject.clone(),
            schema: schema.to_owned(),
            error: Box::new(error),
        };
        let id = if self.inner.options.auto_register {
            self.inner
                .registry
                .register(&subject, loaded.canonical_json())
                .await
                .map_err(|e| registry_error("register", e))?
        } else {
            match self.inner.registry.lookup(&subject, loaded.canonical_json()).await {
                Ok(Some(found)) => found.id,
                Ok(None) => {
                    return Err(AvroError::NotRegistered {
                        topic: topic.to_owned(),
                        subject: subject.clone(),
                        schema: schema.to_owned(),
                    });
                }
                Err(e) => return Err(registry_error("look up", e)),
            }
        };
        tracing::info!(%topic, %subject, %schema, id, "avro schema ready");
        let mut prepared = self.inner.prepared.write().unwrap_or_else(PoisonError::into_inner);
        let (topic, schema_name): (Arc<str>, Arc<str>) = (topic.into(), schema.into());
        let entry = Prepared { topic: topic.clone(), schema_name: schema_name.clone(), id, schema: loaded };
        prepared.entry(topic).or_default().insert(schema_name, entry);
        Ok(id)
    }

    /// The cached schema id of `(topic, schema)`, if prepared.
    pub fn schema_id(&self, topic: &str, schema: &str) -> Option<u32> {
        self.prepared(topic, schema).map(|p| p.id)
    }

    /// `(topic, schema)`, if prepared: encodes records of that pair without further look-ups.
    pub fn prepared(&self, topic: &str, schema: &str) -> Option<Prepared> {
        let prepared = self.inner.prepared.read().unwrap_or_else(PoisonError::into_inner);
        prepared.get(topic).and_then(|by_schema| by_schema.get(schema)).cloned()
    }

    /// Appends the Confluent-framed encoding of `value` for `topic` to `out`.
    ///
    /// On error `out` is left as it was. See the type's contract for preparation.
    pub fn encode_value(&self, value: &RecordValue, topic: &str, out: &mut Vec<u8>) -> Result<(), AvroError> {
        self.encode(topic, &value.schema, &value.body, out)
    }

    /// [`encode_value`](Self::encode_value), preparing `(topic, value.schema)` first if needed.
    pub async fn encode_value_lazily(
        &self,
        value: &RecordValue,
        topic: &str,
        out: &mut Vec<u8>,
    ) -> Result<(), AvroError> {
        self.prepare(topic, &value.schema).await?;
        self.encode_value(value, topic, out)
    }

    /// Appends the Confluent-framed encoding of any serializable `body` with the prepared
    /// `schema` of `topic` to `out`. On error `out` is left as it was.
    pub fn encode<T: Serialize + ?Sized>(
        &self,
        topic: &str,
        schema: &str,
        body: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), AvroError> {
        let prepared = self.inner.prepared.read().unwrap_or_else(PoisonError::into_inner);
        let Some(entry) = prepared.get(topic).and_then(|by_schema| by_schema.get(schema)) else {
            return Err(AvroError::NotPrepared { topic: topic.to_owned(), schema: schema.to_owned() });
        };
        entry.encode(body, out)
    }
}
