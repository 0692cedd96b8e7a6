//! Tributary: a Kafka Connect-style source-connector runtime.
//!
//! The runtime knows no particular source: connectors implement [`api::Connector`], and
//! [`plugins::builtin`] is the one place that names the connectors the binary ships.

pub use tributary_connector_api as api;

pub mod avro;
pub mod check;
pub mod clients;
pub mod cluster;
pub mod config;
pub mod datagen;
pub mod instance;
pub mod kafka;
pub mod oauth;
pub mod offsets;
pub mod overview;
pub mod plugins;
pub mod reload;
pub mod rest;
pub mod runtime;
pub mod schema_registry;
pub mod state;
pub mod supervisor;
pub mod tail;
pub mod telemetry;
pub mod validate;
