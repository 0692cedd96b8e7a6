//! A Confluent-compatible schema registry: the client the runtime uses and an embedded server for development.
