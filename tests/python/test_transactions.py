"""Transactions through rafka.Producer (confluent-kafka's methods) against the real broker, read
back with Kafka's Java consumer (scripts/kafka consume --read-committed) and, for the group's
offsets, Kafka's kafka-consumer-groups (scripts/kafka group offsets)."""
import json
import os
import subprocess
import time
import uuid

import pytest

import rafka
from rafka import ConsumerGroupMetadata, KafkaError, KafkaException, TopicPartition

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KAFKA = os.path.join(ROOT, "scripts/kafka")
T = 30.0


def bootstrap():
    b = os.environ.get("RAFKA_BOOTSTRAP")
    if not b:
        pytest.fail("RAFKA_BOOTSTRAP is not set: these tests need a running broker")
    return b


def unique(tag):
    return "py-%s-%s" % (tag, uuid.uuid4().hex[:10])


def new_topic(partitions=1):
    name = unique("txn")
    subprocess.run([KAFKA, "topic", "create", name, "--partitions", str(partitions)], check=True, capture_output=True)
    return name


def consume(topic, read_committed):
    """Every record up to the end offsets, by Kafka's own consumer: their values as str."""
    cmd = [KAFKA, "consume", topic] + (["--read-committed"] if read_committed else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [json.loads(l)["value"] for l in out.splitlines() if l.strip().startswith("{")]


def group_offsets(group):
    """{(topic, partition): offset} committed by `group`, by Kafka's kafka-consumer-groups."""
    out = subprocess.run([KAFKA, "group", "offsets", group], check=True, capture_output=True, text=True).stdout
    rows = [json.loads(l) for l in out.splitlines() if l.strip().startswith("{")]
    return {(r["topic"], r["partition"]): r["offset"] for r in rows}


def txn_producer(txn_id, **extra):
    conf = {"bootstrap.servers": bootstrap(), "transactional.id": txn_id, "linger.ms": 2}
    conf.update(extra)
    return rafka.Producer(conf)


def error_of(excinfo):
    err = excinfo.value.args[0]
    assert isinstance(err, KafkaError)
    return err


def test_committed_records_are_visible_to_read_committed_and_aborted_ones_only_to_read_uncommitted():
    topic = new_topic(2)
    p = txn_producer(unique("id"))
    p.init_transactions(T)
    p.begin_transaction()
    for i in range(4):
        p.produce(topic, value="committed", partition=i % 2)
    p.commit_transaction(T)
    p.begin_transaction()
    for i in range(3):
        p.produce(topic, value="aborted", partition=i % 2)
    assert p.flush(T) == 0  # written to the log, then aborted
    p.abort_transaction(T)
    p.begin_transaction()
    p.produce(topic, value="committed", partition=0)
    p.commit_transaction(T)
    p.close(T)

    assert sorted(consume(topic, read_committed=True)) == ["committed"] * 5
    assert sorted(consume(topic, read_committed=False)) == ["aborted"] * 3 + ["committed"] * 5


def test_abort_fails_unsent_records_in_their_delivery_reports():
    topic = new_topic()
    p = txn_producer(unique("id"), **{"linger.ms": 60000, "batch.size": 1000000})
    p.init_transactions(T)
    p.begin_transaction()
    reports = []
    for _ in range(3):
        p.produce(topic, value="never", on_delivery=lambda e, m: reports.append(e))
    p.abort_transaction(T)  # serves the reports, as flush() does
    assert len(reports) == 3
    assert all(e is not None and e.code() == KafkaError._PURGE_QUEUE for e in reports)
    p.close(T)
    assert consume(topic, read_committed=False) == []


def test_a_second_producer_with_the_same_id_fences_the_first_with_a_fatal_error():
    topic = new_topic()
    txn_id = unique("id")
    zombie = txn_producer(txn_id)
    zombie.init_transactions(T)
    zombie.begin_transaction()
    zombie.produce(topic, value="zombie-before")
    assert zombie.flush(T) == 0

    fresh = txn_producer(txn_id)
    fresh.init_transactions(T)  # fences the zombie, aborts its transaction

    with pytest.raises(KafkaException) as e:
        zombie.commit_transaction(T)  # its next call
    err = error_of(e)
    assert err.fatal() and not err.retriable() and not err.txn_requires_abort(), err
    assert err.name() == "PRODUCER_FENCED" and err.code() == KafkaError.PRODUCER_FENCED, err
    with pytest.raises(KafkaException) as e:
        zombie.begin_transaction()
    assert error_of(e).fatal()
    with pytest.raises(KafkaException):
        zombie.produce(topic, value="zombie-after")
    zombie.close(T)

    fresh.begin_transaction()
    fresh.produce(topic, value="fresh")
    fresh.commit_transaction(T)
    fresh.close(T)
    assert consume(topic, read_committed=True) == ["fresh"]


def test_send_offsets_commits_the_groups_offsets_only_with_the_transaction():
    out, inp = new_topic(), new_topic(2)
    group = unique("group")
    meta = ConsumerGroupMetadata(group)
    assert (meta.group_id, meta.generation_id, meta.member_id, meta.group_instance_id) == (group, -1, "", None)
    p = txn_producer(unique("id"))
    p.init_transactions(T)

    p.begin_transaction()
    p.produce(out, value="x")
    p.send_offsets_to_transaction([TopicPartition(inp, 0, 5)], meta, T)
    p.abort_transaction(T)
    assert group_offsets(group) == {}, "an aborted transaction's offsets are not committed"

    p.begin_transaction()
    p.produce(out, value="y")
    p.send_offsets_to_transaction([TopicPartition(inp, 0, 17), TopicPartition(inp, 1, 3, "m")], meta, T)
    assert group_offsets(group) == {}, "not before the commit"
    p.commit_transaction(T)
    p.close(T)
    assert group_offsets(group) == {(inp, 0): 17, (inp, 1): 3}
    assert consume(out, read_committed=True) == ["y"]


def test_calls_out_of_order_raise_state_errors_without_flags():
    p = txn_producer(unique("id"))

    def plain_state_error(call):
        with pytest.raises(KafkaException) as e:
            call()
        err = error_of(e)
        assert err.code() == KafkaError._STATE, err
        assert not err.fatal() and not err.retriable() and not err.txn_requires_abort(), err
        return err

    err = plain_state_error(p.begin_transaction)
    assert "begin_transaction" in err.str()
    p.init_transactions(T)
    plain_state_error(lambda: p.commit_transaction(T))
    plain_state_error(lambda: p.abort_transaction(T))
    p.begin_transaction()
    plain_state_error(p.begin_transaction)
    p.abort_transaction(T)
    p.close(T)

    plain = rafka.Producer({"bootstrap.servers": bootstrap()})
    err = plain_state_error(lambda: plain.init_transactions(T))
    assert "transactional.id" in err.str()
    plain.close(T)


def test_bad_send_offsets_arguments_are_refused_and_leave_the_transaction_usable():
    topic = new_topic()
    p = txn_producer(unique("id"))
    p.init_transactions(T)
    p.begin_transaction()
    meta = ConsumerGroupMetadata(unique("group"))
    with pytest.raises(TypeError, match="positions"):
        p.send_offsets_to_transaction(5, meta, T)
    with pytest.raises(TypeError, match=r"positions\[0\] has no 'topic'"):
        p.send_offsets_to_transaction([("t", 0, 1)], meta, T)
    with pytest.raises(TypeError, match="group_metadata"):
        p.send_offsets_to_transaction([TopicPartition(topic, 0, 1)], 42, T)
    with pytest.raises(ValueError, match="librdkafka"):
        p.send_offsets_to_transaction([TopicPartition(topic, 0, 1)], b"CGMDv9:nonsense", T)
    with pytest.raises(KafkaException) as e:
        p.send_offsets_to_transaction([TopicPartition(topic, -1, 1)], meta, T)
    assert error_of(e).code() == KafkaError._INVALID_ARG
    with pytest.raises(KafkaException) as e:
        p.send_offsets_to_transaction([TopicPartition(topic, 0, 1)], ConsumerGroupMetadata(""), T)
    assert error_of(e).code() == KafkaError._INVALID_ARG
    p.produce(topic, value="after-misuse")
    p.commit_transaction(T)
    p.close(T)
    assert consume(topic, read_committed=True) == ["after-misuse"]


def test_topic_partition_and_group_metadata_are_confluent_kafka_shaped():
    tp = TopicPartition("t", 1, 7, "meta", 3)
    assert (tp.topic, tp.partition, tp.offset, tp.metadata, tp.leader_epoch, tp.error) == ("t", 1, 7, "meta", 3, None)
    d = TopicPartition("t")
    assert (d.partition, d.offset, d.metadata, d.leader_epoch) == (-1, -1001, None, None)
    assert TopicPartition("t", 1, 7) == TopicPartition("t", 1, 7) and len({TopicPartition("t", 1, 7), tp}) == 2
    assert repr(TopicPartition("t", 1, 7)) == "TopicPartition{topic=t,partition=1,offset=7,leader_epoch=None,error=None}"
    m = ConsumerGroupMetadata("g", 4, "member-1", "instance-1")
    assert (m.group_id, m.generation_id, m.member_id, m.group_instance_id) == ("g", 4, "member-1", "instance-1")
    assert m == ConsumerGroupMetadata("g", 4, "member-1", "instance-1")


def test_consume_transform_produce_with_confluent_kafkas_consumer_holds_each_input_once():
    """confluent-kafka's Consumer reads (read_committed) and hands its position and
    consumer_group_metadata() to rafka's send_offsets_to_transaction. A first run aborts its
    last transaction and drops its consumer as a crash would; the restarted run resumes from
    the committed offsets. The output, read_committed, holds every input exactly once."""
    from confluent_kafka import Consumer

    inp, out = new_topic(2), new_topic()
    group = unique("group")
    n = 40
    src = rafka.Producer({"bootstrap.servers": bootstrap()})
    for i in range(n):
        src.produce(inp, value="in-%d" % i, partition=i % 2)
    assert src.flush(T) == 0
    src.close(T)

    def consumer():
        c = Consumer({"bootstrap.servers": bootstrap(), "group.id": group, "isolation.level": "read_committed",
                      "enable.auto.commit": False, "auto.offset.reset": "earliest"})
        c.subscribe([inp])
        return c

    def run(p, c, stop_after, crash):
        """Transactions of up to 5 records until `stop_after` records are processed; with
        `crash`, the last one is aborted and the consumer dropped without a commit."""
        done = 0
        deadline = time.monotonic() + 90
        while done < stop_after and time.monotonic() < deadline:
            msgs = [m for m in c.consume(5, 1.0) if m.error() is None]
            if not msgs:
                continue
            p.begin_transaction()
            for m in msgs:
                p.produce(out, value=m.value().decode().replace("in-", "out-"))
            meta = c.consumer_group_metadata()
            assert isinstance(meta, bytes)  # what confluent-kafka gives: librdkafka's serialized form
            # As confluent-kafka's own example: positions not known yet (-1001) are skipped.
            p.send_offsets_to_transaction(c.position(c.assignment()), meta, T)
            done += len(msgs)
            if crash and done >= stop_after:
                p.abort_transaction(T)
            else:
                p.commit_transaction(T)
        c.close()
        return done

    txn_id = unique("id")
    p = txn_producer(txn_id)
    p.init_transactions(T)
    run(p, consumer(), 15, crash=True)
    p.close(T)

    p = txn_producer(txn_id)  # the restarted application
    p.init_transactions(T)
    committed = sum(group_offsets(group).values())
    assert 0 < committed < n
    run(p, consumer(), n - committed, crash=False)
    p.close(T)

    assert group_offsets(group) == {(inp, 0): n // 2, (inp, 1): n // 2}
    got = consume(out, read_committed=True)
    assert sorted(got) == sorted("out-%d" % i for i in range(n)), "every input exactly once"


def test_confluent_kafkas_group_metadata_carries_generation_and_member_id_to_the_coordinator():
    """The bytes of consumer_group_metadata() are read, not just passed by: with the generation
    inside them changed, the group coordinator refuses the offsets (KIP-447 fencing of a consumer
    that lost its generation), which makes the transaction abortable."""
    import struct

    from confluent_kafka import Consumer

    inp, out = new_topic(), new_topic()
    group = unique("group")
    c = Consumer({"bootstrap.servers": bootstrap(), "group.id": group, "group.instance.id": unique("inst"),
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.subscribe([inp])
    deadline = time.monotonic() + 60
    while not c.assignment() and time.monotonic() < deadline:
        c.poll(0.2)
    assert c.assignment(), "the consumer joined its group"
    meta = c.consumer_group_metadata()
    assert meta.startswith(b"CGMDv2:")
    (generation,) = struct.unpack("=i", meta[7:11])
    assert generation >= 1
    stale = meta[:7] + struct.pack("=i", generation + 5) + meta[11:]

    p = txn_producer(unique("id"))
    p.init_transactions(T)
    p.begin_transaction()
    p.produce(out, value="refused")
    with pytest.raises(KafkaException) as e:
        p.send_offsets_to_transaction([TopicPartition(inp, 0, 1)], stale, T)
    err = error_of(e)
    assert err.txn_requires_abort() and not err.fatal(), err
    assert err.name() == "ILLEGAL_GENERATION", err
    p.abort_transaction(T)

    p.begin_transaction()
    p.produce(out, value="accepted")
    p.send_offsets_to_transaction([TopicPartition(inp, 0, 1)], meta, T)
    p.commit_transaction(T)
    p.close(T)
    c.close()
    assert group_offsets(group) == {(inp, 0): 1}
    assert consume(out, read_committed=True) == ["accepted"]
