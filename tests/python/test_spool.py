"""spool_recovered_cb: records an earlier producer left in spool.dir are reported to it once each,
with the partition and offset Kafka's Java consumer reads back (rafka.Producer and AIOProducer),
against the shared broker. The earlier producer reaches no broker (bootstrap 127.0.0.1:1), so it
closes with its records still in the spool."""
import asyncio
import tempfile
import time

import rafka
from rafka.aio import AIOProducer
from test_producer import bootstrap, consume, new_topic, raw

N = 12


def spool_conf(servers, spool_dir, **extra):
    c = {"bootstrap.servers": servers, "linger.ms": 2, "spool.dir": spool_dir, "spool.when": "always"}
    c.update(extra)
    return c


def leave_records_in_the_spool(spool_dir, topic):
    """A producer that reaches no broker: close(timeout) reports every record _DESTROY and leaves it
    in the spool (close never deletes an unsent record)."""
    reports = []
    recovered = []
    p = rafka.Producer(spool_conf("127.0.0.1:1", spool_dir, on_delivery=lambda e, m: reports.append(e),
                                  spool_recovered_cb=lambda e, m: recovered.append(m)))
    for i in range(N):
        p.produce(topic, b"v%d" % i, key=b"k%d" % i)
    try:
        p.close(0.5)
    except rafka.KafkaException:
        pass  # records were still pending at the timeout
    assert len(reports) == N and all(e is not None and e.code() == rafka.KafkaError._DESTROY for e in reports), reports
    assert recovered == []


def check_read_back(topic, recovered):
    """Each record reported exactly once, where Kafka's consumer finds it."""
    assert all(e is None for e, _ in recovered), [e for e, _ in recovered]
    by_key = {}
    for _, m in recovered:
        by_key.setdefault(m.key(), []).append((m.partition(), m.offset(), m.value(), m.topic()))
    assert sorted(by_key) == sorted(b"k%d" % i for i in range(N))
    assert all(len(v) == 1 for v in by_key.values()), by_key
    stored = {(r["partition"], r["offset"]): (raw(r, "key"), raw(r, "value")) for r in consume(topic, N)}
    assert len(stored) == N
    for key, [(partition, offset, value, t)] in by_key.items():
        assert t == topic
        assert stored[(partition, offset)] == (key, value), (key, partition, offset)
        assert value == b"v" + key[1:]


def test_records_an_earlier_producer_left_are_reported_once_each_to_spool_recovered_cb_from_poll():
    topic = new_topic(2)
    spool_dir = tempfile.mkdtemp(prefix="py-spool-")
    leave_records_in_the_spool(spool_dir, topic)
    recovered, delivered = [], []
    p = rafka.Producer(spool_conf(bootstrap(), spool_dir, on_delivery=lambda e, m: delivered.append(m),
                                  spool_recovered_cb=lambda e, m: recovered.append((e, m))))
    time.sleep(1)
    assert recovered == [], "served only from poll()/flush()"
    p.flush(30)
    deadline = time.monotonic() + 10
    while len(recovered) < N and time.monotonic() < deadline:
        p.poll(0.1)
    p.close()
    assert delivered == []
    check_read_back(topic, recovered)
    # Everything was acknowledged: the next producer on the directory recovers nothing.
    again = []
    p = rafka.Producer(spool_conf(bootstrap(), spool_dir, spool_recovered_cb=lambda e, m: again.append(m)))
    p.flush(10)
    p.poll(0.3)
    p.close()
    assert again == []


def test_spool_recovered_cb_is_not_called_when_nothing_was_recovered():
    topic = new_topic()
    recovered, delivered = [], []
    p = rafka.Producer(spool_conf(bootstrap(), tempfile.mkdtemp(prefix="py-spool-"),
                                  spool_recovered_cb=lambda e, m: recovered.append(m)))
    for i in range(N):
        p.produce(topic, b"v%d" % i, key=b"k%d" % i, on_delivery=lambda e, m: delivered.append(e))
    assert p.flush(30) == 0
    p.poll(0.3)
    p.close()
    assert delivered == [None] * N
    assert recovered == []
    assert len(consume(topic, N)) == N


def test_spool_recovered_cb_must_be_callable():
    try:
        rafka.Producer({"bootstrap.servers": bootstrap(), "spool_recovered_cb": 3})
    except TypeError as e:
        assert "spool_recovered_cb" in str(e)
    else:
        raise AssertionError("no TypeError")


def test_aio_producer_reports_recovered_records_to_spool_recovered_cb_on_the_loop():
    topic = new_topic(2)
    spool_dir = tempfile.mkdtemp(prefix="py-spool-aio-")
    leave_records_in_the_spool(spool_dir, topic)
    recovered = []

    async def main():
        loop_thread = []

        def cb(e, m):
            loop_thread.append(asyncio.get_running_loop())
            recovered.append((e, m))

        async with AIOProducer(spool_conf(bootstrap(), spool_dir, spool_recovered_cb=cb)) as p:
            await p.flush(30)
            deadline = time.monotonic() + 10
            while len(recovered) < N and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert loop_thread and all(lp is asyncio.get_running_loop() for lp in loop_thread)

    asyncio.run(main())
    check_read_back(topic, recovered)


def test_aio_producer_without_recovered_records_never_calls_spool_recovered_cb():
    topic = new_topic()
    recovered = []

    async def main():
        async with AIOProducer(spool_conf(bootstrap(), tempfile.mkdtemp(prefix="py-spool-aio-"),
                                          spool_recovered_cb=lambda e, m: recovered.append(m))) as p:
            msgs = await asyncio.gather(*[p.produce(topic, b"v%d" % i, key=b"k%d" % i) for i in range(N)])
            assert len(msgs) == N

    asyncio.run(main())
    assert recovered == []
    assert len(consume(topic, N)) == N
