"""Reads a topic Tributary wrote with Confluent's own Kafka consumer and Avro deserializer.

Usage: consume_datagen.py BOOTSTRAP REGISTRY_URL TOPIC COUNT TIMEOUT_S

Assigns every partition of TOPIC from the beginning (no consumer group), reads until COUNT
records arrived (or fails after TIMEOUT_S seconds), decodes each value with `AvroDeserializer`
through the registry at REGISTRY_URL, and prints one JSON line per record:
`{"partition", "offset", "timestamp", "key", "schema_id", "value"}`. Timestamps in the value
(Avro timestamp-millis, which the deserializer turns into datetimes) are printed as epoch
milliseconds. Exits 1 on any failure. With REGISTRY_CA set, an https registry's certificate is
checked against that CA file.
"""

import datetime
import json
import os
import struct
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def plain(value):
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return (value - EPOCH) // datetime.timedelta(milliseconds=1)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def main():
    bootstrap, registry_url, topic, count, timeout = sys.argv[1:6]
    count, deadline = int(count), time.monotonic() + float(timeout)

    registry_conf = {"url": registry_url}
    if os.environ.get("REGISTRY_CA"):
        registry_conf["ssl.ca.location"] = os.environ["REGISTRY_CA"]
    registry = SchemaRegistryClient(registry_conf)
    deserializer = AvroDeserializer(registry)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "python-interop",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
        }
    )
    metadata = consumer.list_topics(topic, timeout=10)
    partitions = metadata.topics[topic].partitions
    if not partitions:
        sys.exit(f"topic {topic} has no partitions")
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])

    seen = 0
    while seen < count:
        if time.monotonic() > deadline:
            sys.exit(f"only {seen} of {count} records within {timeout} s")
        message = consumer.poll(0.2)
        if message is None:
            continue
        if message.error():
            sys.exit(f"consume error: {message.error()}")
        raw = message.value()
        magic, schema_id = struct.unpack(">bI", raw[:5])
        if magic != 0:
            sys.exit(f"value at {message.partition()}/{message.offset()} is not Confluent-framed")
        value = deserializer(raw, SerializationContext(topic, MessageField.VALUE))
        key = message.key()
        line = {
            "partition": message.partition(),
            "offset": message.offset(),
            "timestamp": message.timestamp()[1],
            "key": key.decode("utf-8") if key is not None else None,
            "schema_id": schema_id,
            "value": plain(value),
        }
        print(json.dumps(line), flush=True)
        seen += 1
    consumer.close()


if __name__ == "__main__":
    main()
