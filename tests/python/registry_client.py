"""Checks Tributary's embedded schema registry and Avro framing with Confluent's own Python client.

Usage: registry_client.py REGISTRY_URL RUST_VALUE_HEX RUST_RECORD_JSON

* REGISTRY_URL      base URL of a running embedded registry (fresh: no subjects yet except the
                    one Tributary's encoder registered, `rust-topic-value`)
* RUST_VALUE_HEX    a value framed and encoded by Tributary's Encoder for topic `rust-topic`
* RUST_RECORD_JSON  the record that value holds, as JSON

Prints one `ok: ...` line per check, then `PY_VALUE <hex>` (a value framed by Confluent's
AvroSerializer) and `PY_RECORD <json>` (the record in it, bytes as latin-1 text) for the caller
to decode with Tributary's Decoder. Exits 1 on the first failed check.
"""

import json
import struct
import sys

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

# Must describe the same record as the schema the Rust side encodes with (field order and
# whitespace differ on purpose: the registry compares schemas, not texts).
SCHEMA = {
    "type": "record",
    "namespace": "test.interop",
    "name": "Conversation",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "seq", "type": "long"},
        {"name": "parts", "type": "int"},
        {"name": "state", "type": {"type": "enum", "name": "State", "symbols": ["OPEN", "CLOSED"]}},
        {"name": "queue", "type": ["null", "string"], "default": None},
        {
            "name": "agent",
            "type": [
                "null",
                {
                    "type": "record",
                    "name": "Agent",
                    "fields": [{"name": "name", "type": "string"}, {"name": "skills", "type": {"type": "array", "items": "string"}}],
                },
            ],
            "default": None,
        },
        {"name": "attrs", "type": {"type": "map", "values": "string"}},
        {"name": "raw", "type": "bytes"},
        {"name": "score", "type": "double"},
        {"name": "live", "type": "boolean"},
    ],
}

# A new required field without a default: not BACKWARD compatible.
INCOMPATIBLE = dict(SCHEMA, fields=SCHEMA["fields"] + [{"name": "must", "type": "string"}])
# A new field with a default: BACKWARD compatible.
COMPATIBLE = dict(SCHEMA, fields=SCHEMA["fields"] + [{"name": "extra", "type": "int", "default": 0}])

PY_RECORD = {
    "id": "conv-py",
    "seq": 2**40 + 1,
    "parts": -3,
    "state": "OPEN",
    "queue": None,
    "agent": {"name": "ann", "skills": ["fr", "en"]},
    "attrs": {"k": "v", "empty": ""},
    "raw": b"\x00\xffA",
    "score": -1.25,
    "live": True,
}


def check(condition, what):
    if not condition:
        print(f"FAILED: {what}", flush=True)
        sys.exit(1)
    print(f"ok: {what}", flush=True)


def as_json(record):
    """The record as Tributary's Decoder shows it: bytes as one character per byte."""
    return {k: (v.decode("latin-1") if isinstance(v, bytes) else v) for k, v in record.items()}


def expect_error(call, status, code, what):
    try:
        call()
    except SchemaRegistryError as e:
        check(
            e.http_status_code == status and e.error_code == code,
            f"{what}: HTTP {e.http_status_code}, error code {e.error_code}, message {e.error_message!r}",
        )
        return e
    check(False, f"{what}: expected HTTP {status} / {code}, got success")


def main():
    url, rust_hex, rust_record_json = sys.argv[1], sys.argv[2], sys.argv[3]
    sr = SchemaRegistryClient({"url": url, "timeout": 10})
    schema_text = json.dumps(SCHEMA, indent=2)
    subject = "py-topic-value"

    # Registration, idempotence, reads.
    schema_id = sr.register_schema(subject, Schema(schema_text, "AVRO"))
    check(isinstance(schema_id, int) and schema_id > 0, f"registered {subject} with id {schema_id}")
    again = SchemaRegistryClient({"url": url}).register_schema(subject, Schema(json.dumps(SCHEMA), "AVRO"))
    check(again == schema_id, f"same schema again gives the same id ({again})")
    fetched = SchemaRegistryClient({"url": url}).get_schema(schema_id)
    check(json.loads(fetched.schema_str)["name"] == "Conversation", "schema fetched by id")
    latest = sr.get_latest_version(subject)
    check(latest.schema_id == schema_id and latest.version == 1 and latest.subject == subject, "latest version")
    found = sr.lookup_schema(subject, Schema(schema_text, "AVRO"))
    check(found.schema_id == schema_id and found.version == 1, "lookup of a registered schema")
    check(sr.get_versions(subject) == [1], "versions list")
    subjects = sr.get_subjects()
    check(subject in subjects and "rust-topic-value" in subjects, f"subjects {subjects}")
    expect_error(lambda: sr.get_latest_version("no-such-subject"), 404, 40401, "unknown subject")
    expect_error(lambda: sr.get_version(subject, 9), 404, 40402, "unknown version")
    expect_error(lambda: SchemaRegistryClient({"url": url}).get_schema(9999), 404, 40403, "unknown schema id")
    expect_error(
        lambda: sr.register_schema("bad-value", Schema('{"type": "record", "name": "X"}', "AVRO")),
        422,
        42201,
        "invalid schema",
    )

    # Compatibility.
    check(sr.get_compatibility() == "BACKWARD", "global compatibility is BACKWARD")
    check(not sr.test_compatibility(subject, Schema(json.dumps(INCOMPATIBLE), "AVRO")), "test_compatibility: new field without default is incompatible")
    check(sr.test_compatibility(subject, Schema(json.dumps(COMPATIBLE), "AVRO")), "test_compatibility: new field with default is compatible")
    err = expect_error(lambda: sr.register_schema(subject, Schema(json.dumps(INCOMPATIBLE), "AVRO")), 409, 409, "incompatible registration rejected")
    check(subject in err.error_message, "409 message names the subject")
    check(sr.register_schema(subject, Schema(json.dumps(COMPATIBLE), "AVRO")) > schema_id, "compatible evolution registered")
    check(sr.get_versions(subject) == [1, 2], "two versions now")
    check(sr.set_compatibility(subject, "none") == {"compatibility": "NONE"}, "subject level set to NONE")
    check(sr.get_compatibility(subject) == "NONE", "subject level reads back")
    check(sr.register_schema(subject, Schema(json.dumps(INCOMPATIBLE), "AVRO")) > 0, "incompatible accepted under NONE")

    # Confluent's deserializer reads what Tributary's encoder wrote.
    rust_value = bytes.fromhex(rust_hex)
    magic, rust_id = struct.unpack(">bI", rust_value[:5])
    check(magic == 0, f"Tributary framing: magic byte 0, schema id {rust_id}")
    check(rust_id == schema_id, "the same schema under another subject has the same global id")
    deserializer = AvroDeserializer(sr)
    decoded = deserializer(rust_value, SerializationContext("rust-topic", MessageField.VALUE))
    check(as_json(decoded) == json.loads(rust_record_json), f"AvroDeserializer decoded Tributary's bytes: {as_json(decoded)}")

    # Tributary's decoder will read what Confluent's serializer writes (checked by the caller).
    serializer = AvroSerializer(sr, json.dumps(SCHEMA), conf={"auto.register.schemas": True})
    py_value = serializer(PY_RECORD, SerializationContext("py2-topic", MessageField.VALUE))
    check(py_value[0] == 0 and struct.unpack(">I", py_value[1:5])[0] == schema_id, "AvroSerializer framing and id")
    round_trip = deserializer(py_value, SerializationContext("py2-topic", MessageField.VALUE))
    check(round_trip == PY_RECORD, "Confluent round trip through the embedded registry")
    print(f"PY_VALUE {py_value.hex()}", flush=True)
    print(f"PY_RECORD {json.dumps(as_json(PY_RECORD))}", flush=True)


if __name__ == "__main__":
    main()
