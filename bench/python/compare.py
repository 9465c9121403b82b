"""rafka against confluent-kafka and kafka-python: the same produce workload through each.

    python bench/python/compare.py [--bootstrap HOST:PORT] [--records 1000000] [--runs 3] [--warmup-rounds 3]

Install the clients first: `pip install ./bindings/python -r bench/python/requirements.txt`.

Workload, identical for every client: N records of 100-byte values (a pool of 1024 distinct
payloads made before timing, cycled) to one 6-partition topic, acks=all, linger.ms=5,
batch.size=131072, no compression, a delivery callback counting acknowledged records. Each run is
its own process; runs alternate between clients (run 1 of each, then run 2, ...), after unmeasured
warm-up rounds of every client but kafka-python (a fresh broker is slow until its JIT is done).

Clients:
  rafka           produce() per record; on BufferError poll(0.05) and retry; poll(0) every 1000
  rafka-batch     produce_batch() of 1000 values (lists made before timing); the unqueued rest
                  retried after poll(0.05)
  confluent       as rafka: produce() per record, the same BufferError/poll handling
  confluent-batch confluent-kafka's own produce_batch() of 1000 dicts (made before timing)
  kafka-python    send() per record (it blocks when its buffer is full); acknowledged records
                  counted from the futures after flush()

Figures per client (median, min, max of the runs):
  calls/s   records handed over / time of the produce loop (without the final flush)
  acked/s   records acknowledged / time until flush() returned
  cpu_us    process CPU time (every thread: the client's I/O threads too) / acknowledged record
Writes bench/results/python-compare.json and bench/results/python-compare.md.
"""
import argparse
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
CLIENTS = ["rafka", "rafka-batch", "confluent", "confluent-batch", "kafka-python"]
SIZE = 100
POOL = 1024
CHUNK = 1000
LINGER_MS = 5
BATCH_BYTES = 131072


def payloads(n):
    pool = [os.urandom(SIZE) for _ in range(POOL)]
    return [pool[i % POOL] for i in range(n)]


def run_confluent_style(producer_cls, conf, topic, n, batch, as_dicts):
    acked = [0]

    def on_delivery(err, msg):
        if err is None:
            acked[0] += 1

    p = producer_cls(dict(conf, on_delivery=on_delivery))
    p.produce(topic, b"warm-up")
    p.flush(30)
    acked[0] = 0
    values = payloads(n)
    if batch:
        chunks = [values[i:i + CHUNK] for i in range(0, n, CHUNK)]
        if as_dicts:
            chunks = [[{"value": v} for v in c] for c in chunks]
        values = None
    c0, w0 = time.process_time(), time.perf_counter()
    if batch:
        produce_batch, poll = p.produce_batch, p.poll
        for chunk in chunks:
            while chunk:
                k = produce_batch(topic, chunk)
                if k < len(chunk):
                    chunk = chunk[k:]
                    if as_dicts:
                        for d in chunk:
                            d.pop("_error", None)
                    poll(0.05)
                else:
                    chunk = None
                    poll(0)
    else:
        produce, poll = p.produce, p.poll
        i = 0
        for v in values:
            while True:
                try:
                    produce(topic, v)
                    break
                except BufferError:
                    poll(0.05)
            i += 1
            if i % 1000 == 0:
                poll(0)
    w_loop = time.perf_counter() - w0
    left = p.flush(300)
    w_all = time.perf_counter() - w0
    cpu = time.process_time() - c0
    return {"loop_s": w_loop, "total_s": w_all, "cpu_s": cpu, "acked": acked[0], "unflushed": left}


def run_kafka_python(bootstrap, topic, n):
    from kafka import KafkaProducer
    p = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=LINGER_MS, batch_size=BATCH_BYTES)
    p.send(topic, b"warm-up").get(30)
    values = payloads(n)
    futs = [None] * n
    c0, w0 = time.process_time(), time.perf_counter()
    send = p.send
    for i, v in enumerate(values):
        futs[i] = send(topic, v)
    w_loop = time.perf_counter() - w0
    p.flush(300)
    w_all = time.perf_counter() - w0
    cpu = time.process_time() - c0
    acked = sum(1 for f in futs if f.succeeded())
    p.close()
    return {"loop_s": w_loop, "total_s": w_all, "cpu_s": cpu, "acked": acked, "unflushed": n - acked}


def worker(client, bootstrap, topic, n):
    conf = {"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": LINGER_MS, "batch.size": BATCH_BYTES}
    if client.startswith("rafka"):
        import rafka
        r = run_confluent_style(rafka.Producer, conf, topic, n, client == "rafka-batch", False)
    elif client.startswith("confluent"):
        import confluent_kafka
        conf["compression.type"] = "none"
        r = run_confluent_style(confluent_kafka.Producer, conf, topic, n, client == "confluent-batch", True)
    else:
        r = run_kafka_python(bootstrap, topic, n)
    r.update(client=client, records=n)
    print(json.dumps(r))


def versions():
    from importlib import metadata
    out = {"python": platform.python_version()}
    for mod, name in (("rafka", "rafka"), ("confluent_kafka", "confluent-kafka"), ("kafka", "kafka-python")):
        try:
            m = __import__(mod)
            v = getattr(m, "__version__", None) or metadata.version(name)
            if mod == "confluent_kafka":
                v = "%s (librdkafka %s)" % (m.__version__, m.libversion()[0])
            out[name] = v or "installed"
        except ImportError:
            out[name] = None
    return out


def summarize(runs):
    return {
        "calls_per_s": spread(r["records"] / r["loop_s"] for r in runs),
        "acked_per_s": spread(r["acked"] / r["total_s"] for r in runs),
        "cpu_us_per_record": spread(r["cpu_s"] / max(r["acked"], 1) * 1e6 for r in runs),
        "acked": [r["acked"] for r in runs],
    }


def markdown(meta, summary):
    lines = [
        "# Python clients: %d produce calls of %d-byte values" % (meta["records"], SIZE),
        "",
        "%s; %d CPUs; broker %s, topic of 6 partitions; acks=all, linger.ms=%d, batch.size=%d; "
        "%d runs per client, alternated, after %d unmeasured warm-up round(s); median (min-max)." % (
            meta["date"], meta["cpus"], meta["bootstrap"], LINGER_MS, BATCH_BYTES, meta["runs"], meta.get("warmup_rounds", 0)),
        "",
        "Load average (1/5/15 min) at start %s, at end %s: wall-clock rates are only comparable within a run "
        "set; CPU per record is steadier." % (
            "/".join("%.1f" % x for x in meta["loadavg_1_5_15_start"]), "/".join("%.1f" % x for x in meta["loadavg_1_5_15_end"])),
        "",
        "Command: `%s`" % meta["command"],
        "",
        "Versions: " + ", ".join("%s %s" % kv for kv in meta["versions"].items()),
        "",
        "| client | produce calls/s | records acked/s | CPU us/record |",
        "| --- | ---: | ---: | ---: |",
    ]
    for c, s in summary.items():
        f = lambda d, fmt: (fmt + " (" + fmt + "-" + fmt + ")") % (d["median"], d["min"], d["max"])  # noqa: E731
        lines.append("| %s | %s | %s | %s |" % (c, f(s["calls_per_s"], "%.0f"), f(s["acked_per_s"], "%.0f"),
                                                f(s["cpu_us_per_record"], "%.2f")))
    base = summary.get("confluent")
    if base:
        lines += ["", "Relative to confluent-kafka's produce() (medians):", ""]
        for c, s in summary.items():
            lines.append("- %s: %.2fx calls/s, %.2fx acked/s, %.2fx CPU per record" % (
                c, s["calls_per_s"]["median"] / base["calls_per_s"]["median"],
                s["acked_per_s"]["median"] / base["acked_per_s"]["median"],
                s["cpu_us_per_record"]["median"] / base["cpu_us_per_record"]["median"]))
    return "\n".join(lines) + "\n"


def main():
    ap = parser(None, records=1_000_000, record_size=None, out=str(ROOT / "bench" / "results" / "python-compare"))
    # The broker scripts/kafka starts (`scripts/kafka up`) listens on 19092.
    ap.add_argument("--bootstrap", default=os.environ.get("RAFKA_BOOTSTRAP", "127.0.0.1:19092"))
    ap.add_argument("--warmup-rounds", type=int, default=3, help="unmeasured rounds first (JIT of a fresh broker)")
    ap.add_argument("--clients", default=",".join(CLIENTS))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--topic", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        return worker(a.worker, a.bootstrap, a.topic, a.records)
    clients = a.clients.split(",")
    topic = "py-compare-" + uuid.uuid4().hex[:8]
    try:
        LocalKafka().create_topic(topic, 6, bootstrap=a.bootstrap)
    except KafkaError as e:
        sys.exit(f"compare.py: cannot create topic {topic} on {a.bootstrap} (is a broker running there? "
                 f"`scripts/kafka up` starts one on 127.0.0.1:19092):\n{str(e)[-2000:]}")
    runs = {c: [] for c in clients}

    def run(c):
        p = subprocess.run([sys.executable, __file__, "--worker", c, "--bootstrap", a.bootstrap, "--topic", topic,
                            "--records", str(a.records)], capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"compare.py: the {c} run failed (exit {p.returncode}):\n{p.stderr.strip()[-2000:]}")
        return json.loads(p.stdout.strip().splitlines()[-1])

    # A broker started shortly before runs its JIT compiler for tens of seconds of load, and the
    # first measured runs would time that: unmeasured rounds of the fast clients go first.
    for i in range(a.warmup_rounds):
        for c in [c for c in clients if c != "kafka-python"]:
            r = run(c)
            print("warm-up %d %-16s acked/s %10.0f" % (i + 1, c, r["acked"] / r["total_s"]), flush=True)
    load_start = os.getloadavg()
    for i in range(a.runs):
        for c in clients:
            r = run(c)
            runs[c].append(r)
            print("run %d %-16s calls/s %10.0f  acked/s %10.0f  cpu us/rec %6.2f  acked %d" % (
                i + 1, c, r["records"] / r["loop_s"], r["acked"] / r["total_s"], r["cpu_s"] / max(r["acked"], 1) * 1e6,
                r["acked"]), flush=True)
    meta = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpus": os.cpu_count(),
        # Other work on the machine skews wall-clock rates (CPU per record much less): say how busy it was.
        "loadavg_1_5_15_start": load_start,
        "loadavg_1_5_15_end": os.getloadavg(),
        "bootstrap": a.bootstrap,
        "records": a.records,
        "runs": a.runs,
        "value_bytes": SIZE,
        "settings": {"acks": "all", "linger.ms": LINGER_MS, "batch.size": BATCH_BYTES, "partitions": 6},
        "versions": versions(),
        "warmup_rounds": a.warmup_rounds,
        "command": "python bench/python/compare.py --records %d --runs %d --warmup-rounds %d" % (a.records, a.runs, a.warmup_rounds),
    }
    summary = {c: summarize(r) for c, r in runs.items()}
    write_json(a.out + ".json", {"meta": meta, "summary": summary, "runs": runs}, newline=False)
    md = markdown(meta, summary)
    write_markdown(a.out + ".md", [md.rstrip("\n")])
    print(md)


if __name__ == "__main__":
    main()
