//! How Tributary makes librdkafka clients: every client carries an [`ErrorWatch`] context,
//! which remembers the last error librdkafka reported (so a timeout can say why) and hands
//! librdkafka the OAUTHBEARER tokens of the client's config.

use std::fmt;
use std::sync::{Arc, Mutex};

use rdkafka::ClientContext;
use rdkafka::admin::AdminClient;
use rdkafka::client::OAuthToken;
use rdkafka::config::{ClientConfig, FromClientConfigAndContext};
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError;
use rdkafka::producer::{DeliveryResult, ProducerContext};

use super::diagnosis::{Diagnosis, diagnose};
use super::oauthbearer::{TokenSource, oauth_token, split};

/// A client context that remembers the last error librdkafka reported, so that a call that
/// timed out can say why, and hands librdkafka the OAUTHBEARER tokens of its config's
/// [`TokenSource`] (see [`crate::kafka::oauthbearer`]). Usable for admin clients, consumers and
/// producers that need no delivery reports.
#[derive(Default)]
pub struct ErrorWatch {
    seen: Mutex<Seen>,
    tokens: Option<Arc<TokenSource>>,
}

/// A client config ready for librdkafka and the context to create it with: Tributary's
/// OAUTHBEARER properties taken off into the context. Errors name the property.
pub fn watched(config: &ClientConfig) -> Result<(ClientConfig, ErrorWatch), String> {
    let (config, tokens) = split(config)?;
    Ok((config, ErrorWatch { seen: Mutex::default(), tokens }))
}

/// A client of type `T` made from `config` with an [`ErrorWatch`] (and the config's
/// OAUTHBEARER token source). Errors are librdkafka's, or name a Tributary property.
pub fn create<T: FromClientConfigAndContext<ErrorWatch>>(config: &ClientConfig) -> Result<T, String> {
    let (config, watch) = watched(config)?;
    config.create_with_context(watch).map_err(|e| e.to_string())
}

#[derive(Default, Clone)]
struct Seen {
    /// The last error, whatever it was.
    last: Option<String>,
    /// The last error that showed a configuration problem: a later "all brokers are down",
    /// which follows it, does not hide it.
    diagnosis: Option<Diagnosis>,
}

impl ErrorWatch {
    /// The OAUTHBEARER token source of the client's config, if any.
    pub(crate) fn tokens(&self) -> Option<&Arc<TokenSource>> {
        self.tokens.as_ref()
    }

    /// The last configuration problem seen, if any.
    pub fn diagnosis(&self) -> Option<Diagnosis> {
        self.seen().diagnosis
    }

    /// `reason` followed by what the client reported: the configuration problem when one was
    /// seen, else the last raw error.
    pub fn explain(&self, reason: impl fmt::Display) -> String {
        match self.seen() {
            Seen { diagnosis: Some(d), .. } => format!("{reason}: {d}"),
            Seen { last: Some(last), .. } => format!("{reason} (last client error: {last})"),
            Seen { .. } => reason.to_string(),
        }
    }

    fn seen(&self) -> Seen {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl ClientContext for ErrorWatch {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn generate_oauth_token(&self, _config: Option<&str>) -> Result<OAuthToken, Box<dyn std::error::Error>> {
        oauth_token(self.tokens.as_ref())
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!(error = %error, reason, "kafka client error");
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.last = Some(reason.to_owned());
        if let Some(diagnosis) = diagnose(error.rdkafka_error_code(), reason) {
            seen.diagnosis = Some(diagnosis);
        }
    }
}

impl ConsumerContext for ErrorWatch {}

impl ProducerContext for ErrorWatch {
    type DeliveryOpaque = ();

    fn delivery(&self, _result: &DeliveryResult<'_>, _opaque: ()) {}
}

/// An admin client for `config`, with an OAUTHBEARER token already set when the config names a
/// source. The token is not refreshed: an admin client must live shorter than a token (minutes
/// at least), as every one in Tributary does.
pub fn admin_client(config: &ClientConfig) -> Result<AdminClient<ErrorWatch>, String> {
    let (config, watch) = watched(config)?;
    let tokens = watch.tokens().cloned();
    let admin: AdminClient<ErrorWatch> = config.create_with_context(watch).map_err(|e| e.to_string())?;
    if let Some(source) = tokens {
        let token = source.token()?;
        super::oauthbearer::set_token(admin.inner().native_ptr(), &token)?;
    }
    Ok(admin)
}

#[cfg(test)]
mod tests {
    use rdkafka::error::RDKafkaErrorCode;

    use super::*;

    #[test]
    fn the_watch_explains_a_timeout_with_the_last_error() {
        let watch = ErrorWatch::default();
        assert_eq!(watch.explain("metadata timed out"), "metadata timed out");
        watch.error(KafkaError::ClientCreation("x".into()), "Connect to ipv4#127.0.0.1:1 failed: Connection refused");
        assert!(watch.explain("metadata timed out").contains("last client error: Connect to"));
        let refused = "sasl_ssl://127.0.0.1:1/bootstrap: SASL authentication error: Authentication failed";
        watch.error(KafkaError::Global(RDKafkaErrorCode::Authentication), refused);
        watch.error(KafkaError::Global(RDKafkaErrorCode::AllBrokersDown), "1/1 brokers are down");
        assert!(watch.explain("metadata timed out").contains("rejected the SASL credentials"));
    }
}
