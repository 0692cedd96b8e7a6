//! The clients a config's sections describe: the librdkafka properties every Kafka client
//! starts from, and the schema-registry client.

use rdkafka::config::ClientConfig;

use crate::config;
use crate::oauth::ClientCredentials;
use crate::schema_registry::{BearerAuth, RegistryClient, RegistryConfig, RegistryError, TlsFiles};

/// The client properties every Kafka client starts from: bootstrap plus the `extra` section.
pub fn client_config(bootstrap: &str, extra: &config::Properties) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap);
    for (key, value) in extra {
        c.set(key, value.to_string());
    }
    c
}

/// The registry client for a config's `schema_registry` section and a resolved URL. Fails on
/// what can be known before any request: a bad URL, unreadable TLS files, half-given credentials.
pub fn registry_client(section: &config::RegistryConfig, url: &str) -> Result<RegistryClient, RegistryError> {
    let mut rc = RegistryConfig::new(url);
    if let Some(auth) = &section.basic_auth {
        rc = rc.with_basic_auth(auth.username.clone(), auth.password.clone());
    }
    if let Some(bearer) = &section.bearer_auth {
        rc.bearer = Some(bearer_auth(bearer)?);
        rc.headers.extend(bearer.logical_cluster.iter().map(|c| ("target-sr-cluster".to_owned(), c.clone())));
        rc.headers.extend(bearer.identity_pool_id.iter().map(|p| ("Confluent-Identity-Pool-Id".to_owned(), p.clone())));
    }
    rc.tls = TlsFiles {
        ca_location: section.ssl_ca_location.clone(),
        certificate_location: section.ssl_certificate_location.clone(),
        key_location: section.ssl_key_location.clone(),
    };
    rc.proxy = section.proxy.clone();
    rc.request_timeout = section.request_timeout.get();
    rc.connect_timeout = section.connect_timeout.get();
    rc.retry.max_attempts = section.max_attempts.max(1);
    RegistryClient::new(rc)
}

fn bearer_auth(bearer: &config::BearerAuth) -> Result<BearerAuth, RegistryError> {
    let oauth = (&bearer.client_id, &bearer.client_secret, &bearer.token_endpoint_url);
    match (&bearer.token, oauth) {
        (Some(token), (None, None, None)) => Ok(BearerAuth::Static(token.clone())),
        (None, (Some(id), Some(secret), Some(endpoint))) => Ok(BearerAuth::ClientCredentials(ClientCredentials {
            token_endpoint_url: endpoint.clone(),
            client_id: id.clone(),
            client_secret: secret.clone(),
            scope: bearer.scope.clone(),
        })),
        _ => Err(RegistryError::Client(
            "bearer_auth takes either `token`, or all of `client_id`, `client_secret` and `token_endpoint_url`".into(),
        )),
    }
}
