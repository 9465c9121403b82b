"""rafka.Producer against the real broker, read back with Kafka's Java consumer."""
import base64
import contextlib
import gc
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
import weakref

import pytest

import rafka

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def bootstrap():
    b = os.environ.get("RAFKA_BOOTSTRAP")
    if not b:
        pytest.fail("RAFKA_BOOTSTRAP is not set: these tests need a running broker")
    return b


def new_topic(partitions=1):
    name = "py-" + uuid.uuid4().hex[:10]
    subprocess.run([os.path.join(ROOT, "scripts/kafka"), "topic", "create", name,
                    "--partitions", str(partitions)], check=True, capture_output=True)
    return name


def consume(topic, n):
    out = subprocess.run([os.path.join(ROOT, "scripts/kafka"), "consume", topic, "--max", str(n)],
                         check=True, capture_output=True, text=True).stdout
    return [json.loads(l) for l in out.splitlines() if l.strip().startswith("{")]


def raw(rec, field):
    v = rec[field]
    if v is not None and rec.get(field + "_encoding") == "base64":
        return base64.b64decode(v)
    return v.encode() if isinstance(v, str) else v


def test_records_arrive_with_contents_keys_headers_and_partitions():
    topic = new_topic(3)
    p = rafka.Producer({"bootstrap.servers": bootstrap()})
    reports = []
    for i in range(30):
        p.produce(topic, value=b"v%d" % i, key="k%d" % i, partition=i % 3,
                  headers=[("h", b"x%d" % i)], on_delivery=lambda e, m: reports.append((e, m)))
    assert p.flush(30) == 0
    assert len(reports) == 30
    assert all(e is None for e, _ in reports)
    assert sorted(m.partition() for _, m in reports) == sorted(i % 3 for i in range(30))
    m = reports[0][1]
    assert m.topic() == topic and m.offset() >= 0 and m.error() is None
    assert m.headers() == [("h", m.headers()[0][1])]
    # Each report carries its own record's key, value and headers.
    for _, m in reports:
        i = int(m.value()[1:])
        assert (m.key(), m.headers(), len(m)) == (b"k%d" % i, [("h", b"x%d" % i)], len(b"v%d" % i))
    recs = consume(topic, 30)
    assert len(recs) == 30
    got = {raw(r, "value"): (raw(r, "key"), r["partition"]) for r in recs}
    for i in range(30):
        assert got[b"v%d" % i] == (b"k%d" % i, i % 3)
    p.close()


def test_every_produce_gets_exactly_one_callback():
    topic = new_topic()
    p = rafka.Producer({"bootstrap.servers": bootstrap()})
    counts = {}
    for i in range(1000):
        p.produce(topic, b"x", callback=lambda e, m, i=i: counts.__setitem__(i, counts.get(i, 0) + 1))
    p.flush(30)
    p.poll(0)
    assert len(counts) == 1000 and set(counts.values()) == {1}
    assert len(p) == 0
    p.close()


def test_wrong_argument_types_raise_type_error_naming_the_argument():
    t = new_topic()
    p = rafka.Producer({"bootstrap.servers": bootstrap()})
    with pytest.raises(TypeError, match="value"):
        p.produce(t, value=12)
    with pytest.raises(TypeError, match="key"):
        p.produce(t, value=b"x", key=3.5)
    with pytest.raises(TypeError, match="topic"):
        p.produce(5, value=b"x")
    with pytest.raises(TypeError, match="partition"):
        p.produce(t, value=b"x", partition="zero")
    p.close()


def test_use_after_close_raises_a_clear_error():
    p = rafka.Producer({"bootstrap.servers": bootstrap()})
    p.close()
    p.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        p.produce("t", b"x")
    with pytest.raises(RuntimeError, match="closed"):
        p.flush(1)


def test_callback_exception_propagates_from_flush_and_producer_keeps_working():
    topic = new_topic()
    p = rafka.Producer({"bootstrap.servers": bootstrap()})

    def bad(err, msg):
        raise ValueError("boom")

    p.produce(topic, b"a", on_delivery=bad)
    with pytest.raises(ValueError, match="boom"):
        p.flush(30)
    ok = []
    p.produce(topic, b"b", on_delivery=lambda e, m: ok.append(e))
    p.flush(30)
    assert ok == [None]
    p.close()


def test_reports_after_a_raising_callback_stay_queued_in_order_and_kept_messages_stay_whole():
    # 10,000 reports queue up in one flush (more than one of the binding's chunks of 4,096);
    # the callback raises at record 5,000: flush raises, and the reports after it run on the
    # next call, in order, each exactly once. Messages a callback keeps keep their own record.
    topic = new_topic()
    p = rafka.Producer({"bootstrap.servers": bootstrap(), "linger.ms": 50})
    n = 10000
    seen = []
    kept = []

    def cb(err, msg):
        assert err is None, err
        i = int(msg.value())
        seen.append(i)
        if i % 1000 == 0:
            kept.append(msg)
        if i == 5000 and seen.count(5000) == 1:
            raise ValueError("at 5000")

    for i in range(n):
        p.produce(topic, str(i).encode(), key=b"k%d" % i, headers=[("h", b"%d" % i)], on_delivery=cb)
    with pytest.raises(ValueError, match="at 5000"):
        p.flush(60)
    assert seen == list(range(5001))
    assert p.flush(60) == 0
    p.close()
    assert seen == list(range(n))
    assert [int(m.value()) for m in kept] == list(range(0, n, 1000))
    for m in kept:
        i = int(m.value())
        assert (m.key(), m.headers(), m.topic(), m.partition()) == (b"k%d" % i, [("h", b"%d" % i)], topic, 0)
        assert m.offset() == i


def thread_names():
    """Names of this process's threads (Linux: /proc/self/task)."""
    names = []
    for t in os.listdir("/proc/self/task"):
        try:
            with open("/proc/self/task/%s/comm" % t) as f:
                names.append(f.read().strip())
        except FileNotFoundError:  # ended meanwhile
            pass
    return names


@contextlib.contextmanager
def no_collection_meanwhile():
    """Counting threads and descriptors: producers left by earlier tests are collected first (their
    engines close on threads of their own, which are waited for), and the collector stays off."""
    gc.collect()
    deadline = time.monotonic() + 30
    while "rafka-collected" in thread_names() and time.monotonic() < deadline:
        time.sleep(0.05)
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_close_releases_threads_and_file_descriptors_while_the_object_lives():
    # Linux: /proc/self lists the process's descriptors and threads.
    topic = new_topic()

    def fds_and_threads():
        return len(os.listdir("/proc/self/fd")), len(thread_names())

    with no_collection_meanwhile():
        before = fds_and_threads()
        producers = []
        for _ in range(5):
            p = rafka.Producer({"bootstrap.servers": bootstrap()})
            p.produce(topic, b"x")
            assert p.flush(30) == 0
            producers.append(p)
        during = fds_and_threads()
        assert during[0] > before[0] and during[1] > before[1]
        for p in producers:
            p.close()
        assert fds_and_threads() == before
    with pytest.raises(RuntimeError, match="closed"):
        producers[0].produce(topic, b"x")


def test_a_producer_in_a_reference_cycle_is_collected_and_its_threads_end():
    # on_delivery a bound method of the object holding the producer: a cycle only the
    # garbage collector can free (as it does for confluent-kafka's Producer).
    topic = new_topic()

    class App:
        def __init__(self):
            self.acked = 0
            self.producer = rafka.Producer({"bootstrap.servers": bootstrap(), "on_delivery": self.on_delivery})

        def on_delivery(self, err, msg):
            self.acked += err is None

    with no_collection_meanwhile():
        before = len(thread_names())
        app = App()
        app.producer.produce(topic, b"x")
        assert app.producer.flush(30) == 0 and app.acked == 1
        assert len(thread_names()) > before
        gone = weakref.ref(app)
        del app
        gc.collect()
        assert gone() is None
        # Its engine is closed on a thread of its own, off the collector's back.
        deadline = time.monotonic() + 20
        while len(thread_names()) > before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(thread_names()) == before


def test_reports_left_after_close_inside_a_callback_are_served_when_the_producer_is_freed():
    topic = new_topic()
    p = rafka.Producer({"bootstrap.servers": bootstrap(), "linger.ms": 50})
    ran = []

    def on_delivery(i):
        def cb(err, msg):
            ran.append(i)
            if i == 0:
                p.close()
            if i == 1:
                raise ValueError("callback 1")
        return cb

    for i in range(5):
        p.produce(topic, b"%d" % i, on_delivery=on_delivery(i))
    with pytest.raises(ValueError):
        p.flush(30)
    with pytest.raises(RuntimeError, match="closed"):
        p.poll(0)
    del p
    gc.collect()
    assert sorted(ran) == [0, 1, 2, 3, 4]


def test_timeouts_of_none_negative_and_infinity_all_wait_for_ever():
    topic = new_topic()
    got = []
    p = rafka.Producer({"bootstrap.servers": bootstrap(), "on_delivery": lambda e, m: got.append(e)})
    p.produce(topic, b"a")
    assert p.flush(float("inf")) == 0
    p.produce(topic, b"b")
    assert p.flush(-1) == 0
    p.produce(topic, b"c")
    assert p.flush() == 0
    p.close(float("inf"))
    assert got == [None, None, None]
    assert [raw(r, "value") for r in consume(topic, 3)] == [b"a", b"b", b"c"]


@contextlib.contextmanager
def sigint_after(seconds):
    """SIGINT (Ctrl+C) to this process `seconds` from now, with Python's own handler, which
    raises KeyboardInterrupt."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        timer.join()
        signal.signal(signal.SIGINT, old)


@pytest.mark.parametrize("module", ["confluent_kafka", "rafka"])
def test_ctrl_c_ends_a_flush_and_a_poll_that_wait_long_as_in_confluent_kafka(module):
    # confluent-kafka's poll() and flush() wait in slices and run the signal handlers between
    # them, so Ctrl+C ends a long wait; rafka's must too.
    mod = __import__(module)
    # A record for a topic that does not exist: its report is more than 20 s away.
    p = mod.Producer({"bootstrap.servers": bootstrap(), "message.timeout.ms": 60000})
    p.produce("py-missing-" + uuid.uuid4().hex[:10], b"v")
    # Each twice: the second time the handler would run inside the logger's level check.
    calls = [("flush", lambda: p.flush(60)), ("poll", lambda: p.poll(60))] * 2
    for name, call in calls:
        start = time.monotonic()
        with sigint_after(0.5), pytest.raises(KeyboardInterrupt):
            call()
        took = time.monotonic() - start
        assert took < 20, f"{module} {name}() ended by the signal after {took:.1f} s, not at its timeout"
    p.purge()
    p.flush(10)


def test_context_manager_flushes_and_closes():
    topic = new_topic()
    with rafka.Producer({"bootstrap.servers": bootstrap()}) as p:
        p.produce(topic, b"cm")
    with pytest.raises(RuntimeError):
        len(p)
    assert [raw(r, "value") for r in consume(topic, 1)] == [b"cm"]


def test_buffer_types_bytearray_memoryview_and_str():
    topic = new_topic()
    p = rafka.Producer({"bootstrap.servers": bootstrap()})
    p.produce(topic, bytearray(b"ba"), partition=0)
    p.produce(topic, memoryview(b"mv"), partition=0)
    p.produce(topic, "st", partition=0)
    p.flush(30)
    assert sorted(raw(r, "value") for r in consume(topic, 3)) == [b"ba", b"mv", b"st"]
    p.close()


def test_produce_from_four_threads():
    import threading
    topic = new_topic(4)
    p = rafka.Producer({"bootstrap.servers": bootstrap()})
    done = []

    def work(t):
        for i in range(500):
            p.produce(topic, b"%d-%d" % (t, i), on_delivery=lambda e, m: done.append(e))
            if i % 100 == 0:
                p.poll(0)

    ts = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    p.flush(30)
    assert len(done) == 2000 and all(e is None for e in done)
    assert len(consume(topic, 2000)) == 2000
    p.close()


def test_messages_kept_by_callbacks_keep_their_own_contents_after_later_reports():
    # The binding reuses one Message object while no callback keeps it: a kept one must never
    # be overwritten by a later report.
    topic = new_topic(partitions=2)
    p = rafka.Producer({"bootstrap.servers": bootstrap(), "linger.ms": 20})
    seen, kept = {}, []

    def on_delivery(err, msg):
        assert err is None
        seen[msg.value()] = (msg.key(), msg.partition(), msg.offset(), msg.headers())
        if int(msg.value()[1:]) % 7 == 0:
            kept.append(msg)

    for i in range(300):
        p.produce(topic, b"v%d" % i, key=b"k%d" % i, partition=i % 2,
                  headers=[("h", b"%d" % i)] if i % 2 else None, on_delivery=on_delivery)
        if i % 50 == 0:
            p.poll(0)
    assert p.flush(30) == 0
    assert len(seen) == 300 and len(kept) == len(range(0, 300, 7))
    assert len({id(m) for m in kept}) == len(kept)
    for m in kept:
        i = int(m.value()[1:])
        assert (m.key(), m.partition(), m.offset(), m.headers()) == seen[m.value()]
        assert m.key() == b"k%d" % i and m.partition() == i % 2 and m.topic() == topic
    p.close()


def test_a_partition_the_topic_does_not_have_raises_unknown_partition_at_once():
    topic = new_topic(partitions=2)
    p = rafka.Producer({"bootstrap.servers": bootstrap(), "max.block.ms": 60000})
    p.produce(topic, b"known", partition=1)
    assert p.flush(30) == 0
    started = time.monotonic()
    with pytest.raises(rafka.KafkaException) as e:
        p.produce(topic, b"x", partition=5)
    assert time.monotonic() - started < 30, "raised without waiting for max.block.ms"
    assert e.value.args[0].code() == rafka.KafkaError._UNKNOWN_PARTITION
    assert "2 partitions" in e.value.args[0].str()
    assert len(p) == 0
    p.close()


def test_produce_to_a_topic_that_does_not_exist_queues_and_the_report_fails_with_unknown_topic():
    topic = "py-missing-" + uuid.uuid4().hex[:10]
    p = rafka.Producer({"bootstrap.servers": bootstrap(), "topic.metadata.propagation.max.ms": 1500,
                        "max.block.ms": 60000})
    reports = []
    p.produce(topic, b"x", on_delivery=lambda e, m: reports.append((e, m)))
    assert len(p) == 1 and reports == [], "queued, not reported yet"
    assert p.flush(30) == 0
    (err, msg), = reports
    assert err.code() == rafka.KafkaError.UNKNOWN_TOPIC_OR_PART, err
    assert "UNKNOWN_TOPIC_OR_PARTITION" in err.str() and "topic.metadata.propagation.max.ms" in err.str()
    assert (msg.topic(), msg.partition(), msg.value()) == (topic, -1, b"x")
    p.close()


def test_records_produced_before_their_topic_exists_are_delivered_once_it_is_created():
    topic = "py-late-" + uuid.uuid4().hex[:10]
    p = rafka.Producer({"bootstrap.servers": bootstrap()})
    reports = []
    for i in range(20):
        p.produce(topic, b"v%02d" % i, partition=0, on_delivery=lambda e, m: reports.append((e, m)))
    assert len(p) == 20
    subprocess.run([os.path.join(ROOT, "scripts/kafka"), "topic", "create", topic, "--partitions", "1"],
                   check=True, capture_output=True)
    assert p.flush(60) == 0
    assert [e for e, _ in reports] == [None] * 20
    assert [m.value() for _, m in reports] == [b"v%02d" % i for i in range(20)]
    assert [m.offset() for _, m in reports] == list(range(20))
    p.close()


def test_a_report_without_headers_or_key_gives_none_for_them_as_confluent_kafka_does():
    topic = new_topic()
    p = rafka.Producer({"bootstrap.servers": bootstrap()})
    reports = []
    p.produce(topic, b"plain", on_delivery=lambda e, m: reports.append(m))
    p.produce(topic, None, key=b"k", on_delivery=lambda e, m: reports.append(m))
    assert p.flush(30) == 0
    plain, tombstone = reports
    assert (plain.key(), plain.value(), plain.headers()) == (None, b"plain", None)
    assert (tombstone.key(), tombstone.value(), tombstone.headers(), len(tombstone)) == (b"k", None, None, 0)
    p.close()


def test_buffer_error_when_full_then_poll_drains():
    topic = new_topic()
    p = rafka.Producer({"bootstrap.servers": bootstrap(), "buffer.memory": 65536, "linger.ms": 50})
    with pytest.raises(BufferError):
        for _ in range(100000):
            p.produce(topic, b"x" * 1000)
    while len(p):
        p.poll(0.1)
    p.produce(topic, b"after")
    assert p.flush(30) == 0
    p.close()


def test_send_returns_a_future_resolved_with_the_record_metadata():
    topic = new_topic()
    p = rafka.Producer({"bootstrap.servers": bootstrap()})
    futs = [p.send(topic, b"s%d" % i, key=b"k") for i in range(10)]
    p.flush(30)
    msgs = [f.result(timeout=0) for f in futs]
    assert [m.value() for m in msgs] == [b"s%d" % i for i in range(10)]
    assert msgs[-1].offset() == msgs[0].offset() + 9
    p.close()


def test_confluent_script_runs_with_only_the_import_changed(tmp_path):
    import sys
    topic = new_topic()
    src = open(os.path.join(os.path.dirname(__file__), "confluent_example.py")).read()
    script = tmp_path / "example.py"
    script.write_text(src.replace("from confluent_kafka import Producer", "from rafka import Producer"))
    out = subprocess.run([sys.executable, str(script), bootstrap(), topic],
                         check=True, capture_output=True, text=True).stdout
    assert "delivered 3 remaining 0" in out
    assert sorted(raw(r, "value") for r in consume(topic, 3)) == [b"alpha", b"beta", b"gamma"]


# confluent-kafka scripts (tests/python/confluent_scripts, written in its documentation's style) run
# twice, under confluent-kafka itself and with only the import changed to rafka, against the same
# broker: each prints what a user would look at (error names, counts), and the outputs must match.
CONFLUENT_SCRIPTS_DIR = os.path.join(os.path.dirname(__file__), "confluent_scripts")
CONFLUENT_SCRIPTS = sorted(f for f in os.listdir(CONFLUENT_SCRIPTS_DIR) if f.endswith(".py"))


def run_confluent_script(script, module, tmp_path, topic):
    src = open(os.path.join(CONFLUENT_SCRIPTS_DIR, script)).read()
    assert "from confluent_kafka import" in src
    path = tmp_path / f"{module}_{script}"
    path.write_text(src.replace("from confluent_kafka import", f"from {module} import"))
    r = subprocess.run([sys.executable, str(path), bootstrap(), topic], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"{module} {script}: {r.stdout}{r.stderr}"
    return r.stdout


def test_the_confluent_scripts_are_there():
    assert set(CONFLUENT_SCRIPTS) >= {"unknown_topic.py", "unreachable_broker.py", "small_message_timeout.py", "only_errors_reported.py"}


@pytest.mark.parametrize("script", CONFLUENT_SCRIPTS)
def test_script_prints_the_same_under_confluent_kafka_and_rafka(script, tmp_path):
    import confluent_kafka  # noqa: F401  the reference must be installed, never skipped
    topic = new_topic()
    reference = run_confluent_script(script, "confluent_kafka", tmp_path, topic)
    ours = run_confluent_script(script, "rafka", tmp_path, topic)
    assert ours == reference, f"confluent-kafka printed:\n{reference}\nrafka printed:\n{ours}"
    assert reference.strip(), "the script printed nothing"


def test_stub_matches_the_native_module():
    import sys
    r = subprocess.run([sys.executable, "-m", "mypy.stubtest", "rafka"], capture_output=True, text=True,
                       cwd="/tmp")
    assert r.returncode == 0, r.stdout + r.stderr


def test_delivery_report_only_error_calls_back_for_failures_only_and_frees_the_others_callbacks():
    topic = new_topic()
    p = rafka.Producer({"bootstrap.servers": bootstrap(), "delivery.report.only.error": True,
                        "topic.metadata.propagation.max.ms": 1000})
    calls = []

    class Callback:
        def __call__(self, err, msg):
            calls.append((err, msg.topic()))

    cb = Callback()
    before = sys.getrefcount(cb)
    for i in range(500):
        p.produce(topic, b"v%d" % i, on_delivery=cb)
    missing = "py-missing-" + uuid.uuid4().hex[:10]
    p.produce(missing, b"lost", on_delivery=cb)
    assert p.flush(30) == 0
    p.poll(0)
    assert len(calls) == 1 and calls[0][1] == missing, calls
    assert calls[0][0].code() == rafka.KafkaError.UNKNOWN_TOPIC_OR_PART
    assert sys.getrefcount(cb) == before, "the withheld reports' callbacks were released"
    assert len(consume(topic, 500)) == 500
    p.close()


def test_partitioner_callable_places_records_where_it_says_and_gets_topic_key_and_count():
    topic = new_topic(5)
    calls = []

    def by_last_byte(t, key, count):
        calls.append((t, key, count))
        return key[-1] % count if key else count - 1

    p = rafka.Producer({"bootstrap.servers": bootstrap(), "partitioner": by_last_byte})
    reported = []
    keys = [b"k0", b"k1", b"k7", None, "k3"]
    for k in keys:
        p.produce(topic, value=b"v", key=k, on_delivery=lambda err, msg: reported.append((err, msg.partition())))
    # An explicit partition is not asked about.
    p.produce(topic, value=b"explicit", key=b"k1", partition=4)
    assert p.flush(30) == 0
    want = [ord("0") % 5, ord("1") % 5, ord("7") % 5, 4, ord("3") % 5]
    assert calls == [(topic, b"k0", 5), (topic, b"k1", 5), (topic, b"k7", 5), (topic, None, 5), (topic, b"k3", 5)]
    # Reports come in order per partition, not across partitions.
    assert sorted(reported) == sorted((None, w) for w in want)
    stored = sorted((r["partition"], r["value"]) for r in consume(topic, 6))
    assert stored == sorted([(w, "v") for w in want] + [(4, "explicit")])
    p.close()


def test_partitioner_callable_waits_for_an_unknown_topics_partition_count():
    # The first produce() to the topic has no metadata yet: the callable still gets the real count.
    topic = new_topic(3)
    counts = []
    p = rafka.Producer({"bootstrap.servers": bootstrap(), "partitioner": lambda t, k, n: counts.append(n) or n - 1})
    p.produce(topic, value=b"first")
    assert p.flush(30) == 0
    assert counts == [3]
    assert [r["partition"] for r in consume(topic, 1)] == [2]
    p.close()


def test_partitioner_callable_errors_reach_produce_and_queue_nothing():
    topic = new_topic(2)
    p = rafka.Producer({"bootstrap.servers": bootstrap(), "partitioner": lambda t, k, n: 2})
    with pytest.raises(rafka.KafkaException) as e:
        p.produce(topic, value=b"v")
    err = e.value.args[0]
    assert err.code() == rafka.KafkaError._UNKNOWN_PARTITION
    assert "chose partition 2" in err.str() and "0 to 1" in err.str()
    assert len(p) == 0
    p.close()

    p = rafka.Producer({"bootstrap.servers": bootstrap(), "partitioner": lambda t, k, n: "zero"})
    with pytest.raises(TypeError, match="partition number"):
        p.produce(topic, value=b"v")

    def boom(t, k, n):
        raise ValueError("no partition for you")

    p2 = rafka.Producer({"bootstrap.servers": bootstrap(), "partitioner": boom})
    with pytest.raises(ValueError, match="no partition for you"):
        p2.produce(topic, value=b"v")
    # produce_batch checks every item before queueing any.
    with pytest.raises(ValueError):
        p2.produce_batch(topic, [{"value": b"a", "partition": 0}, {"value": b"b"}])
    assert len(p2) == 0
    p.close()
    p2.close()


def test_aio_producer_refuses_a_partitioner_callable_saying_so():
    from rafka.aio import AIOProducer
    with pytest.raises(TypeError, match="partitioner callable"):
        AIOProducer({"bootstrap.servers": bootstrap(), "partitioner": lambda t, k, n: 0})


def test_named_partitioner_murmur2_places_keys_as_librdkafka_does():
    topic = new_topic(7)
    p = rafka.Producer({"bootstrap.servers": bootstrap(), "partitioner": "murmur2"})
    for _ in range(3):
        p.produce(topic, value=b"v", key=b"user-1")
    assert p.flush(30) == 0
    # toPositive(murmur2(b"user-1")) == 1404122828 (Kafka's Utils.murmur2), % 7 == 3
    assert [r["partition"] for r in consume(topic, 3)] == [1404122828 % 7] * 3


def test_the_module_partitioner_functions_give_confluent_kafkas_partitions():
    import random
    import confluent_kafka  # the reference must be installed, never skipped
    rng = random.Random(7)
    keys = [b"", b"k", b"key", b"user_12345"] + [rng.randbytes(rng.randrange(0, 64)) for _ in range(2000)]
    for name in ("murmur2", "consistent", "fnv1a"):
        ours, theirs = getattr(rafka, name), getattr(confluent_kafka, name)
        for key in keys:
            for n in (1, 2, 6, 7, 100, 2**31 - 1):
                assert ours(key, n) == theirs(key, n), (name, key, n)
        # The same refusals: a partition count <= 0, a key that is not bytes.
        for bad in ((b"k", 0), (b"k", -1), (None, 6), ("str", 6)):
            with pytest.raises(Exception) as theirs_raised:
                theirs(*bad)
            with pytest.raises(theirs_raised.type) as ours_raised:
                ours(*bad)
            if theirs_raised.type is ValueError:
                assert str(ours_raised.value) == str(theirs_raised.value)


def test_version_and_libversion_name_rafkas_version_in_confluent_kafkas_shapes():
    assert rafka.version() == rafka.libversion()[0]
    major, minor, patch = (int(x) for x in rafka.version().split("."))
    assert rafka.libversion()[1] == (major << 16) | (minor << 8) | patch
