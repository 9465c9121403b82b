"""rafka.aio.AIOProducer against the real broker, read back with Kafka's Java consumer."""
import asyncio
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from rafka import KafkaException
from rafka.aio import AIOProducer
from test_producer import bootstrap, consume, new_topic, raw


def conf(**extra):
    c = {"bootstrap.servers": bootstrap()}
    c.update(extra)
    return c


def read_values(topic, n):
    return sorted(raw(r, "value") for r in consume(topic, n))


def test_app_serving_concurrent_requests_returns_each_records_offset():
    # An in-process asyncio server (the shape of an aiohttp/FastAPI handler): each request
    # produces its body and answers with the offset it was written at.
    topic = new_topic(3)
    n = 60

    async def main():
        async with AIOProducer(conf(**{"linger.ms": 5})) as producer:
            async def handle(reader, writer):
                body = (await reader.readline()).strip()
                msg = await producer.produce(topic, body, key=body)
                writer.write(b"%d %d\n" % (msg.partition(), msg.offset()))
                await writer.drain()
                writer.close()

            server = await asyncio.start_server(handle, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]

            async def request(i):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"req-%d\n" % i)
                await writer.drain()
                answer = await reader.readline()
                writer.close()
                part, off = answer.split()
                return b"req-%d" % i, int(part), int(off)

            async with server:
                return await asyncio.gather(*[request(i) for i in range(n)])

    answers = asyncio.run(main())
    records = consume(topic, n)
    where = {raw(r, "value"): (r["partition"], r["offset"]) for r in records}
    assert len(where) == n
    for body, part, off in answers:
        assert where[body] == (part, off)


def test_a_thousand_concurrent_awaiting_tasks_all_delivered_and_read_back():
    topic = new_topic(4)
    n = 1000

    async def main():
        async with AIOProducer(conf()) as p:
            return await asyncio.gather(*[p.produce(topic, b"t%d" % i) for i in range(n)])

    msgs = asyncio.run(main())
    assert len(msgs) == n and all(m.error() is None and m.offset() >= 0 for m in msgs)
    # One offset per record per partition: no report was given to two futures.
    assert len({(m.partition(), m.offset()) for m in msgs}) == n
    assert read_values(topic, n) == sorted(b"t%d" % i for i in range(n))


def test_produce_returns_the_message_with_key_headers_partition_timestamp():
    topic = new_topic(3)

    async def main():
        async with AIOProducer(conf()) as p:
            return await p.produce(topic, b"v", key=b"k", partition=2, timestamp=1_700_000_000_123,
                                   headers=[("h", b"x")])

    m = asyncio.run(main())
    assert (m.topic(), m.partition(), m.key(), m.value(), m.headers()) == (topic, 2, b"k", b"v", [("h", b"x")])
    assert m.timestamp() == (1, 1_700_000_000_123)
    [rec] = consume(topic, 1)
    assert rec["partition"] == 2 and rec["offset"] == m.offset() and raw(rec, "key") == b"k"


def test_refused_record_raises_at_once_and_failed_record_raises_from_its_await():
    missing = "py-missing-" + os.urandom(4).hex()

    async def main():
        async with AIOProducer(conf(**{"topic.metadata.propagation.max.ms": 500})) as p:
            with pytest.raises(KafkaException) as refused:
                await p.produce(new_topic(1), b"x" * 2_000_000)
            with pytest.raises(KafkaException) as failed:
                await p.produce(missing, b"x")
            return refused.value.args[0], failed.value.args[0]

    refused, failed = asyncio.run(main())
    assert refused.name() == "_MSG_SIZE_TOO_LARGE"
    assert failed.name() == "UNKNOWN_TOPIC_OR_PART" and missing in failed.str()


def test_full_buffer_awaits_room_instead_of_raising():
    # Five records in flight at most: 200 awaiting produces each wait for room, none raises.
    topic = new_topic(2)

    async def main():
        async with AIOProducer(conf(**{"queue.buffering.max.messages": 5, "linger.ms": 20})) as p:
            return await asyncio.gather(*[p.produce(topic, b"r%d" % i) for i in range(200)])

    msgs = asyncio.run(main())
    assert len(msgs) == 200 and all(m.error() is None for m in msgs)
    assert read_values(topic, 200) == sorted(b"r%d" % i for i in range(200))


def test_full_buffer_raises_buffer_error_after_max_block_ms():
    topic = new_topic(1)

    async def main():
        # linger.ms keeps the two records in the buffer far longer than max.block.ms.
        async with AIOProducer(conf(**{"queue.buffering.max.messages": 2, "linger.ms": 20000,
                                       "max.block.ms": 300})) as p:
            first = [p.produce_nowait(topic, b"a"), p.produce_nowait(topic, b"b")]
            with pytest.raises(BufferError) as e:
                await p.produce(topic, b"c")
            with pytest.raises(BufferError):
                p.produce_nowait(topic, b"d")
            await p.flush()
            return str(e.value), [f.result().value() for f in first]

    text, firsts = asyncio.run(main())
    assert "queue.buffering.max.messages" in text
    assert firsts == [b"a", b"b"]
    assert read_values(topic, 2) == [b"a", b"b"]


def test_cancelled_while_waiting_for_room_queues_nothing():
    topic = new_topic(1)

    async def main():
        async with AIOProducer(conf(**{"queue.buffering.max.messages": 1, "linger.ms": 20000})) as p:
            held = p.produce_nowait(topic, b"held")
            waiting = asyncio.ensure_future(p.produce(topic, b"cancelled"))
            await asyncio.sleep(0.2)
            assert not waiting.done()  # waiting for room, not failed
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            await p.flush()
            # linger.ms is long: flush() sends each at once.
            after = p.produce_nowait(topic, b"after")
            await p.flush()
            p.produce_nowait(topic, b"end")
            await p.flush()
            return (await held).value(), (await after).value()

    assert asyncio.run(main()) == (b"held", b"after")
    # One partition: a queued "cancelled" would be among the first three.
    assert [raw(r, "value") for r in consume(topic, 3)] == [b"held", b"after", b"end"]


def test_cancelled_after_queued_is_still_delivered_and_reported_to_on_delivery():
    topic = new_topic(1)
    reports = []

    async def main():
        on_delivery = lambda err, msg: reports.append((err, msg.value()))  # noqa: E731
        # linger.ms holds the record far longer than the test takes; flush() sends it.
        async with AIOProducer(conf(**{"linger.ms": 20000, "on_delivery": on_delivery})) as p:
            task = asyncio.ensure_future(p.produce(topic, b"queued-then-cancelled"))
            await asyncio.sleep(0.05)  # queued by now, waiting for linger.ms
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await p.flush()

    asyncio.run(main())
    assert reports == [(None, b"queued-then-cancelled")]
    assert read_values(topic, 1) == [b"queued-then-cancelled"]


def test_cancelled_after_queued_failure_without_on_delivery_is_logged(caplog):
    missing = "py-missing-" + os.urandom(4).hex()

    async def main():
        # The report fails 3 s after the record is queued, long after the cancel.
        async with AIOProducer(conf(**{"topic.metadata.propagation.max.ms": 3000})) as p:
            task = asyncio.ensure_future(p.produce(missing, b"x"))
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await p.flush()

    with caplog.at_level(logging.WARNING, logger="rafka"):
        asyncio.run(main())
    assert any("cancelled after it was queued failed" in r.getMessage() for r in caplog.records)


def test_produce_batch_returns_a_future_per_message_all_read_back():
    topic = new_topic(2)
    messages = [b"b0", (b"k1", b"b1"), {"value": b"b2", "key": b"k2", "headers": [("h", b"1")]}] + \
               [b"b%d" % i for i in range(3, 50)]

    async def main():
        async with AIOProducer(conf(**{"queue.buffering.max.messages": 7})) as p:
            futs = await p.produce_batch(topic, messages)
            return await asyncio.gather(*futs)

    msgs = asyncio.run(main())
    assert [m.value() for m in msgs] == [b"b%d" % i for i in range(50)]
    assert msgs[2].headers() == [("h", b"1")]
    assert read_values(topic, 50) == sorted(b"b%d" % i for i in range(50))


def test_produce_nowait_future_resolves_after_flush():
    topic = new_topic(1)

    async def main():
        async with AIOProducer(conf(**{"linger.ms": 100})) as p:
            futs = [p.produce_nowait(topic, b"n%d" % i) for i in range(20)]
            assert await p.flush(30) == 0
            assert all(f.done() for f in futs)
            return [f.result().offset() for f in futs]

    assert asyncio.run(main()) == list(range(20))


def test_list_topics_returns_the_topics_partitions():
    topic = new_topic(3)

    async def main():
        async with AIOProducer(conf()) as p:
            return await p.list_topics(topic, timeout=20)

    md = asyncio.run(main())
    assert sorted(md.topics[topic].partitions) == [0, 1, 2]


def test_purge_fails_the_unsent_records_futures_with_purge_queue():
    topic = new_topic(1)

    async def main():
        async with AIOProducer(conf(**{"linger.ms": 20000})) as p:
            futs = [p.produce_nowait(topic, b"p%d" % i) for i in range(5)]
            await p.purge()
            results = await asyncio.gather(*futs, return_exceptions=True)
            after = await asyncio.gather(p.produce(topic, b"after"), p.flush())
            return results, after[0]

    results, after = asyncio.run(main())
    assert all(isinstance(r, KafkaException) and r.args[0].name() == "_PURGE_QUEUE" for r in results), results
    assert [raw(r, "value") for r in consume(topic, 1)] == [after.value()]


def test_loop_closed_with_records_in_flight_delivers_and_logs_the_reports():
    # The loop ends while records wait for linger.ms: no crash, no hang; at exit the producer is
    # closed, the records are sent, and their reports (no future can take them) are counted in
    # a warning instead of vanishing.
    topic = new_topic(1)
    script = textwrap.dedent("""
        import asyncio, logging, sys
        from rafka.aio import AIOProducer
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
        async def main():
            p = AIOProducer({"bootstrap.servers": sys.argv[1], "linger.ms": 500})
            global keep
            keep = p
            for i in range(25):
                p.produce_nowait(sys.argv[2], b"late-%d" % i)
        asyncio.run(main())
        print("loop closed", flush=True)
    """)
    out = subprocess.run([sys.executable, "-c", script, bootstrap(), topic], capture_output=True, text=True, timeout=40)
    assert out.returncode == 0, out.stderr
    assert "loop closed" in out.stdout
    assert "25 delivery report(s) reached no future: the event loop was closed" in out.stderr, out.stderr
    assert "(25 delivered, 0 failed" in out.stderr
    assert read_values(topic, 25) == sorted(b"late-%d" % i for i in range(25))


def test_reports_queued_on_a_loop_closed_before_running_them_are_logged_not_lost(caplog):
    # The reports reach the loop (their wake-up is in its queue) after it stopped running; closing
    # it drops the wake-up uncalled. They are served as orphans, counted in a warning.
    topic = new_topic(1)
    loop = asyncio.new_event_loop()
    p = None
    futs = []

    async def produce():
        nonlocal p
        p = AIOProducer(conf(**{"linger.ms": 0}))
        futs.extend(p.produce_nowait(topic, b"o%d" % i) for i in range(10))

    with caplog.at_level(logging.WARNING, logger="rafka"):
        loop.run_until_complete(produce())
        deadline = time.monotonic() + 20
        while len(p) and time.monotonic() < deadline:  # delivered, its wake-up queued on the stopped loop
            time.sleep(0.05)
        assert len(p) == 0
        time.sleep(0.2)
        loop.close()
        messages = [r.getMessage() for r in caplog.records]
    assert any("10 delivery report(s) reached no future" in m and "(10 delivered, 0 failed" in m for m in messages), messages
    assert not any(f.done() for f in futs)
    p._core.close_blocking(5)
    assert read_values(topic, 10) == sorted(b"o%d" % i for i in range(10))


def test_works_under_uvloop():
    import uvloop  # requirements-dev.txt
    topic = new_topic(2)

    async def main():
        assert "uvloop" in type(asyncio.get_running_loop()).__module__
        async with AIOProducer(conf(**{"queue.buffering.max.messages": 50})) as p:
            msgs = await asyncio.gather(*[p.produce(topic, b"u%d" % i) for i in range(300)])
            futs = await p.produce_batch(topic, [b"ub%d" % i for i in range(100)])
            return msgs + list(await asyncio.gather(*futs))

    msgs = uvloop.run(main())
    assert len(msgs) == 400
    expected = sorted([b"u%d" % i for i in range(300)] + [b"ub%d" % i for i in range(100)])
    assert read_values(topic, 400) == expected


def test_error_cb_runs_on_the_loop():
    # No broker at this address: the engine reports all brokers down through error_cb.
    errors = []

    async def main():
        me = threading.get_ident()

        def error_cb(err):
            errors.append((err.name(), threading.get_ident() == me))

        p = AIOProducer({"bootstrap.servers": "127.0.0.1:1", "error_cb": error_cb})
        for _ in range(100):
            if errors:
                break
            await asyncio.sleep(0.1)
        await p.close(0)

    asyncio.run(main())
    assert errors and errors[0] == ("_ALL_BROKERS_DOWN", True)


def test_closed_producer_refuses_produce():
    async def main():
        p = AIOProducer(conf())
        await p.close()
        await p.close()
        with pytest.raises(RuntimeError):
            await p.produce("t", b"x")

    asyncio.run(main())


def test_producer_in_a_cycle_through_on_delivery_is_collected():
    import gc
    import weakref

    class Service:
        def __init__(self):
            self.producer = AIOProducer(conf(on_delivery=self.delivered))

        def delivered(self, err, msg):
            pass

    s = Service()
    producer = weakref.ref(s.producer)
    del s
    gc.collect()
    assert producer() is None
