//! Avro schemas, Confluent wire format, encoding and decoding.
