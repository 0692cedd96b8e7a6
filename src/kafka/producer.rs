//! One connector instance's Kafka producer: pipelined sends, back-pressure on a full queue, and
//! delivery results routed to the instance's ack tracker.
//!
//! librdkafka is configured for idempotence with `acks=all` and an unbounded delivery timeout
//! (`message.timeout.ms=0`), as Kafka Connect does with `delivery.timeout.ms=MAX`: transient
//! errors (a broker down, a leader moving) are retried inside librdkafka, in order, for as long as
//! it takes, and the queue filling up turns into back-pressure on the task. A delivery that still
//! fails is permanent: the instance stops with the reason, and its offsets never move past the
//! failed record.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use tokio::sync::{Notify, oneshot, watch};

use crate::api::TaskError;
use crate::offsets::{AckTracker, Ticket};

/// A produce failure, classified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProduceError {
    /// Will not clear up by retrying (authorization, unknown topic, record too large, a fatal
    /// idempotence error): the connector goes FAILED with this reason.
    #[error("kafka refused records for good: {0}")]
    Fatal(String),
    /// May clear up (e.g. a delivery timeout the user configured): restart from the last commit.
    #[error("kafka produce failed: {0}")]
    Retriable(String),
}

impl From<ProduceError> for TaskError {
    fn from(e: ProduceError) -> Self {
        match e {
            ProduceError::Fatal(_) => TaskError::Fatal(e.to_string()),
            ProduceError::Retriable(_) => TaskError::Retriable(e.to_string()),
        }
    }
}

/// Sorts a librdkafka error into fatal or retriable.
pub fn classify(error: &KafkaError, topic: &str) -> ProduceError {
    use RDKafkaErrorCode as C;
    let code = error.rdkafka_error_code();
    let text = match code {
        Some(C::UnknownTopicOrPartition | C::UnknownTopic) => {
            format!("topic `{topic}` does not exist and the broker does not create it ({error})")
        }
        Some(C::TopicAuthorizationFailed) => format!("not authorized to write to topic `{topic}` ({error})"),
        _ => format!("{error} (topic `{topic}`)"),
    };
    match code {
        Some(
            C::UnknownTopicOrPartition
            | C::UnknownTopic
            | C::TopicAuthorizationFailed
            | C::ClusterAuthorizationFailed
            | C::TransactionalIdAuthorizationFailed
            | C::SaslAuthenticationFailed
            | C::Authentication
            | C::MessageSizeTooLarge
            | C::InvalidMessageSize
            | C::InvalidRecord
            | C::InvalidTopic
            | C::PolicyViolation
            | C::Fatal
            | C::InvalidArgument
            | C::UnsupportedVersion
            | C::InvalidProducerEpoch
            | C::ProducerFenced
            | C::OutOfOrderSequenceNumber,
        ) => ProduceError::Fatal(text),
        _ => ProduceError::Retriable(text),
    }
}

/// What a delivery report belongs to.
pub enum Delivery {
    Record {
        ticket: Ticket,
        sent: Instant,
    },
    /// One record of an offsets commit.
    Commit(Arc<CommitBatch>),
}

/// Records still unacknowledged, the first error, and who to tell when all are in.
type BatchState = (usize, Option<String>, Option<oneshot::Sender<Result<(), String>>>);

/// Waits for the records of one offsets commit.
pub struct CommitBatch {
    state: Mutex<BatchState>,
}

impl CommitBatch {
    pub fn new(records: usize) -> (Arc<Self>, oneshot::Receiver<Result<(), String>>) {
        let (tx, rx) = oneshot::channel();
        let batch = Arc::new(Self { state: Mutex::new((records, None, Some(tx))) });
        if records == 0 {
            batch.done(None);
        }
        (batch, rx)
    }

    fn done(&self, error: Option<String>) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.0 = state.0.saturating_sub(1);
        if state.1.is_none() {
            state.1 = error;
        }
        if state.0 == 0
            && let Some(tx) = state.2.take()
        {
            let _ = tx.send(state.1.take().map_or(Ok(()), Err));
        }
    }
}

/// State shared between the sending side and librdkafka's callback thread.
pub struct DeliveryContext {
    tracker: Arc<AckTracker>,
    failure: watch::Sender<Option<ProduceError>>,
    /// Set once `failure` holds an error: checked before every send, without taking its lock.
    failed: AtomicBool,
    delivered: Notify,
    connector: Arc<str>,
    ack_latency: metrics::Histogram,
    produce_errors: metrics::Counter,
    /// Where OAUTHBEARER tokens come from, when the config names a source.
    tokens: Option<Arc<super::oauthbearer::TokenSource>>,
}

impl DeliveryContext {
    fn fail(&self, error: ProduceError) {
        self.failure.send_if_modified(|failure| {
            if failure.is_some() {
                return false;
            }
            tracing::error!(connector = %self.connector, error = %error, "produce failed");
            *failure = Some(error);
            true
        });
        self.failed.store(true, Ordering::Release);
        self.delivered.notify_one();
    }
}

impl ClientContext for DeliveryContext {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn generate_oauth_token(
        &self,
        _config: Option<&str>,
    ) -> Result<rdkafka::client::OAuthToken, Box<dyn std::error::Error>> {
        super::oauthbearer::oauth_token(self.tokens.as_ref())
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::Fatal) {
            self.fail(ProduceError::Fatal(format!("fatal producer error: {reason}")));
        } else if let Some(diagnosis) = super::diagnose(error.rdkafka_error_code(), reason) {
            // A refused login or an untrusted certificate does not clear up by retrying: without
            // this, records would wait in librdkafka's queue forever (no delivery timeout).
            self.fail(ProduceError::Fatal(format!("cannot connect to kafka: {diagnosis} ({reason})")));
        } else {
            tracing::warn!(connector = %self.connector, error = %error, reason, "kafka client error (retrying)");
        }
    }
}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = Box<Delivery>;

    fn delivery(&self, result: &DeliveryResult<'_>, opaque: Box<Delivery>) {
        match *opaque {
            Delivery::Record { ticket, sent } => match result {
                Ok(_) => {
                    self.tracker.ack(ticket);
                    self.ack_latency.record(sent.elapsed().as_secs_f64());
                }
                Err((error, message)) => {
                    self.tracker.fail(ticket);
                    let topic = rdkafka::Message::topic(message).to_owned();
                    self.produce_errors.increment(1);
                    self.fail(classify(error, &topic));
                }
            },
            Delivery::Commit(batch) => batch.done(result.as_ref().err().map(|(e, _)| e.to_string())),
        }
        self.delivered.notify_one();
    }
}

/// One outgoing record.
pub struct Outgoing<'a> {
    pub topic: &'a str,
    pub key: Option<&'a [u8]>,
    pub payload: Option<&'a [u8]>,
    pub timestamp_ms: Option<i64>,
    pub headers: &'a [(String, Vec<u8>)],
}

/// The producer of one connector instance: its records and its offset commits.
pub struct InstanceProducer {
    producer: ThreadedProducer<DeliveryContext>,
}

/// The defaults every producer starts from, before `kafka.producer` and per-connector overrides.
pub fn default_properties(bootstrap: &str, connector: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("client.id", format!("tributary-{connector}"))
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("message.timeout.ms", "0")
        // Java's partitioner, so that keys land where Kafka Connect and Kafka Streams put them.
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "5");
    config
}

impl InstanceProducer {
    pub fn new(config: &ClientConfig, connector: Arc<str>, tracker: Arc<AckTracker>) -> Result<Self, ProduceError> {
        let label = connector.to_string();
        let (config, tokens) = super::oauthbearer::split(config).map_err(ProduceError::Fatal)?;
        let context = DeliveryContext {
            tracker,
            failure: watch::Sender::new(None),
            failed: AtomicBool::new(false),
            delivered: Notify::new(),
            ack_latency: metrics::histogram!("tributary_ack_latency_seconds", "connector" => label.clone()),
            produce_errors: metrics::counter!("tributary_produce_errors_total", "connector" => label),
            connector,
            tokens,
        };
        for (key, weak) in [("enable.idempotence", "false"), ("acks", "1"), ("acks", "0")] {
            if config.get(key) == Some(weak) {
                tracing::warn!(connector = %context.connector, "{key}={weak} weakens delivery guarantees");
            }
        }
        let producer = config
            .create_with_context(context)
            .map_err(|e| ProduceError::Fatal(format!("cannot create the kafka producer: {e}")))?;
        Ok(Self { producer })
    }

    /// The first permanent failure seen, if any.
    pub fn failure(&self) -> Option<ProduceError> {
        if !self.producer.context().failed.load(Ordering::Acquire) {
            return None;
        }
        self.producer.context().failure.borrow().clone()
    }

    /// Resolves with the first permanent failure.
    pub async fn failed(&self) -> ProduceError {
        let mut rx = self.producer.context().failure.subscribe();
        let failure = rx.wait_for(Option::is_some).await.ok().and_then(|f| f.clone());
        match failure {
            Some(failure) => failure,
            // The sender lives as long as the producer, which outlives this call.
            None => std::future::pending().await,
        }
    }

    /// Hands one record to librdkafka without waiting for its delivery. Waits (back-pressure)
    /// while librdkafka's queue is full. The delivery report goes to `delivery`.
    pub async fn send(&self, record: &Outgoing<'_>, delivery: Box<Delivery>) -> Result<(), ProduceError> {
        let mut delivery = Some(delivery);
        loop {
            if let Some(failure) = self.failure() {
                return Err(failure);
            }
            let Some(opaque) = delivery.take() else {
                return Err(ProduceError::Retriable("delivery token lost".into()));
            };
            let mut base: BaseRecord<'_, [u8], [u8], Box<Delivery>> = BaseRecord::with_opaque_to(record.topic, opaque);
            if let Some(key) = record.key {
                base = base.key(key);
            }
            if let Some(payload) = record.payload {
                base = base.payload(payload);
            }
            if let Some(ts) = record.timestamp_ms {
                base = base.timestamp(ts);
            }
            if !record.headers.is_empty() {
                let headers = record
                    .headers
                    .iter()
                    .fold(OwnedHeaders::new(), |h, (k, v)| h.insert(Header { key: k, value: Some(v) }));
                base = base.headers(headers);
            }
            match self.producer.send(base) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    delivery = Some(back.delivery_opaque);
                    let notified = self.producer.context().delivered.notified();
                    let _ = tokio::time::timeout(Duration::from_millis(20), notified).await;
                }
                Err((error, _)) => return Err(classify(&error, record.topic)),
            }
        }
    }

    /// Waits until every record handed over so far is delivered or failed, up to `timeout`.
    /// Blocks the calling thread: use from `spawn_blocking`.
    pub fn flush_blocking(&self, timeout: Duration) -> Result<(), ProduceError> {
        self.producer.flush(timeout).map_err(|e| ProduceError::Retriable(format!("flush: {e}")))
    }

    /// Records handed to librdkafka and not yet reported.
    pub fn in_flight(&self) -> i32 {
        self.producer.in_flight_count()
    }
}
