#!/usr/bin/env python3
"""The same Producer send loop with KafkaProducer and RafkaProducer, same broker, same settings.

Each run is its own JVM (HeapBench.java, launched from source), alternating client by client,
on a fresh 6-partition topic. Writes bench/results/java.json with every run and the median per
client. A benchmark, not a test: figures vary with the machine; nothing asserts a speed.

Two loops (--workload): "prepared" (keyless records, the value made before timing; writes
bench/results/java.json) and "service", as a JVM service sends (a new ProducerRecord per record, a
String key from 1,000 with StringSerializer, a value array of its own per record; writes
java-service-SINK.json). --sink null runs against rafka-nullsink (pinned to the first CPU when there
are two or more) instead of the broker.

Usage: bench/java/run.py [--records N] [--runs K] [--record-size B] [--warmup W] [--workload prepared|service] [--sink broker|null]
Needs a broker (RAFKA_BOOTSTRAP, or the one `scripts/kafka up` started) unless --sink null, JDK 17 and Maven.
"""
import json
import os
import platform
import sys
import types
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from rafkatools.bench import ROOT, java_version, kafka_classpath, median, parser, sh, write_json, write_markdown  # noqa: E402
from rafkatools.cluster import LocalKafka  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from suite import start_nullsink, stop_nullsink  # noqa: E402

FIELDS = ("records_per_s", "cpu_us_per_record", "heap_bytes_per_record", "peak_rss_kib")


def main():
    ap = parser(__doc__, records=1_000_000)
    ap.add_argument("--warmup", type=int, default=200_000)
    ap.add_argument("--workload", choices=("prepared", "service"), default="prepared")
    ap.add_argument("--sink", choices=("broker", "null"), default="broker")
    ap.add_argument("--out", help="bench/results/OUT.json and OUT.md (default: java, or java-WORKLOAD-SINK)")
    ap.add_argument("--jar", help="a rafka jar to measure instead of building bindings/java (an earlier build, for a before/after)")
    a = ap.parse_args()

    kafka = LocalKafka()
    sink = None
    if a.sink == "null":
        target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release"
        sh("cargo", "build", "--release", "--quiet", "-p", "rafka-nullsink", cwd=ROOT)
        sink, bootstrap = start_nullsink(types.SimpleNamespace(nullsink=target / "rafka-nullsink"),
                                         "0" if (os.cpu_count() or 1) >= 2 else None)
    else:
        bootstrap = os.environ.get("RAFKA_BOOTSTRAP") or kafka.bootstrap()
    try:
        runs, load_at_start = measure(a, kafka, bootstrap)
    finally:
        if sink is not None:
            stop_nullsink(sink)
    report(a, runs, load_at_start)


def measure(a, kafka, bootstrap):
    """Every run, alternating the clients; and the load average when they started."""
    if a.jar:
        jar = Path(a.jar).resolve()
    else:
        sh("mvn", "-q", "-B", "-DskipTests", "package", cwd=ROOT / "bindings" / "java")
        jar = next((ROOT / "bindings" / "java" / "target").glob("rafka-[0-9]*.jar"))
    classpath = f"{jar}:{kafka_classpath()}"
    load_at_start = round(os.getloadavg()[0], 2)
    runs = []
    for i in range(a.runs):
        for client in ("kafka", "rafka"):
            topic = f"bench-java-{client}-{uuid.uuid4().hex[:8]}-p6"
            if a.sink == "broker":
                kafka.create_topic(topic, 6, bootstrap=bootstrap)
            out = sh("java", "-Xms1g", "-Xmx1g", "-cp", classpath, str(Path(__file__).parent / "HeapBench.java"),
                     client, bootstrap, topic, str(a.records), str(a.record_size), str(a.warmup), a.workload)
            run = json.loads(out.splitlines()[-1])
            print(json.dumps(run), flush=True)
            runs.append(run)
    return runs, load_at_start


def report(a, runs, load_at_start):
    medians = {}
    for client in ("kafka", "rafka"):
        mine = [r for r in runs if r["client"] == client]
        medians[client] = {f: median(r[f] for r in mine) for f in FIELDS}
    what = {"prepared": "one Producer<byte[],byte[]> send loop (keyless, callback, flush) with KafkaProducer and RafkaProducer",
            "service": "a service-style send loop (new ProducerRecord per record, String key from 1,000 with StringSerializer, "
                       "a byte[] value of its own per record, callback, flush) with KafkaProducer and RafkaProducer"}[a.workload]
    result = {
        "what": what,
        "command": "python3 bench/java/run.py" + "".join(f" --{k.replace('_', '-')} {v}" for k, v in vars(a).items()
                                                         if k in ("records", "runs", "record_size", "warmup", "workload", "sink")
                                                         or (k in ("jar", "out") and v)),
        "settings": {"workload": a.workload, "sink": a.sink, "acks": "all", "linger.ms": 5, "partitions": 6, "records": a.records, "record_size": a.record_size,
                     "warmup_records": a.warmup, "jvm": "-Xms1g -Xmx1g", "kafka_clients": "4.3.1"},
        # Other work on the machine shows here: the two clients alternate, so both share it.
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load_average_1min_at_start": load_at_start,
                    "java": java_version()},
        "median": medians,
        "ratio_rafka_over_kafka": {f: round(medians["rafka"][f] / medians["kafka"][f], 3) for f in FIELDS if medians["kafka"][f]},
        "runs": runs,
    }
    name = a.out or ("java" if a.workload == "prepared" and a.sink == "broker" else f"java-{a.workload}-{a.sink}")
    out = ROOT / "bench" / "results" / f"{name}.json"
    write_json(out, result)
    write_table(result, out.with_suffix(".md"))
    print(json.dumps(result["median"]), f"-> {out}")


TITLES = {"prepared": "one send loop", "service": "a service-style send loop"}


def write_table(result, path):
    """The medians as a Markdown table beside the JSON."""
    s = result["settings"]
    lines = [
        f"# Java: KafkaProducer vs RafkaProducer, {TITLES[s.get('workload', 'prepared')]}\n",
        f"{result['what']}.\n",
        f"Against {'the broker' if s.get('sink', 'broker') == 'broker' else 'rafka-nullsink (pinned to CPU 0)'}: "
        f"{s['records']:,} records of {s['record_size']} B, acks={s['acks']}, linger.ms={s['linger.ms']}, "
        f"{s['partitions']} partitions, {s['warmup_records']:,} warm-up records, JVM {s['jvm']}, "
        f"kafka-clients {s['kafka_clients']}; median of {len(result['runs']) // 2} runs, each in its own JVM, "
        f"on {result['machine']['cpus']} CPUs (sink included), 1-minute load average "
        f"{result['machine'].get('load_average_1min_at_start', '?')} at the start (other work on the machine; "
        f"the clients alternate, so both share it). Reproduce: `{result.get('command', 'python3 bench/java/run.py')}`.\n",
        "| client | records/s | CPU per record | heap allocated per record | peak RSS |",
        "|---|---|---|---|---|",
    ]
    for client, name in (("kafka", "KafkaProducer"), ("rafka", "RafkaProducer")):
        m = result["median"][client]
        lines.append(f"| {name} | {m['records_per_s']:,.0f} | {m['cpu_us_per_record']:.2f} us | "
                     f"{m['heap_bytes_per_record']:.0f} B | {m['peak_rss_kib'] / 1024:.0f} MiB |")
    r = result["ratio_rafka_over_kafka"]
    lines.append(f"\nRafkaProducer / KafkaProducer: {r['records_per_s']}x the records/s, {r['cpu_us_per_record']}x the CPU "
                 f"and {r['heap_bytes_per_record']}x the heap per record.")
    write_markdown(path, lines)


if __name__ == "__main__":
    main()
