"""rafka.aio against confluent-kafka's AIOProducer and aiokafka: awaited records per second.

    python bench/python/aio_compare.py [--bootstrap HOST:PORT] [--records 100000] [--tasks 1000] [--runs 1]

Install the clients first: `pip install ./bindings/python -r bench/python/requirements.txt`.

Workload, identical for every client: --tasks asyncio tasks share --records records of 100-byte
values (a pool of 1024 distinct payloads made before timing, cycled); each task produces one
record and awaits its acknowledgement before the next, as a request handler does. One 6-partition
topic, acks=all, linger.ms=5, batch.size=131072, no compression. Each run is its own process, on
asyncio's default loop; runs alternate between clients after unmeasured warm-up rounds.

Clients:
  rafka-aio      msg = await rafka.aio.AIOProducer.produce(topic, value)
  confluent-aio  fut = await confluent_kafka.aio.AIOProducer.produce(topic, value); await fut
                 (buffer_timeout=0.005, the same linger as linger.ms; its defaults otherwise:
                 batch_size=1000, 4 workers)
  aiokafka       await AIOKafkaProducer.send_and_wait(topic, value)

Figures per client (median, min, max of the runs):
  acked/s   records acknowledged / time from the first produce to the last acknowledgement
  cpu_us    process CPU time (every thread: the client's I/O threads too) / acknowledged record
Writes bench/results/aio.json and bench/results/aio.md.
"""
import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "scripts"))
from rafkatools.bench import ROOT, parser, spread, write_json, write_markdown  # noqa: E402
from rafkatools.cluster import KafkaError, LocalKafka  # noqa: E402

CLIENTS = ["rafka-aio", "confluent-aio", "aiokafka"]
SIZE = 100
POOL = 1024
LINGER_MS = 5
BATCH_BYTES = 131072
PARTITIONS = 6


async def drive(send_one, n, tasks):
    """`tasks` tasks, each awaiting `send_one(value)` for its share of `n` records; returns
    (seconds, acknowledged)."""
    pool = [os.urandom(SIZE) for _ in range(POOL)]
    await send_one(b"warm-up")
    acked = [0]

    async def task(k):
        for i in range(k, n, tasks):
            await send_one(pool[i % POOL])
            acked[0] += 1

    c0, w0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*[task(k) for k in range(tasks)])
    return time.perf_counter() - w0, time.process_time() - c0, acked[0]


async def run_rafka(bootstrap, topic, n, tasks):
    from rafka.aio import AIOProducer
    conf = {"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": LINGER_MS, "batch.size": BATCH_BYTES}
    async with AIOProducer(conf) as p:
        return await drive(lambda v: p.produce(topic, v), n, tasks)


async def run_confluent(bootstrap, topic, n, tasks):
    from confluent_kafka.aio import AIOProducer
    conf = {"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": LINGER_MS, "batch.size": BATCH_BYTES,
            "compression.type": "none"}
    # Its own buffer in front of librdkafka flushes at batch_size records or after buffer_timeout
    # seconds: the same linger as the others' linger.ms (its default, 1 s, holds each record a second).
    p = AIOProducer(conf, buffer_timeout=LINGER_MS / 1000)

    async def send_one(v):
        fut = await p.produce(topic, v)
        await fut

    try:
        return await drive(send_one, n, tasks)
    finally:
        await p.close()


async def run_aiokafka(bootstrap, topic, n, tasks):
    from aiokafka import AIOKafkaProducer
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=LINGER_MS, max_batch_size=BATCH_BYTES)
    await p.start()
    try:
        return await drive(lambda v: p.send_and_wait(topic, v), n, tasks)
    finally:
        await p.stop()


RUNNERS = {"rafka-aio": run_rafka, "confluent-aio": run_confluent, "aiokafka": run_aiokafka}


def worker(client, bootstrap, topic, n, tasks):
    total, cpu, acked = asyncio.run(RUNNERS[client](bootstrap, topic, n, tasks))
    print(json.dumps({"client": client, "records": n, "tasks": tasks, "total_s": total, "cpu_s": cpu, "acked": acked}))


def versions():
    from importlib import metadata
    out = {"python": platform.python_version()}
    for name in ("rafka", "confluent-kafka", "aiokafka"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    try:
        import confluent_kafka
        out["librdkafka"] = confluent_kafka.libversion()[0]
    except ImportError:
        pass
    return out


def summarize(runs):
    return {
        "acked_per_s": spread(r["acked"] / r["total_s"] for r in runs),
        "cpu_us_per_record": spread(r["cpu_s"] / max(r["acked"], 1) * 1e6 for r in runs),
        "acked": [r["acked"] for r in runs],
    }


def markdown(meta, summary):
    f = lambda d, fmt: (fmt + " (" + fmt + "-" + fmt + ")") % (d["median"], d["min"], d["max"])  # noqa: E731
    lines = [
        "# asyncio producers: %d awaited records of %d bytes, %d concurrent tasks" % (meta["records"], SIZE, meta["tasks"]),
        "",
        "%s; %d CPUs; broker %s, topic of %d partitions; acks=all, linger.ms=%d, batch.size=%d; each task awaits "
        "each record's acknowledgement before its next; %d run(s) per client, alternated, after %d unmeasured "
        "warm-up round(s); median (min-max)." % (meta["date"], meta["cpus"], meta["bootstrap"], PARTITIONS, LINGER_MS,
                                                 BATCH_BYTES, meta["runs"], meta["warmup_rounds"]),
        "",
        "Load average (1/5/15 min) at start %s, at end %s." % (
            "/".join("%.1f" % x for x in meta["loadavg_1_5_15_start"]), "/".join("%.1f" % x for x in meta["loadavg_1_5_15_end"])),
        "",
        "Command: `%s`" % meta["command"],
        "",
        "Versions: " + ", ".join("%s %s" % kv for kv in meta["versions"].items()),
        "",
        "| client | records acked/s | CPU us/record |",
        "| --- | ---: | ---: |",
    ]
    for c, s in summary.items():
        lines.append("| %s | %s | %s |" % (c, f(s["acked_per_s"], "%.0f"), f(s["cpu_us_per_record"], "%.1f")))
    mine = summary.get("rafka-aio")
    if mine:
        lines += ["", "rafka-aio relative to the others (medians):", ""]
        for c, s in summary.items():
            if c != "rafka-aio":
                lines.append("- vs %s: %.2fx acked/s, %.2fx CPU per record" % (
                    c, mine["acked_per_s"]["median"] / s["acked_per_s"]["median"],
                    mine["cpu_us_per_record"]["median"] / s["cpu_us_per_record"]["median"]))
    return "\n".join(lines) + "\n"


def main():
    ap = parser(None, records=100_000, runs=1, record_size=None, out=str(ROOT / "bench" / "results" / "aio"))
    ap.add_argument("--bootstrap", default=os.environ.get("RAFKA_BOOTSTRAP", "127.0.0.1:19092"))
    ap.add_argument("--tasks", type=int, default=1000)
    ap.add_argument("--warmup-rounds", type=int, default=1, help="unmeasured rounds first (JIT of a fresh broker)")
    ap.add_argument("--clients", default=",".join(CLIENTS))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--topic", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        return worker(a.worker, a.bootstrap, a.topic, a.records, a.tasks)
    clients = a.clients.split(",")
    topic = "py-aio-" + uuid.uuid4().hex[:8]
    try:
        LocalKafka().create_topic(topic, PARTITIONS, bootstrap=a.bootstrap)
    except KafkaError as e:
        sys.exit(f"aio_compare.py: cannot create topic {topic} on {a.bootstrap}:\n{str(e)[-2000:]}")
    runs = {c: [] for c in clients}

    def run(c, n):
        p = subprocess.run([sys.executable, __file__, "--worker", c, "--bootstrap", a.bootstrap, "--topic", topic,
                            "--records", str(n), "--tasks", str(a.tasks)], capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"aio_compare.py: the {c} run failed (exit {p.returncode}):\n{p.stderr.strip()[-2000:]}")
        return json.loads(p.stdout.strip().splitlines()[-1])

    for i in range(a.warmup_rounds):
        for c in clients:
            r = run(c, max(a.records // 5, a.tasks))
            print("warm-up %d %-14s acked/s %10.0f" % (i + 1, c, r["acked"] / r["total_s"]), flush=True)
    load_start = os.getloadavg()
    for i in range(a.runs):
        for c in clients:
            r = run(c, a.records)
            runs[c].append(r)
            print("run %d %-14s acked/s %10.0f  cpu us/rec %7.1f  acked %d" % (
                i + 1, c, r["acked"] / r["total_s"], r["cpu_s"] / max(r["acked"], 1) * 1e6, r["acked"]), flush=True)
    meta = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpus": os.cpu_count(),
        "loadavg_1_5_15_start": load_start,
        "loadavg_1_5_15_end": os.getloadavg(),
        "bootstrap": a.bootstrap,
        "records": a.records,
        "tasks": a.tasks,
        "runs": a.runs,
        "value_bytes": SIZE,
        "settings": {"acks": "all", "linger.ms": LINGER_MS, "batch.size": BATCH_BYTES, "partitions": PARTITIONS},
        "versions": versions(),
        "warmup_rounds": a.warmup_rounds,
        "command": "python bench/python/aio_compare.py --records %d --tasks %d --runs %d --warmup-rounds %d" % (
            a.records, a.tasks, a.runs, a.warmup_rounds),
    }
    summary = {c: summarize(r) for c, r in runs.items()}
    write_json(a.out + ".json", {"meta": meta, "summary": summary, "runs": runs}, newline=False)
    md = markdown(meta, summary)
    write_markdown(a.out + ".md", [md.rstrip("\n")])
    print(md)


if __name__ == "__main__":
    main()
