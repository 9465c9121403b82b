"""One producer loop through a Python Kafka client, for bench/run.

usage: produce_bench.py --client rafka|confluent-kafka|kafka-python --bootstrap B --topic T
                        --records N --size S [--threads T] [--keys K] [--warmup W] [--set key=value]...
                        [--value-type bytes|bytearray|memoryview]

Settings are given in the Java/librdkafka spelling (acks, linger.ms, ...); kafka-python gets them
translated to its keyword arguments. Payload and keys are made before timing; W warm-up records
are sent and flushed first; then T threads send N records between them, and the clock stops after
flush(). Only acknowledged records count. Latency: Message.latency() for the confluent-kafka API
(rafka implements it too), send-to-callback time for kafka-python. Prints one JSON line; a setting
the client rejects prints {"unavailable": ...} and exits 3.

--value-type: the one value every record carries, made before timing: `bytes` (the default), a
`bytearray` (a writable buffer), or a read-only `memoryview` of a bytes object (a buffer export). A
client whose produce() refuses that type (TypeError) is "unavailable" for it.
"""
import argparse
import json
import os
import sys
import threading
import time


class Tally:
    """Acknowledged/failed counts and a latency histogram in 10-microsecond buckets. Delivery
    callbacks run one at a time (under the GIL) so plain ints and a dict suffice."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.acked = 0
        self.failed = 0
        self.first_error = ""
        self.hist = {}

    def ok(self, latency_s):
        self.acked += 1
        b = int(latency_s * 100_000)
        self.hist[b] = self.hist.get(b, 0) + 1

    def fail(self, err):
        self.failed += 1
        self.first_error = self.first_error or str(err)

    def percentile_ms(self, p):
        total = sum(self.hist.values())
        if not total:
            return 0.0
        target, seen = max(1, round(p * total)), 0
        for b in sorted(self.hist):
            seen += self.hist[b]
            if seen >= target:
                return b / 100.0
        return 0.0


def unavailable(client, why):
    print(json.dumps({"client": client, "unavailable": str(why)}))
    sys.exit(3)


def confluent_style(client, module, conf, tally):
    """rafka and confluent-kafka: the same API."""
    p = module.Producer(conf)

    def on_delivery(err, msg):
        if err is None:
            tally.ok(msg.latency())
        else:
            tally.fail(err)

    def send(topic, key, value):
        while True:
            try:
                p.produce(topic, value, key, on_delivery=on_delivery)
                return
            except BufferError:
                p.poll(0.01)
            except TypeError as e:  # a value type this client does not take (--value-type)
                print(json.dumps({"client": client, "unavailable": f"value of type {type(value).__name__}: {e}"}), flush=True)
                os._exit(3)  # maybe on a sending thread, where sys.exit() would end only that thread

    return send, lambda: p.poll(0), lambda: p.flush(300)


KAFKA_PYTHON_NAMES = {
    "acks": ("acks", lambda v: v if v == "all" else int(v)),
    "enable.idempotence": ("enable_idempotence", lambda v: v == "true"),
    "linger.ms": ("linger_ms", int),
    "batch.size": ("batch_size", int),
    "compression.type": ("compression_type", lambda v: None if v == "none" else v),
    "max.in.flight.requests.per.connection": ("max_in_flight_requests_per_connection", int),
}


def kafka_python(conf, tally):
    import kafka
    from kafka.errors import KafkaConfigurationError

    kw = {"bootstrap_servers": conf.pop("bootstrap.servers")}
    # kafka-python 3 bounds its buffer by record count, not bytes: buffer.memory has no equivalent
    # and is left at its default rather than making every workload unavailable.
    conf.pop("buffer.memory", None)
    for k, v in conf.items():
        if k not in KAFKA_PYTHON_NAMES:
            unavailable("kafka-python", f"no equivalent of {k}")
        name, conv = KAFKA_PYTHON_NAMES[k]
        kw[name] = conv(v)
    try:
        p = kafka.KafkaProducer(**kw)
    except (KafkaConfigurationError, AssertionError, TypeError, ValueError) as e:
        unavailable("kafka-python", e)
    now = time.perf_counter

    def ok(t0, _meta):
        tally.ok(now() - t0)

    def send(topic, key, value):
        p.send(topic, value=value, key=key).add_callback(ok, now()).add_errback(tally.fail)

    return send, lambda: None, lambda: p.flush(300)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--client", required=True, choices=["rafka", "confluent-kafka", "kafka-python"])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--records", type=int, required=True)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--keys", type=int, default=0)
    ap.add_argument("--warmup", type=int, default=0)
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--value-type", choices=["bytes", "bytearray", "memoryview"], default="bytes")
    a = ap.parse_args()

    conf = {"bootstrap.servers": a.bootstrap}
    conf.update(kv.split("=", 1) for kv in a.set)
    tally = Tally()
    if a.client == "kafka-python":
        send, poll, flush = kafka_python(conf, tally)
    else:
        module = __import__("rafka" if a.client == "rafka" else "confluent_kafka")
        try:
            send, poll, flush = confluent_style(a.client, module, conf, tally)
        except Exception as e:  # KafkaException / ValueError for a rejected setting
            unavailable(a.client, e)

    value = b"A" * a.size
    if a.value_type == "bytearray":
        value = bytearray(value)
    elif a.value_type == "memoryview":
        value = memoryview(value)
    keys = [f"key-{i}".encode() for i in range(a.keys)] or [None]

    def loop(base, n):
        for i in range(base, base + n):
            send(a.topic, keys[i % len(keys)], value)
            if i & 1023 == 0:
                poll()

    if a.warmup:
        loop(0, a.warmup)
        flush()
    tally.reset()
    per_thread = a.records // a.threads
    workers = [threading.Thread(target=loop, args=(t * per_thread, per_thread)) for t in range(a.threads)]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    flush()
    seconds = time.perf_counter() - t0
    print(json.dumps({
        "client": a.client, "records": per_thread * a.threads, "acked": tally.acked, "failed": tally.failed,
        "seconds": seconds, "p50_ms": tally.percentile_ms(0.5), "p99_ms": tally.percentile_ms(0.99),
        "first_error": tally.first_error,
    }), flush=True)
    sys.exit(1 if tally.failed else 0)


if __name__ == "__main__":
    main()
