"""produce(timeout=) and purge(in_queue, in_flight, blocking) against the real broker, read back
with Kafka's Java consumer. (Records in flight behind a paused broker are covered by the engine's
tests, core/tests/deadlines_and_purge.rs, on a broker of their own.)"""
import time
import uuid

import pytest

import rafka
from test_producer import bootstrap, consume, new_topic


def test_a_record_past_its_own_timeout_fails_with_msg_timed_out_and_the_others_are_delivered():
    topic = new_topic()
    missing = "py-deadline-missing-" + uuid.uuid4().hex[:10]
    p = rafka.Producer({"bootstrap.servers": bootstrap(), "topic.metadata.propagation.max.ms": 60000})
    reports = {}
    cb = lambda e, m: reports.setdefault(m.value(), []).append((time.monotonic(), e))
    with pytest.raises(ValueError, match="timeout"):
        p.produce(topic, b"bad", timeout=-1)
    t0 = time.monotonic()
    p.produce(missing, b"parked", timeout=0.1, on_delivery=cb)
    p.produce(topic, b"generous", timeout=60, on_delivery=cb)
    p.produce(topic, b"none", on_delivery=cb)
    deadline = time.monotonic() + 10
    while len(reports) < 3 and time.monotonic() < deadline:
        p.poll(0.1)
    assert sorted(reports) == [b"generous", b"none", b"parked"]
    assert all(len(v) == 1 for v in reports.values()), reports
    (at, err), = reports[b"parked"]
    assert err.code() == rafka.KafkaError._MSG_TIMED_OUT, err
    assert "own deadline" in err.str() and missing in err.str(), err.str()
    # Long before topic.metadata.propagation.max.ms (60 s) would have failed it.
    assert at - t0 < 8, at - t0
    assert reports[b"generous"][0][1] is None and reports[b"none"][0][1] is None
    assert len(p) == 0
    p.close()
    assert sorted(r["value"] for r in consume(topic, 2)) == ["generous", "none"]


def test_purge_of_one_partitions_queue_reports_each_record_once_and_the_rest_is_delivered():
    topic = new_topic(2)
    p = rafka.Producer({"bootstrap.servers": bootstrap(), "linger.ms": 60000, "batch.size": 1000000})
    reports = []
    for i in range(5):
        for part in (0, 1):
            p.produce(topic, b"p%d-%d" % (part, i), partition=part, on_delivery=lambda e, m: reports.append((e, m)))
    with pytest.raises(ValueError):
        p.purge(partition=0)
    p.purge(in_flight=False, topic=topic, partition=0)
    deadline = time.monotonic() + 10
    while len(reports) < 5 and time.monotonic() < deadline:
        p.poll(0.1)
    assert len(reports) == 5
    # (Records still waiting for the new topic's metadata report partition -1, as unassigned.)
    assert all(e.code() == rafka.KafkaError._PURGE_QUEUE and m.value().startswith(b"p0-") for e, m in reports), reports
    assert p.flush(30) == 0
    assert len(reports) == 10
    assert sorted(m.value() for e, m in reports if e is None) == [b"p1-%d" % i for i in range(5)]
    # Nothing left: a non-blocking purge of everything reports nothing more.
    p.purge(blocking=False)
    p.poll(0.3)
    assert len(reports) == 10
    p.close()
    assert [r["value"] for r in consume(topic, 5)] == ["p1-%d" % i for i in range(5)]


def test_purge_with_confluent_kafkas_defaults_fails_every_queued_record_once():
    topic = new_topic()
    p = rafka.Producer({"bootstrap.servers": bootstrap(), "linger.ms": 60000, "batch.size": 1000000})
    reports = []
    for i in range(20):
        p.produce(topic, b"v%d" % i, on_delivery=lambda e, m: reports.append((e, m)))
    p.purge()
    assert p.flush(10) == 0
    assert len(reports) == 20
    assert all(e.code() == rafka.KafkaError._PURGE_QUEUE for e, _ in reports)
    assert [m.value() for _, m in reports] == [b"v%d" % i for i in range(20)]
    p.produce(topic, b"after")
    assert p.flush(30) == 0
    p.close()
    assert [r["value"] for r in consume(topic, 1)] == ["after"]
