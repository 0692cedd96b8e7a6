//! A Confluent-compatible schema registry: the client the runtime uses and an embedded server
//! for development.
//!
//! * [`RegistryClient`]: Confluent's REST API (v1) over HTTP, with timeouts, retries of transient
//!   failures, optional basic auth, and no caching of its own (see its module docs).
//! * [`EmbeddedRegistry`]: the same API served in-process from memory, for `schema_registry:
//!   embedded` and for tests.
//! * [`compat`]: compatibility levels and the checks the server enforces.

mod client;
pub mod compat;
mod error;
pub mod messages;
mod retry;
mod server;

pub use client::{BasicAuth, BearerAuth, RegistryClient, RegistryConfig, TlsFiles};
pub use compat::CompatibilityLevel;
pub use error::RegistryError;
pub use messages::SubjectVersion;
pub use retry::RetryPolicy;
pub use server::{EmbeddedRegistry, EmbeddedRegistryConfig, EmbeddedRegistryError, EmbeddedRegistryHandle};
pub use tributary_connector_api::Secret;

/// The full name of the named type a schema text defines (`namespace.name`), for messages;
/// `<unnamed schema>` when the text is not a named type.
pub(crate) fn schema_label(schema: &str) -> String {
    let Ok(serde_json::Value::Object(json)) = serde_json::from_str::<serde_json::Value>(schema) else {
        return "<unnamed schema>".to_owned();
    };
    let text = |key: &str| json.get(key).and_then(serde_json::Value::as_str).filter(|s| !s.is_empty());
    match (text("namespace"), text("name")) {
        (_, Some(name)) if name.contains('.') => name.to_owned(),
        (Some(namespace), Some(name)) => format!("{namespace}.{name}"),
        (None, Some(name)) => name.to_owned(),
        (_, None) => "<unnamed schema>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::schema_label;

    #[test]
    fn schema_labels_are_full_names() {
        assert_eq!(schema_label(r#"{"type":"record","name":"E","namespace":"a.b","fields":[]}"#), "a.b.E");
        assert_eq!(schema_label(r#"{"type":"record","name":"x.E","namespace":"a.b","fields":[]}"#), "x.E");
        assert_eq!(schema_label(r#""string""#), "<unnamed schema>");
    }
}
