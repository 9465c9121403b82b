"""What docs/python.md ("Migrating") says is the same as confluent-kafka, checked against
confluent-kafka itself (requirements-dev.txt) on the same broker, read back with Kafka's consumer."""
import asyncio
import os
import subprocess
import uuid

import confluent_kafka
import pytest

import rafka
from rafka import KafkaException
from rafka.aio import AIOProducer
from test_producer import ROOT, bootstrap, consume, new_topic, raw

KEYS = [b"user-%d" % i for i in range(40)]


def partitions_read_back(topic, n):
    """key -> partition of the records Kafka's consumer reads from `topic`."""
    return {raw(r, "key"): r["partition"] for r in consume(topic, n)}


def produce_keys(producer, topic):
    for k in KEYS:
        producer.produce(topic, b"v", key=k)
    assert producer.flush(30) == 0


def test_consistent_random_places_keys_as_confluent_kafkas_default_partitioner_does():
    theirs, ours = new_topic(7), new_topic(7)
    ck = confluent_kafka.Producer({"bootstrap.servers": bootstrap()})
    produce_keys(ck, theirs)
    p = rafka.Producer({"bootstrap.servers": bootstrap(), "partitioner": "consistent_random"})
    produce_keys(p, ours)
    p.close()
    want = partitions_read_back(theirs, len(KEYS))
    assert len(set(want.values())) > 1
    assert partitions_read_back(ours, len(KEYS)) == want


def test_default_partitioner_places_keys_by_murmur2_as_java_and_aiokafka_do_not_as_confluent_kafka():
    topic = new_topic(7)
    p = rafka.Producer({"bootstrap.servers": bootstrap()})
    produce_keys(p, topic)
    p.close()
    got = partitions_read_back(topic, len(KEYS))
    # confluent_kafka.murmur2 is librdkafka's murmur2 partitioner: Java's placement of a key.
    assert got == {k: confluent_kafka.murmur2(k, 7) for k in KEYS}
    assert got != {k: confluent_kafka.consistent(k, 7) for k in KEYS}


def test_producer_is_true_with_nothing_queued_as_confluent_kafkas_is():
    ck = confluent_kafka.Producer({"bootstrap.servers": bootstrap()})
    p = rafka.Producer({"bootstrap.servers": bootstrap()})
    assert (len(p), bool(p)) == (len(ck), bool(ck)) == (0, True)
    p.close()


def test_cluster_id_is_the_one_confluent_kafka_reports():
    ck = confluent_kafka.Producer({"bootstrap.servers": bootstrap()})
    want = ck.cluster_id(30)
    p = rafka.Producer({"bootstrap.servers": bootstrap()})
    assert p.cluster_id(30) == want
    p.close()

    async def aio():
        async with AIOProducer({"bootstrap.servers": bootstrap()}) as a:
            return await a.cluster_id(30)

    assert asyncio.run(aio()) == want


def test_timestamp_type_constants_have_confluent_kafkas_values():
    for name in ("TIMESTAMP_NOT_AVAILABLE", "TIMESTAMP_CREATE_TIME", "TIMESTAMP_LOG_APPEND_TIME"):
        assert getattr(rafka, name) == getattr(confluent_kafka, name)
    topic = new_topic()
    p = rafka.Producer({"bootstrap.servers": bootstrap()})
    got = []
    p.produce(topic, b"v", timestamp=1700000000123, on_delivery=lambda e, m: got.append(m.timestamp()))
    p.flush(30)
    p.close()
    assert got == [(rafka.TIMESTAMP_CREATE_TIME, 1700000000123)]
    assert consume(topic, 1)[0]["timestamp"] == 1700000000123


def test_timestamp_on_a_log_append_time_topic_is_the_brokers_with_confluent_kafkas_type():
    topic = "py-lat-" + uuid.uuid4().hex[:10]
    subprocess.run([os.path.join(ROOT, "scripts/kafka"), "topic", "create", topic, "--partitions", "1",
                    "--config", "message.timestamp.type=LogAppendTime"], check=True, capture_output=True)
    theirs, ours = [], []
    ck = confluent_kafka.Producer({"bootstrap.servers": bootstrap()})
    ck.produce(topic, b"v", timestamp=1000, on_delivery=lambda e, m: theirs.append(m.timestamp()))
    ck.flush(30)
    p = rafka.Producer({"bootstrap.servers": bootstrap()})
    p.produce(topic, b"v", timestamp=1000, on_delivery=lambda e, m: ours.append(m.timestamp()))
    p.flush(30)
    p.close()
    assert theirs[0][0] == confluent_kafka.TIMESTAMP_LOG_APPEND_TIME
    assert ours[0][0] == rafka.TIMESTAMP_LOG_APPEND_TIME
    # The broker's append time, as Kafka's consumer reads it back, not the 1000 given.
    stored = [r["timestamp"] for r in consume(topic, 2)]
    assert ours[0][1] == stored[1] and ours[0][1] > 1000


def test_aio_partitions_for_returns_the_partition_ids_and_raises_for_a_missing_topic():
    topic = new_topic(3)
    missing = "py-missing-" + topic

    async def aio():
        async with AIOProducer({"bootstrap.servers": bootstrap()}) as a:
            ids = await a.partitions_for(topic)
            with pytest.raises(KafkaException) as e:
                await a.partitions_for(missing)
            return ids, e.value.args[0]

    ids, err = asyncio.run(aio())
    assert ids == {0, 1, 2}
    assert err.code() == rafka.KafkaError.UNKNOWN_TOPIC_OR_PART
    # Asking created nothing.
    md = confluent_kafka.Producer({"bootstrap.servers": bootstrap()}).list_topics(missing, timeout=30)
    assert md.topics[missing].error is not None


def test_delivery_report_carries_the_records_headers_where_confluent_kafkas_has_none():
    topic = new_topic()
    headers = [("trace", b"t1"), ("empty", None)]
    theirs, ours = [], []
    ck = confluent_kafka.Producer({"bootstrap.servers": bootstrap()})
    ck.produce(topic, b"v", headers=headers, on_delivery=lambda e, m: theirs.append(m.headers()))
    ck.flush(30)
    p = rafka.Producer({"bootstrap.servers": bootstrap()})
    p.produce(topic, b"v", headers=headers, on_delivery=lambda e, m: ours.append(m.headers()))
    p.flush(30)
    p.close()
    assert theirs == [None]
    assert ours == [headers]
    assert [r["headers"] for r in consume(topic, 2)][1] == [{"key": "trace", "value": "t1"}, {"key": "empty", "value": None}]


def test_unknown_configuration_key_raises_kafka_exception_with_invalid_config():
    with pytest.raises(KafkaException) as ours:
        rafka.Producer({"bootstrap.servers": bootstrap(), "bootstrap_servers": bootstrap()})
    with pytest.raises(confluent_kafka.KafkaException) as theirs:
        confluent_kafka.Producer({"bootstrap.servers": bootstrap(), "bootstrap_servers": bootstrap()})
    assert ours.value.args[0].code() == rafka.KafkaError._INVALID_CONFIG
    assert "did you mean 'bootstrap.servers'" in ours.value.args[0].str()
    assert theirs.value.args[0].code() == confluent_kafka.KafkaError._INVALID_ARG
