#!/usr/bin/env python3
"""TLS against plaintext, for rafka and for the Java producer: each client's perf tool (rafka perf,
Kafka's ProducerPerformance) over a broker's PLAINTEXT listener and over its SSL listener (one
broker, `scripts/kafka up --security ssl`, so only the transport differs), runs alternating.
Records records/s, MB/s and client CPU microseconds per record (user+system of the child).
Writes bench/results/tls-perf.json and .md. A benchmark, not a test.

Usage: bench/tls_perf.py [--records N] [--runs K] [--record-size B] [--port P]
Needs a release build of rafka (cargo build --release -p rafka-cli); starts and stops its own broker.
"""
import os
import platform
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from rafkatools.bench import ROOT, kafka_classpath, parse_summary, parser, run_child, write_json, write_markdown  # noqa: E402
from rafkatools.cluster import KafkaError, LocalKafka  # noqa: E402


def main():
    ap = parser(__doc__, records=1_000_000)
    ap.add_argument("--port", type=int, default=19672)
    a = ap.parse_args()
    state = "/tmp/rafka-tls-bench"
    target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    rafka = Path(target) / "release" / "rafka"
    kafka = LocalKafka(state)
    up = kafka.up(port=a.port, security="ssl")
    plain, secure = up.bootstrap, up.secure_bootstrap
    try:
        topic = "tls-bench"
        kafka.create_topic(topic, 6)
        classpath = kafka_classpath()
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
            run_child(tools[client](min(a.records, 200_000), props))
        results = {k: [] for k in variants}
        for run in range(a.runs):
            for name, (client, props) in variants.items():
                m = run_child(tools[client](a.records, props))
                s = parse_summary(m.out)
                results[name].append({"records_per_s": s["records_per_sec"], "mb_per_s": s["mb_per_sec"],
                                      "cpu_us_per_record": m.cpu_s * 1e6 / a.records, "wall_s": m.wall_s})
                print(name, results[name][-1], flush=True)
    finally:
        try:
            kafka.down()
        except KafkaError as e:
            print(f"stopping the benchmark broker failed: {e}", file=sys.stderr)
    summary = {k: {f: statistics.median(r[f] for r in v) for f in v[0]} for k, v in results.items()}
    doc = {"machine": platform.platform(), "cpus": os.cpu_count(), "records": a.records, "record_size": a.record_size, "runs": a.runs, "median": summary, "all": results}
    outdir = ROOT / "bench" / "results"
    write_json(outdir / "tls-perf.json", doc)
    lines = [f"# TLS vs plaintext, rafka and the Java producer (one broker, same topic; {a.records} x {a.record_size} B records, median of {a.runs})", "",
             "| client, transport | records/s | MB/s | client CPU us/record | TLS CPU cost |", "|---|---|---|---|---|"]
    for k, s in summary.items():
        client, transport = k.split()
        base = summary[f"{client} plaintext"]["cpu_us_per_record"]
        cost = "" if transport == "plaintext" else f"{s['cpu_us_per_record'] / base:.2f}x"
        lines.append(f"| {k} | {s['records_per_s']:.0f} | {s['mb_per_s']:.2f} | {s['cpu_us_per_record']:.3f} | {cost} |")
    lines += ["", f"Machine: {doc['machine']}, {doc['cpus']} CPUs. The broker shares the machine with the client (its TLS work competes for the same cores)."]
    write_markdown(outdir / "tls-perf.md", lines, echo=True)


if __name__ == "__main__":
    main()
