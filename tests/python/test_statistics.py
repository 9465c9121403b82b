"""stats_cb with statistics.interval.ms (confluent-kafka's shape: the JSON string, from poll() and
flush()) against the real broker."""
import json
import os
import subprocess
import threading
import time
import uuid

import pytest

import rafka

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def bootstrap():
    b = os.environ.get("RAFKA_BOOTSTRAP")
    if not b:
        pytest.fail("RAFKA_BOOTSTRAP is not set: these tests need a running broker")
    return b


def new_topic(partitions=1):
    name = "py-stats-" + uuid.uuid4().hex[:10]
    subprocess.run([os.path.join(ROOT, "scripts/kafka"), "topic", "create", name,
                    "--partitions", str(partitions)], check=True, capture_output=True)
    return name


def test_stats_cb_gets_json_counting_the_records_and_bytes_acknowledged():
    topic = new_topic(2)
    docs = []
    threads = set()

    def stats_cb(s):
        threads.add(threading.get_ident())
        docs.append(json.loads(s))

    p = rafka.Producer({"bootstrap.servers": bootstrap(), "statistics.interval.ms": 100,
                        "client.id": "py-stats", "stats_cb": stats_cb})
    for i in range(40):
        p.produce(topic, value=b"x" * 50, key=b"k%d" % i)
    assert p.flush(30) == 0
    deadline = time.monotonic() + 30
    while not any(d["txmsgs"] == 40 for d in docs) and time.monotonic() < deadline:
        p.poll(0.1)
    d = next(d for d in docs if d["txmsgs"] == 40)
    assert threads == {threading.get_ident()}, "stats_cb ran on another thread than poll()/flush()"
    assert d["type"] == "producer" and d["client_id"] == "py-stats"
    assert d["msg_cnt"] == 0 and d["msg_size"] == 0
    assert 40 * 52 <= d["txmsg_bytes"] < 40 * 150
    parts = d["topics"][topic]["partitions"]
    assert sorted(parts) == ["0", "1"]
    assert sum(x["txmsgs"] for x in parts.values()) == 40
    assert any(b["state"] == "UP" for b in d["brokers"].values())
    assert d["tx"] >= 3 and d["rx"] >= 3
    p.close()


def test_an_exception_in_stats_cb_is_raised_from_poll():
    raised = []

    def stats_cb(s):
        if not raised:
            raised.append(s)
            raise ValueError("from stats_cb")

    p = rafka.Producer({"bootstrap.servers": bootstrap(), "statistics.interval.ms": 50, "stats_cb": stats_cb})
    time.sleep(0.3)
    with pytest.raises(ValueError, match="from stats_cb"):
        for _ in range(50):
            p.poll(0.1)
    assert len(raised) == 1
    p.close()


KAFKA = os.path.join(ROOT, "scripts/kafka")


@pytest.fixture(scope="module")
def throttling():
    """A private broker (own state dir, port 25190) whose default client quota is 1 KiB/s of
    produce traffic, stopped after the module."""
    env = dict(os.environ, RAFKA_KAFKA_STATE="/tmp/rafka-py-throttle")
    subprocess.run([KAFKA, "down"], env=env, capture_output=True)
    out = subprocess.run([KAFKA, "up", "--port", "25190"], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        pytest.fail("could not start the broker:\n" + out.stdout + out.stderr)
    subprocess.run([KAFKA, "quota", "set", "producer_byte_rate=1024"], env=env, check=True, capture_output=True)
    yield env, out.stdout.splitlines()[-1].split("=", 1)[1]
    subprocess.run([KAFKA, "down"], env=env, capture_output=True)


def test_throttle_cb_gets_a_throttle_event_from_a_broker_over_quota(throttling):
    env, bs = throttling
    topic = "py-throttled-" + uuid.uuid4().hex[:10]
    subprocess.run([KAFKA, "topic", "create", topic, "--partitions", "1"], env=env, check=True, capture_output=True)
    events = []
    p = rafka.Producer({"bootstrap.servers": bs, "linger.ms": 0, "throttle_cb": events.append})
    for _ in range(20):
        p.produce(topic, value=b"q" * 1024)
        p.flush(60)
        if events:
            break
    assert events, "no throttle event"
    e = events[0]
    assert isinstance(e, rafka.ThrottleEvent)
    assert e.broker_id == 1 and e.broker_name == bs + "/1"
    assert e.throttle_time > 0
    p.close()


def test_error_cb_hears_all_brokers_down_once_from_poll():
    errors = []
    p = rafka.Producer({"bootstrap.servers": "127.0.0.1:1", "reconnect.backoff.max.ms": 100,
                        "error_cb": errors.append})
    for _ in range(100):
        p.poll(0.1)
        if errors:
            break
    for _ in range(15):  # 1.5 s more of reconnect attempts: told once, not per attempt
        p.poll(0.1)
    assert len(errors) == 1, [e.str() for e in errors]
    assert errors[0].code() == rafka.KafkaError._ALL_BROKERS_DOWN
    assert "1/1 brokers are down" in errors[0].str() and "127.0.0.1:1" in errors[0].str()
    p.close(0)


def test_a_librdkafka_statistics_parser_reads_the_documents_unchanged():
    """prometheus-kafka-metrics (PyPI) turns confluent-kafka's stats_cb documents into Prometheus
    gauges: it reads the top level (replyq, msg_cnt, msg_size, tx, rx, ...), each broker's
    outbuf_msg_cnt, waitresp_msg_cnt and its int_latency, outbuf_latency and rtt windows, and each
    topic's batchsize and batchcnt windows, failing on any that is missing. Given rafka's
    documents as they are, it must take every one and report what was sent."""
    from prometheus_client import REGISTRY
    from prometheus_kafka_producer.metrics_manager import ProducerMetricsManager

    topic = new_topic(3)
    manager = ProducerMetricsManager()
    taken = []

    def stats_cb(s):
        manager.send(s)  # raises (KeyError, ...) on a document it cannot read
        taken.append(json.loads(s))

    p = rafka.Producer({"bootstrap.servers": bootstrap(), "statistics.interval.ms": 100,
                        "client.id": "py-stats-parser", "linger.ms": 5, "stats_cb": stats_cb})
    for i in range(200):
        p.produce(topic, value=b"p" * 100, key=b"k%d" % i)
    assert p.flush(30) == 0
    deadline = time.monotonic() + 30
    while not any(d["txmsgs"] == 200 for d in taken) and time.monotonic() < deadline:
        p.poll(0.1)
    assert any(d["txmsgs"] == 200 for d in taken), "no document with the 200 records acknowledged"
    labels = {"type": "producer", "client_id": "py-stats-parser"}
    # Everything was acknowledged: nothing queued; the round trips were timed.
    assert REGISTRY.get_sample_value("kafka_producer_queue_msg_cnt", labels) == 0
    assert REGISTRY.get_sample_value("kafka_producer_inflight_msg_cnt", labels) == 0
    assert REGISTRY.get_sample_value("kafka_producer_reply_queue", labels) is not None
    # The batch windows of some document held the batches of the 200 records.
    batches = [(d["topics"][topic]["batchcnt"]["sum"], d["topics"][topic]["batchcnt"]["cnt"])
               for d in taken if topic in d["topics"]]
    assert sum(s for s, _ in batches) == 200
    p.close()
