#!/usr/bin/env python3
"""rafka perf beside Kafka's own ProducerPerformance (the Java producer), same broker, same settings.

For each workload and client, alternating client by client, it runs the perf tool as a child
process and records: records/s and MB/s (from the tool's own summary line), client CPU
microseconds per record (user+system time of the child divided by records) and peak RSS of the
child. Writes bench/results/producer-perf.json and .md. A benchmark, not a test: figures vary
with the machine; nothing here asserts a speed.

Usage: bench/producer_perf.py [--records N] [--runs K] [--record-size B]
Needs a running broker (scripts/kafka up) and a release build of rafka (cargo build --release -p rafka-cli).
"""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from rafkatools.bench import (ROOT, kafka_classpath, machine_meta, median, parse_summary, parser, rafka_binary,  # noqa: E402
                              run_child, spread, write_report)
from rafkatools.cluster import LocalKafka  # noqa: E402


def main():
    a = parser(__doc__, records=2_000_000, out=str(ROOT / "bench" / "results" / "producer-perf")).parse_args()

    kafka = LocalKafka()
    bootstrap = kafka.bootstrap()
    classpath = kafka_classpath()
    rafka = rafka_binary()
    workloads = {
        "acks=1": ["acks=1", "linger.ms=5", "enable.idempotence=false"],
        "acks=all+idempotence": ["acks=all", "linger.ms=5", "enable.idempotence=true"],
    }
    clients = {
        "rafka": lambda topic, props: [rafka, "perf", "--topic", topic, "--num-records", str(a.records),
                                        "--record-size", str(a.record_size), "--throughput", "-1",
                                        "--producer-props", f"bootstrap.servers={bootstrap}", *props],
        "java-producer": lambda topic, props: ["java", "-cp", classpath, "org.apache.kafka.tools.ProducerPerformance",
                                                "--topic", topic, "--num-records", str(a.records),
                                                "--record-size", str(a.record_size), "--throughput", "-1",
                                                "--producer-props", f"bootstrap.servers={bootstrap}", *props],
    }
    results = []
    for wname, props in workloads.items():
        topic = f"bench-perf-{wname.replace('=', '').replace('+', '-')}-{os.getpid()}"
        kafka.create_topic(topic, 6)
        # Warm-up: one short run per client, not counted.
        for cname, build in clients.items():
            cmd = build(topic, props)
            cmd[cmd.index("--num-records") + 1] = str(min(a.records, 200_000))
            run_child(cmd)
        runs = {c: [] for c in clients}
        for r in range(a.runs):
            for cname, build in clients.items():  # alternate clients run by run
                m = run_child(build(topic, props))
                s = parse_summary(m.out)
                s.update(cpu_us_per_record=m.cpu_s * 1e6 / s["records"], peak_rss_kib=m.peak_rss_kib, wall_s=m.wall_s)
                runs[cname].append(s)
                print(f"{wname:22} {cname:14} run {r+1}: {s['records_per_sec']:>12,.0f} rec/s  {s['cpu_us_per_record']:.2f} us/rec", flush=True)
        for cname, rs in runs.items():
            def med(k):
                return median(x[k] for x in rs)
            results.append({
                "workload": wname, "client": cname, "runs": rs,
                "records_per_sec": spread(x["records_per_sec"] for x in rs),
                "mb_per_sec": med("mb_per_sec"),
                "cpu_us_per_record": med("cpu_us_per_record"),
                "p50_ms": med("p50_ms"), "p99_ms": med("p99_ms"), "peak_rss_mib": med("peak_rss_kib") / 1024,
            })
        kafka.delete_topic(topic)

    meta = machine_meta(records=a.records, record_size=a.record_size, runs=a.runs,
                        broker="local single broker from scripts/kafka (same machine, same 2 cores)")
    lines = [f"# rafka perf vs Java ProducerPerformance", "", f"{meta['date']}, {meta['cpu']}, {meta['cores']} cores; "
             f"{a.records:,} records of {a.record_size} B, 6 partitions, linger.ms=5, median of {a.runs} runs (min-max).", "",
             "| workload | client | records/s | MB/s | CPU us/record | peak RSS MiB | p50 ms | p99 ms |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        rp = r["records_per_sec"]
        lines.append(f"| {r['workload']} | {r['client']} | {rp['median']:,.0f} ({rp['min']:,.0f}-{rp['max']:,.0f}) | {r['mb_per_sec']:.1f} | "
                     f"{r['cpu_us_per_record']:.2f} | {r['peak_rss_mib']:.0f} | {r['p50_ms']} | {r['p99_ms']} |")
    write_report(a.out, meta, results, lines)


if __name__ == "__main__":
    main()
