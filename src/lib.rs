//! Tributary: a Kafka Connect-style source-connector runtime.
pub use tributary_connector_api as api;
