"""produce_batch, list_topics, the log bridge, KafkaException/KafkaError, buffer inputs and
blocking send() beside poll() on another thread, against the real broker."""
import array
import logging
import os
import sys
import threading
import time
import uuid

import pytest

import rafka

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_producer import bootstrap, consume, new_topic, raw  # noqa: E402


def test_produce_batch_queues_values_key_value_tuples_and_dicts_in_order():
    topic = new_topic()
    p = rafka.Producer({"bootstrap.servers": bootstrap()})
    reports = []
    n = p.produce_batch(topic, [b"v0", "v1", (b"k2", b"v2"),
                                {"value": b"v3", "key": "k3", "headers": [("h", b"x")]},
                                bytearray(b"v4")],
                        on_delivery=lambda e, m: reports.append((e, m.value(), m.key())))
    assert n == 5
    assert p.flush(30) == 0
    assert [r[1] for r in reports] == [b"v0", b"v1", b"v2", b"v3", b"v4"]
    assert all(r[0] is None for r in reports)
    assert reports[2][2] == b"k2" and reports[3][2] == b"k3"
    recs = sorted(consume(topic, 5), key=lambda r: r["offset"])
    assert [raw(r, "value") for r in recs] == [b"v0", b"v1", b"v2", b"v3", b"v4"]
    assert [raw(r, "key") for r in recs] == [None, None, b"k2", b"k3", None]
    p.close()


def test_produce_batch_per_message_callback_and_partition_override_the_defaults():
    topic = new_topic(2)
    p = rafka.Producer({"bootstrap.servers": bootstrap()})
    default, own = [], []
    n = p.produce_batch(topic, [{"value": b"a"}, {"value": b"b", "partition": 1, "callback": lambda e, m: own.append(m)}],
                        partition=0, callback=lambda e, m: default.append(m))
    assert n == 2 and p.flush(30) == 0
    assert [(m.value(), m.partition()) for m in default] == [(b"a", 0)]
    assert [(m.value(), m.partition()) for m in own] == [(b"b", 1)]
    p.close()


def test_produce_batch_stops_at_the_first_record_that_does_not_fit_and_marks_the_rest():
    topic = new_topic()
    p = rafka.Producer({"bootstrap.servers": bootstrap(), "buffer.memory": 65536, "linger.ms": 1000})
    p.produce(topic, b"warm-up")
    p.flush(30)
    msgs = [{"value": b"x" * 1000} for _ in range(200)]
    n = p.produce_batch(topic, msgs)
    assert 0 < n < 200
    assert all("_error" not in m for m in msgs[:n])
    errs = [m["_error"] for m in msgs[n:]]
    assert len(errs) == 200 - n and all(e.code() == rafka.KafkaError._QUEUE_FULL for e in errs)
    assert p.flush(30) == 0
    assert len(consume(topic, n + 1)) == n + 1
    p.close()


def test_produce_batch_with_a_bad_item_raises_type_error_naming_it_and_queues_nothing():
    topic = new_topic()
    p = rafka.Producer({"bootstrap.servers": bootstrap()})
    with pytest.raises(TypeError, match=r"messages\[2\]"):
        p.produce_batch(topic, [b"ok", b"ok", 42])
    with pytest.raises(TypeError, match=r"messages\[0\] key"):
        p.produce_batch(topic, [{"value": b"v", "key": 1.5}])
    with pytest.raises(TypeError, match="messages must be a list"):
        p.produce_batch(topic, b"not a list")
    assert len(p) == 0
    p.close()


def test_list_topics_returns_confluent_kafkas_cluster_metadata_shape():
    topic = new_topic(3)
    p = rafka.Producer({"bootstrap.servers": bootstrap()})
    md = p.list_topics(topic, timeout=30)
    assert isinstance(md, rafka.ClusterMetadata)
    assert list(md.topics) == [topic]
    t = md.topics[topic]
    assert t.topic == topic and t.error is None
    assert sorted(t.partitions) == [0, 1, 2]
    for pid, pm in t.partitions.items():
        assert pm.id == pid and pm.error is None
        assert pm.leader in md.brokers and pm.leader in pm.replicas and pm.leader in pm.isrs
    b = md.brokers[md.orig_broker_id]
    assert b.id == md.orig_broker_id and b.port > 0 and b.host
    assert md.orig_broker_name.endswith("/%d" % md.orig_broker_id)
    assert md.cluster_id and md.controller_id in md.brokers
    everything = p.list_topics(timeout=30)
    assert topic in everything.topics and len(everything.topics[topic].partitions) == 3
    p.close()


def test_list_topics_of_a_missing_topic_carries_its_error():
    p = rafka.Producer({"bootstrap.servers": bootstrap()})
    name = "py-missing-" + os.urandom(4).hex()
    md = p.list_topics(name, timeout=30)
    err = md.topics[name].error
    assert err.code() == rafka.KafkaError.UNKNOWN_TOPIC_OR_PART == rafka.KafkaError.UNKNOWN_TOPIC_OR_PARTITION
    assert md.topics[name].partitions == {}
    p.close()


def test_list_topics_without_a_broker_fails_fast_with_transport_naming_the_closed_port():
    # Nothing listens there: the call fails once the refusal is seen twice, not at its timeout.
    p = rafka.Producer({"bootstrap.servers": "127.0.0.1:1"})
    t0 = time.monotonic()
    with pytest.raises(rafka.KafkaException) as ei:
        p.list_topics(timeout=30)
    assert time.monotonic() - t0 < 5
    err = ei.value.args[0]
    assert isinstance(err, rafka.KafkaError)
    assert err.code() == rafka.KafkaError._TRANSPORT and err.name() == "_TRANSPORT"
    assert "nothing listens on 127.0.0.1:1" in err.str(), err.str()
    assert not err.fatal() and not err.txn_requires_abort() and err.retriable()
    p.close(0)


def test_oversized_record_raises_kafka_exception_with_msg_size_too_large():
    p = rafka.Producer({"bootstrap.servers": bootstrap(), "max.request.size": 2000})
    with pytest.raises(rafka.KafkaException) as ei:
        p.produce(new_topic(), b"x" * 5000)
    assert ei.value.args[0].code() == rafka.KafkaError._MSG_SIZE_TOO_LARGE
    assert ei.value.args[0] == rafka.KafkaError._MSG_SIZE_TOO_LARGE
    p.close()


def test_engine_logs_reach_the_rafka_logger(caplog):
    caplog.set_level(logging.DEBUG, logger="rafka")
    p = rafka.Producer({"bootstrap.servers": "127.0.0.1:1"})
    for _ in range(200):  # up to 10 s on a loaded machine; ends at the first line
        p.poll(0.05)
        if any(r.name == "rafka" and "broker -1" in r.getMessage() for r in caplog.records):
            break
    msgs = [r for r in caplog.records if r.name == "rafka"]
    assert any(r.levelno == logging.WARNING and "127.0.0.1:1" in r.getMessage() or "broker -1" in r.getMessage()
               for r in msgs), [r.getMessage() for r in msgs]
    p.close(0)


def test_a_logger_in_the_config_gets_that_producers_records():
    got = []

    class Collect(logging.Handler):
        def emit(self, record):
            got.append(record.getMessage())

    mine = logging.getLogger("rafka-test-own-logger")
    mine.setLevel(logging.DEBUG)
    mine.propagate = False
    mine.addHandler(Collect())
    p = rafka.Producer({"bootstrap.servers": "127.0.0.1:1", "logger": mine})
    for _ in range(50):
        p.poll(0.05)
        if got:
            break
    assert any("broker -1" in m for m in got), got
    p.close(0)


def _collecting_logger(name):
    got = []

    class Collect(logging.Handler):
        def emit(self, record):
            got.append(record)

    logger = logging.getLogger(name + "-" + uuid.uuid4().hex[:6])
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(Collect())
    return logger, got


def test_debug_in_the_config_lets_the_engines_debug_records_reach_the_logger():
    topic = new_topic()
    quiet, quiet_got = _collecting_logger("rafka-test-no-debug")
    loud, loud_got = _collecting_logger("rafka-test-debug")
    plain = rafka.Producer({"bootstrap.servers": bootstrap(), "logger": quiet})
    debug = rafka.Producer({"bootstrap.servers": bootstrap(), "logger": loud, "debug": "all"})
    for p in (plain, debug):
        p.produce(topic, b"x")
        assert p.flush(30) == 0
        p.poll(0.1)
    assert any(r.levelno == logging.DEBUG for r in loud_got), [r.getMessage() for r in loud_got]
    # The other producer's debug records (the engine emits them now) do not reach its logger.
    assert not any(r.levelno == logging.DEBUG for r in quiet_got), [r.getMessage() for r in quiet_got]
    plain.close()
    debug.close()


def test_log_level_3_keeps_the_producers_warnings_from_its_logger():
    errors_only, got = _collecting_logger("rafka-test-log-level")
    control, control_got = _collecting_logger("rafka-test-log-level-control")
    p = rafka.Producer({"bootstrap.servers": "127.0.0.1:1", "logger": errors_only, "log_level": 3})
    c = rafka.Producer({"bootstrap.servers": "127.0.0.1:1", "logger": control})
    for _ in range(60):
        p.poll(0.05)
        c.poll(0.05)
        if any(r.levelno == logging.WARNING for r in control_got):
            break
    assert any(r.levelno == logging.WARNING for r in control_got), "the control producer warns about 127.0.0.1:1"
    assert not [r for r in got if r.levelno < logging.ERROR], [r.getMessage() for r in got]
    p.close(0)
    c.close(0)


def test_buffer_inputs_are_sent_as_their_bytes_and_later_mutation_does_not_change_them():
    topic = new_topic()
    p = rafka.Producer({"bootstrap.servers": bootstrap()})
    ba = bytearray(b"before")
    p.produce(topic, ba, partition=0)
    ba[:] = b"AFTER!"
    p.produce(topic, array.array("B", b"arr"), partition=0)
    p.produce(topic, memoryview(b"a-c-e-")[::2], partition=0)  # not contiguous: copied
    p.produce(topic, "héllo", key=memoryview(b"mk"), partition=0)
    assert p.flush(30) == 0
    recs = sorted(consume(topic, 4), key=lambda r: r["offset"])
    assert [raw(r, "value") for r in recs] == [b"before", b"arr", b"ace", "héllo".encode()]
    assert raw(recs[3], "key") == b"mk"
    p.close()


def test_on_delivery_in_the_config_is_the_default_callback():
    topic = new_topic()
    got = []
    p = rafka.Producer({"bootstrap.servers": bootstrap(), "on_delivery": lambda e, m: got.append(m.value())})
    p.produce(topic, b"d1")
    p.produce_batch(topic, [b"d2"])
    p.flush(30)
    assert got == [b"d1", b"d2"]
    p.close()


def test_callback_exception_propagates_from_poll_and_producer_keeps_working():
    topic = new_topic()
    p = rafka.Producer({"bootstrap.servers": bootstrap()})

    def bad(err, msg):
        raise KeyError("from-callback")

    p.produce(topic, b"a", on_delivery=bad)
    with pytest.raises(KeyError, match="from-callback"):
        for _ in range(300):
            p.poll(0.1)
    ok = []
    p.produce(topic, b"b", on_delivery=lambda e, m: ok.append(e))
    assert p.flush(30) == 0 and ok == [None]
    p.close()


def test_send_blocked_on_a_full_buffer_and_callbacks_on_another_thread_both_finish():
    topic = new_topic()
    p = rafka.Producer({"bootstrap.servers": bootstrap(), "buffer.memory": 32768, "linger.ms": 20,
                        "max.block.ms": 60000})
    p.produce(topic, b"warm-up")
    p.flush(30)
    stop = threading.Event()
    served = []
    errors = []

    def poller():
        try:
            while not stop.is_set():
                p.poll(0.05)
        except Exception as e:  # pragma: no cover - reported by the assertion below
            errors.append(e)

    def on_delivery(err, msg):
        served.append(threading.current_thread().name)
        sum(range(200))  # some Python work while holding the GIL

    futs = []

    def produce_when_room():
        # produce() never waits (confluent-kafka's contract): on a buffer the blocking send()s keep
        # full it raises BufferError, and the caller retries once reports have made room.
        for _ in range(6000):
            try:
                return p.produce(topic, b"z", on_delivery=on_delivery)
            except BufferError:
                time.sleep(0.01)
        raise AssertionError("no room in buffer.memory for 60 s")

    def sender():
        try:
            for i in range(400):
                futs.append(p.send(topic, b"y" * 900))
                if i % 50 == 0:
                    produce_when_room()
        except Exception as e:  # pragma: no cover
            errors.append(e)

    tp = threading.Thread(target=poller, name="poller")
    ts = threading.Thread(target=sender, name="sender")
    tp.start()
    ts.start()
    ts.join(120)
    assert not ts.is_alive(), "send() never returned"
    p.flush(60)
    stop.set()
    tp.join(60)
    assert not tp.is_alive(), "poll() never returned"
    assert errors == []
    assert len(futs) == 400 and all(f.result(timeout=0).error() is None for f in futs)
    assert len(served) == 8
    p.close()


def test_a_bad_config_value_raises_kafka_exception_with_invalid_config():
    with pytest.raises(rafka.KafkaException) as ei:
        rafka.Producer({"bootstrap.servers": bootstrap(), "acks": "sometimes"})
    assert ei.value.args[0].code() == rafka.KafkaError._INVALID_CONFIG
    assert "acks" in ei.value.args[0].str()
