#!/usr/bin/env python3
"""TLS against plaintext, for rafka and for the Java producer: each client's perf tool (rafka perf,
Kafka's ProducerPerformance) over a broker's PLAINTEXT listener and over its SSL listener (one
broker, `scripts/kafka up --security ssl`, so only the transport differs), runs alternating.
Records records/s, MB/s and client CPU microseconds per record (user+system of the child).
Writes bench/results/tls-perf.json and .md. A benchmark, not a test.

Usage: bench/tls_perf.py [--records N] [--runs K] [--record-size B] [--port P]
Needs a release build of rafka (cargo build --release -p rafka-cli); starts and stops its own broker.
"""
import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KAFKA = ROOT / "scripts" / "kafka"
SUMMARY = re.compile(r"(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--record-size", type=int, default=100)
    ap.add_argument("--port", type=int, default=19672)
    a = ap.parse_args()
    state = "/tmp/rafka-tls-bench"
    env = dict(os.environ, RAFKA_KAFKA_STATE=state)
    target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    rafka = Path(target) / "release" / "rafka"
    out = subprocess.run([str(KAFKA), "up", "--port", str(a.port), "--security", "ssl"], env=env, check=True, capture_output=True, text=True).stdout
    plain = [l.split("=", 1)[1] for l in out.splitlines() if l.startswith("bootstrap.servers=")][0]
    secure = [l.split("=", 1)[1] for l in out.splitlines() if l.startswith("secure.bootstrap.servers=")][0]
    try:
        topic = "tls-bench"
        subprocess.run([str(KAFKA), "topic", "create", topic, "--partitions", "6"], env=env, check=True, capture_output=True)
        classpath = subprocess.run([str(KAFKA), "classpath"], check=True, capture_output=True, text=True).stdout.strip()
        ca = f"{state}/tls/ca.pem"
        transports = {
            "plaintext": {"rafka": [f"bootstrap.servers={plain}"], "java": [f"bootstrap.servers={plain}"]},
            # Java reads a PEM trust store (ssl.truststore.type=PEM); both verify the host name.
            "ssl": {"rafka": [f"bootstrap.servers={secure}", "security.protocol=SSL", f"ssl.ca.location={ca}"],
                    "java": [f"bootstrap.servers={secure}", "security.protocol=SSL", "ssl.truststore.type=PEM", f"ssl.truststore.location={ca}"]},
        }
        tools = {
            "rafka": lambda n, props: [str(rafka), "perf", "--topic", topic, "--num-records", str(n), "--record-size", str(a.record_size),
                                       "--throughput", "-1", "--producer-props", *props],
            "java": lambda n, props: ["java", "-cp", classpath, "org.apache.kafka.tools.ProducerPerformance", "--topic", topic,
                                      "--num-records", str(n), "--record-size", str(a.record_size), "--throughput", "-1", "--producer-props", *props],
        }
        variants = {f"{client} {transport}": (client, props[client]) for transport, props in transports.items() for client in tools}
        for client, props in variants.values():  # warm-up, not counted
            subprocess.run(tools[client](min(a.records, 200_000), props), capture_output=True, check=True)
        results = {k: [] for k in variants}
        for run in range(a.runs):
            for name, (client, props) in variants.items():
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                t0 = time.time()
                p = subprocess.run(tools[client](a.records, props), capture_output=True, text=True, check=True)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                m = [SUMMARY.search(l) for l in p.stdout.splitlines() if SUMMARY.search(l)][-1]
                cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                results[name].append({"records_per_s": float(m.group(2)), "mb_per_s": float(m.group(3)), "cpu_us_per_record": cpu * 1e6 / a.records, "wall_s": time.time() - t0})
                print(name, results[name][-1], flush=True)
    finally:
        subprocess.run([str(KAFKA), "down"], env=env, capture_output=True)
    summary = {k: {f: statistics.median(r[f] for r in v) for f in v[0]} for k, v in results.items()}
    doc = {"machine": platform.platform(), "cpus": os.cpu_count(), "records": a.records, "record_size": a.record_size, "runs": a.runs, "median": summary, "all": results}
    outdir = ROOT / "bench" / "results"
    (outdir / "tls-perf.json").write_text(json.dumps(doc, indent=2) + "\n")
    lines = [f"# TLS vs plaintext, rafka and the Java producer (one broker, same topic; {a.records} x {a.record_size} B records, median of {a.runs})", "",
             "| client, transport | records/s | MB/s | client CPU us/record | TLS CPU cost |", "|---|---|---|---|---|"]
    for k, s in summary.items():
        client, transport = k.split()
        base = summary[f"{client} plaintext"]["cpu_us_per_record"]
        cost = "" if transport == "plaintext" else f"{s['cpu_us_per_record'] / base:.2f}x"
        lines.append(f"| {k} | {s['records_per_s']:.0f} | {s['mb_per_s']:.2f} | {s['cpu_us_per_record']:.3f} | {cost} |")
    lines += ["", f"Machine: {doc['machine']}, {doc['cpus']} CPUs. The broker shares the machine with the client (its TLS work competes for the same cores)."]
    (outdir / "tls-perf.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
