//! Schema registry clients for reading back what a runtime registered: quick to give up, and a
//! bounded wait for a subject's first schema.

use std::time::Duration;

use tributary::avro::Decoder;
use tributary::schema_registry::{
    EmbeddedRegistry, EmbeddedRegistryConfig, EmbeddedRegistryHandle, RegistryClient, RegistryConfig,
};

use crate::wait::wait_for;

/// A registry client that gives up quickly.
pub fn registry(url: &str) -> RegistryClient {
    let mut config = RegistryConfig::new(url);
    config.request_timeout = Duration::from_secs(5);
    config.connect_timeout = Duration::from_secs(2);
    RegistryClient::new(config).expect("registry client")
}

/// A decoder of Confluent-framed Avro whose schemas come from [`registry`]`(url)`.
pub fn decoder(url: &str) -> Decoder {
    Decoder::new(registry(url))
}

/// The id of the latest schema under `subject`, once a connector has registered it (30 s at most).
pub async fn registered_id(registry_url: &str, subject: &str) -> u32 {
    let client = registry(registry_url);
    wait_for(Duration::from_secs(30), &format!("a schema under `{subject}`"), || {
        let client = client.clone();
        async move { client.latest(subject).await.ok().map(|v| v.id) }
    })
    .await
}

/// An embedded registry on a free loopback port that outlives the runs of a test, as a real one
/// would. Shut it down with `shutdown().await`.
pub async fn standalone_registry() -> EmbeddedRegistryHandle {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    EmbeddedRegistry::start_with(EmbeddedRegistryConfig::new(addr)).await.expect("registry starts")
}
