#!/usr/bin/env python3
"""Compression: rafka perf beside Kafka's own ProducerPerformance (the Java producer), per codec,
on the same data and the same broker.

The payloads are made before anything is timed and written to one file that both tools read
(`--payload-file`, one payload picked at random per record, as Java's tool does): JSON-like
events of 200-900 bytes with repeated field names, a few enumerations, random ids and a random
hex token, so they compress about as well as typical application events (neither all zeros
nor random). For each codec and client, alternating clients run by run, on a fresh topic each
time, it records records/s and MB/s (the tool's summary line), client CPU microseconds per
record (user+system time of the child process, all its threads, divided by records), and the
compression ratio: the bytes the broker stored for the topic (its log size, from Kafka's
LogDirsCommand; the topic keeps the producer's batches as sent) over the uncompressed payload
bytes. rafka also runs with compression.threads=0 (compressing on the I/O thread) to show what
the compression threads buy.

Writes bench/results/compression.json and .md. A benchmark, not a test: figures vary with the
machine and nothing here asserts a speed.

Usage: bench/compression_perf.py [--records N] [--runs K] [--codecs none,gzip,...]
Needs a running broker (scripts/kafka up) and a release build of rafka (cargo build --release -p rafka-cli).
"""
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from rafkatools.bench import (ROOT, kafka_classpath, machine_meta, median, parse_summary, parser, rafka_binary,  # noqa: E402
                              run_child, sh, spread, write_report)
from rafkatools.cluster import LocalKafka  # noqa: E402

SETTINGS = ["acks=all", "linger.ms=10", "batch.size=65536"]
PARTITIONS = 3


def make_payloads(path, count=20_000, seed=42):
    """Semi-compressible events, one per line; returns their mean length in bytes."""
    rnd = random.Random(seed)
    words = ["click", "view", "purchase", "login", "logout", "search", "scroll", "share"]
    countries = ["DE", "FR", "US", "BR", "IN", "JP", "NG", "SE", "AU", "CA"]
    lines = []
    for i in range(count):
        tags = ",".join(f'"{rnd.choice(words)}-{rnd.randint(0, 40)}"' for _ in range(rnd.randint(1, 12)))
        ev = (f'{{"event_id":"{rnd.getrandbits(64):016x}","user_id":{rnd.randint(1, 5_000_000)},'
              f'"type":"{rnd.choice(words)}","country":"{rnd.choice(countries)}","ts":{1_700_000_000_000 + i * 37},'
              f'"session":"{rnd.getrandbits(128):032x}","price_cents":{rnd.randint(0, 99999)},"tags":[{tags}],'
              f'"user_agent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{rnd.randint(90, 130)}.0",'
              f'"note":"{" ".join(rnd.choice(words) for _ in range(rnd.randint(0, 60)))}"}}')
        lines.append(ev)
    Path(path).write_text("\n".join(lines) + "\n")
    return statistics.mean(len(l) for l in lines)


def log_bytes(classpath, bootstrap, topic):
    """What the broker stores for the topic, summed over its partitions (LogDirsCommand)."""
    out = sh("java", "-cp", classpath, "org.apache.kafka.tools.LogDirsCommand", "--bootstrap-server", bootstrap,
             "--describe", "--topic-list", topic)
    data = json.loads(next(l for l in out.splitlines() if l.startswith("{")))
    return sum(p["size"] for b in data["brokers"] for d in b["logDirs"] for p in d["partitions"])


def main():
    ap = parser(__doc__, records=300_000, record_size=None, out=str(ROOT / "bench" / "results" / "compression"))
    ap.add_argument("--codecs", default="none,gzip,snappy,lz4,zstd")
    a = ap.parse_args()

    kafka = LocalKafka()
    bootstrap = kafka.bootstrap()
    classpath = kafka_classpath()
    rafka = rafka_binary()
    tmp = tempfile.mkdtemp(prefix="rafka-compression-bench-")
    payload_file = os.path.join(tmp, "payloads.txt")
    mean_len = make_payloads(payload_file)

    def common(n):
        return ["--num-records", str(n), "--payload-file", payload_file, "--throughput", "-1"]

    clients = {
        "rafka": lambda topic, props, n: [rafka, "perf", "--topic", topic, *common(n), "--producer-props",
                                           f"bootstrap.servers={bootstrap}", *props],
        "rafka compression.threads=0": lambda topic, props, n: [rafka, "perf", "--topic", topic, *common(n), "--producer-props",
                                                                 f"bootstrap.servers={bootstrap}", *props, "compression.threads=0"],
        "java-producer": lambda topic, props, n: ["java", "-cp", classpath, "org.apache.kafka.tools.ProducerPerformance",
                                                   "--topic", topic, *common(n), "--producer-props",
                                                   f"bootstrap.servers={bootstrap}", *props],
    }
    results = []
    seq = 0

    def fresh_topic(codec):
        nonlocal seq
        seq += 1
        topic = f"bench-compression-{codec}-{os.getpid()}-{seq}"
        kafka.create_topic(topic, PARTITIONS)
        # Metadata names the leader a moment before the broker has created the partition; a
        # producer that starts in that moment sees its first batches refused (see the notes in
        # docs/compression.md). Both clients get a settled topic.
        time.sleep(2)
        return topic

    for codec in a.codecs.split(","):
        props = [*SETTINGS, f"compression.type={codec}"]
        # Warm-up: one short run per client, not counted.
        for build in clients.values():
            t = fresh_topic(codec)
            run_child(build(t, props, min(a.records, 50_000)))
            kafka.delete_topic(t)
        runs = {c: [] for c in clients}
        for r in range(a.runs):
            for cname, build in clients.items():  # alternate clients run by run
                topic = fresh_topic(codec)
                m = run_child(build(topic, props, a.records))
                s = parse_summary(m.out)
                stored = log_bytes(classpath, bootstrap, topic)
                s.update(cpu_us_per_record=m.cpu_s * 1e6 / s["records"], peak_rss_kib=m.peak_rss_kib, wall_s=m.wall_s,
                         stored_bytes=stored, ratio=stored / (s["records"] * mean_len))
                runs[cname].append(s)
                kafka.delete_topic(topic)
                print(f"{codec:7} {cname:28} run {r+1}: {s['records_per_sec']:>10,.0f} rec/s {s['mb_per_sec']:7.1f} MB/s "
                      f"{s['cpu_us_per_record']:6.2f} us/rec  ratio {s['ratio']:.3f}", flush=True)
        for cname, rs in runs.items():
            def med(k):
                return median(x[k] for x in rs)
            results.append({
                "codec": codec, "client": cname, "runs": rs,
                "records_per_sec": spread(x["records_per_sec"] for x in rs),
                "mb_per_sec": med("mb_per_sec"),
                "cpu_us_per_record": med("cpu_us_per_record"),
                "ratio": med("ratio"),
                "p50_ms": med("p50_ms"), "p99_ms": med("p99_ms"), "peak_rss_mib": med("peak_rss_kib") / 1024,
            })

    meta = machine_meta(records=a.records, mean_payload_bytes=round(mean_len, 1), runs=a.runs, partitions=PARTITIONS,
                        settings=SETTINGS, broker="local single broker from scripts/kafka (same machine, same cores)")
    lines = ["# Compression: rafka perf vs Java ProducerPerformance", "",
             f"{meta['date']}, {meta['cpu']}, {meta['cores']} cores; {a.records:,} JSON-like records of {mean_len:.0f} B on average "
             f"(same payload file for both), {PARTITIONS} partitions, {' '.join(SETTINGS)}, median of {a.runs} runs (min-max). "
             "Ratio: bytes the broker stored / uncompressed payload bytes. CPU: the client process, all threads.", "",
             "| codec | client | records/s | MB/s | ratio | CPU us/record | p50 ms | p99 ms |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        rp = r["records_per_sec"]
        lines.append(f"| {r['codec']} | {r['client']} | {rp['median']:,.0f} ({rp['min']:,.0f}-{rp['max']:,.0f}) | {r['mb_per_sec']:.1f} | "
                     f"{r['ratio']:.3f} | {r['cpu_us_per_record']:.2f} | {r['p50_ms']} | {r['p99_ms']} |")
    write_report(a.out, meta, results, lines)


if __name__ == "__main__":
    main()
