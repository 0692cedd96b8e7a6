//! A Kafka producer of connector records (one instance's, or several instances' sharing it):
//! pipelined sends, back-pressure on a full queue, and each record's delivery report handed,
//! with the token it was sent with, to the producer's [`DeliveryReports`].
//!
//! librdkafka is configured for idempotence with `acks=all` and an unbounded delivery timeout
//! (`message.timeout.ms=0`), as Kafka Connect does with `delivery.timeout.ms=MAX`: transient
//! errors (a broker down, a leader moving) are retried inside librdkafka, in order, for as long as
//! it takes, and the queue filling up turns into back-pressure on the task. A delivery that still
//! fails is permanent: it is reported [`Refused`], and the report's receiver decides whether it
//! stops the producer.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use tokio::sync::Notify;

use super::failure::FirstFailure;
use crate::api::TaskError;

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
    /// A transactional producer was fenced: another producer with its `transactional.id` started.
    #[error("fenced: another producer with the same transactional.id took over ({0})")]
    Fenced(String),
}

impl From<ProduceError> for TaskError {
    fn from(e: ProduceError) -> Self {
        match e {
            ProduceError::Fatal(_) | ProduceError::Fenced(_) => TaskError::Fatal(e.to_string()),
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
            | C::OutOfOrderSequenceNumber,
        ) => ProduceError::Fatal(text),
        Some(C::InvalidProducerEpoch | C::ProducerFenced | C::Fenced) => ProduceError::Fenced(text),
        _ => ProduceError::Retriable(text),
    }
}

/// Where a producer's delivery reports go. Called on librdkafka's delivery thread, once for every
/// record sent: it must be quick and must not block.
pub trait DeliveryReports: Send + Sync + 'static {
    /// Given to [`InstanceProducer::send`] with a record, and back with the record's report.
    type Token: Send + Sync;

    /// Kafka acknowledged the record sent with `token` (`Ok`), or refused it for good. An error
    /// returned fails the producer: every later send returns it, and
    /// [`InstanceProducer::failed`] resolves with it.
    fn delivered(&self, token: Self::Token, outcome: Result<(), Refused<'_>>) -> Result<(), ProduceError>;
}

/// Kafka refused a record for good.
pub struct Refused<'a> {
    pub error: &'a KafkaError,
    /// The record's topic.
    pub topic: &'a str,
}

impl Refused<'_> {
    /// The refusal as a produce failure: fatal or retriable.
    pub fn classify(&self) -> ProduceError {
        classify(self.error, self.topic)
    }
}

/// State shared between the sending side and librdkafka's callback thread.
pub struct DeliveryContext<R> {
    reports: R,
    failure: FirstFailure<ProduceError>,
    delivered: Notify,
    /// Names the producer in logs: its connector, or that it is shared.
    label: Arc<str>,
    /// Where OAUTHBEARER tokens come from, when the config names a source.
    tokens: Option<Arc<super::oauthbearer::TokenSource>>,
}

impl<R> DeliveryContext<R> {
    fn fail(&self, error: ProduceError) {
        let shown = error.to_string();
        if self.failure.record(error) {
            tracing::error!(producer = %self.label, error = %shown, "produce failed");
        }
        self.delivered.notify_one();
    }
}

impl<R: DeliveryReports> ClientContext for DeliveryContext<R> {
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
            tracing::warn!(producer = %self.label, error = %error, reason, "kafka client error (retrying)");
        }
    }
}

impl<R: DeliveryReports> ProducerContext for DeliveryContext<R> {
    type DeliveryOpaque = Box<R::Token>;

    fn delivery(&self, result: &DeliveryResult<'_>, token: Box<R::Token>) {
        let outcome = match result {
            Ok(_) => Ok(()),
            Err((error, message)) => Err(Refused { error, topic: rdkafka::Message::topic(message) }),
        };
        if let Err(failure) = self.reports.delivered(*token, outcome) {
            self.fail(failure);
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

/// A producer of connector records (and their offset commits) that hands each delivery report to
/// `R`.
pub struct InstanceProducer<R: DeliveryReports> {
    producer: ThreadedProducer<DeliveryContext<R>>,
}

/// The defaults every producer starts from, before `kafka.producer` and per-connector overrides.
pub fn default_properties(bootstrap: &str, client_id: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("client.id", client_id)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("message.timeout.ms", "0")
        // Java's partitioner, so that keys land where Kafka Connect and Kafka Streams put them.
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "5");
    config
}

impl<R: DeliveryReports> InstanceProducer<R> {
    /// A producer for `config`; `label` names it in logs.
    pub fn new(config: &ClientConfig, label: Arc<str>, reports: R) -> Result<Self, ProduceError> {
        let (config, tokens) = super::oauthbearer::split(config).map_err(ProduceError::Fatal)?;
        let context =
            DeliveryContext { reports, failure: FirstFailure::default(), delivered: Notify::new(), label, tokens };
        for (key, weak) in [("enable.idempotence", "false"), ("acks", "1"), ("acks", "0")] {
            if config.get(key) == Some(weak) {
                tracing::warn!(producer = %context.label, "{key}={weak} weakens delivery guarantees");
            }
        }
        let producer = config
            .create_with_context(context)
            .map_err(|e| ProduceError::Fatal(format!("cannot create the kafka producer: {e}")))?;
        Ok(Self { producer })
    }

    /// The first permanent failure seen, if any.
    pub fn failure(&self) -> Option<ProduceError> {
        self.producer.context().failure.get()
    }

    /// Resolves with the first permanent failure.
    pub async fn failed(&self) -> ProduceError {
        self.producer.context().failure.wait().await
    }

    /// Hands one record to librdkafka without waiting for its delivery. Waits (back-pressure)
    /// while librdkafka's queue is full. The delivery report comes back with `token`.
    pub async fn send(&self, record: &Outgoing<'_>, token: R::Token) -> Result<(), ProduceError> {
        let mut token = Some(Box::new(token));
        loop {
            if let Some(failure) = self.failure() {
                return Err(failure);
            }
            let Some(opaque) = token.take() else {
                return Err(ProduceError::Retriable("delivery token lost".into()));
            };
            let mut base: BaseRecord<'_, [u8], [u8], Box<R::Token>> = BaseRecord::with_opaque_to(record.topic, opaque);
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
                    token = Some(back.delivery_opaque);
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

    /// Registers the config's `transactional.id` with the broker, fencing any earlier producer
    /// with the same id, and begins the first transaction. Blocks: use from `spawn_blocking`.
    pub fn init_transactions_blocking(&self, timeout: Duration) -> Result<(), TransactionError> {
        self.producer.init_transactions(timeout).map_err(TransactionError::from_kafka)?;
        self.producer.begin_transaction().map_err(TransactionError::from_kafka)
    }

    /// Commits the open transaction (everything sent since it began, after waiting for its
    /// delivery) and begins the next. Blocks: use from `spawn_blocking`.
    pub fn commit_transaction_blocking(&self, timeout: Duration) -> Result<(), TransactionError> {
        self.producer.commit_transaction(timeout).map_err(TransactionError::from_kafka)?;
        self.producer.begin_transaction().map_err(TransactionError::from_kafka)
    }

    /// Aborts the open transaction: nothing sent in it becomes visible to `read_committed`
    /// readers. Blocks: use from `spawn_blocking`.
    pub fn abort_transaction_blocking(&self, timeout: Duration) -> Result<(), TransactionError> {
        self.producer.abort_transaction(timeout).map_err(TransactionError::from_kafka)
    }
}

/// Why a transaction step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransactionError {
    /// Another producer with the same `transactional.id` started: this one may write nothing more.
    #[error("fenced: another producer with the same transactional.id took over ({0})")]
    Fenced(String),
    /// The transaction must be aborted; its records will be written again by a new run.
    #[error("transaction failed and must be aborted: {0}")]
    Abortable(String),
    /// The producer cannot go on (e.g. the broker has no transactions, or no permission).
    #[error("transactions unavailable: {0}")]
    Fatal(String),
}

impl TransactionError {
    fn from_kafka(error: KafkaError) -> Self {
        use RDKafkaErrorCode as C;
        let text = error.to_string();
        if let KafkaError::Transaction(e) = &error {
            if matches!(e.code(), C::ProducerFenced | C::InvalidProducerEpoch | C::Fenced) {
                return TransactionError::Fenced(text);
            }
            if e.txn_requires_abort() {
                return TransactionError::Abortable(text);
            }
            if e.is_retriable() {
                return TransactionError::Abortable(text);
            }
        }
        match error.rdkafka_error_code() {
            Some(C::ProducerFenced | C::InvalidProducerEpoch | C::Fenced) => TransactionError::Fenced(text),
            _ => TransactionError::Fatal(text),
        }
    }
}

impl From<TransactionError> for TaskError {
    fn from(e: TransactionError) -> Self {
        match e {
            TransactionError::Abortable(_) => TaskError::Retriable(e.to_string()),
            TransactionError::Fenced(_) | TransactionError::Fatal(_) => TaskError::Fatal(e.to_string()),
        }
    }
}
