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
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KAFKA = ROOT / "scripts" / "kafka"
SUMMARY = re.compile(
    r"(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, "
    r"(\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99.9th"
)


def sh(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


def rafka_binary():
    target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    path = Path(target) / "release" / "rafka"
    if not path.exists():
        sys.exit(f"{path} not found: run `cargo build --release -p rafka-cli` first")
    return str(path)


def run_child(cmd):
    """Runs cmd; returns (stdout, cpu seconds, peak RSS KiB, wall seconds) of that child alone
    (os.wait4 gives the child's own resource usage)."""
    t0 = time.monotonic()
    with tempfile.TemporaryFile(mode="w+") as errf:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errf, text=True)
        out = p.stdout.read()
        _, status, ru = os.wait4(p.pid, 0)  # reap it ourselves: wait4 gives its own rusage
        p.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - t0
        if p.returncode != 0:
            errf.seek(0)
            raise RuntimeError(f"{cmd[0]} failed ({p.returncode}):\n{out[-2000:]}\n{errf.read()[-2000:]}")
    return out, ru, wall


def parse_summary(out):
    lines = [l for l in out.splitlines() if SUMMARY.search(l)]
    if not lines:
        raise RuntimeError(f"no summary line in:\n{out[-2000:]}")
    m = SUMMARY.search(lines[-1])
    return {
        "records": int(m.group(1)),
        "records_per_sec": float(m.group(2)),
        "mb_per_sec": float(m.group(3)),
        "avg_latency_ms": float(m.group(4)),
        "max_latency_ms": float(m.group(5)),
        "p50_ms": int(m.group(6)),
        "p99_ms": int(m.group(8)),
    }


def machine_meta(**extra):
    """When and on what a benchmark ran, plus its own settings."""
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor()),
        "cores": os.cpu_count(),
        **extra,
    }


def write_report(out, meta, results, md_lines):
    """Writes OUT.json (meta and every run) and OUT.md (the table), and prints the table."""
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out + ".json").write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    Path(out + ".md").write_text("\n".join(md_lines) + "\n")
    print("\n".join(md_lines))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=2_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--record-size", type=int, default=100)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "producer-perf"))
    a = ap.parse_args()

    bootstrap = sh(str(KAFKA), "bootstrap").strip()
    classpath = sh(str(KAFKA), "classpath").strip()
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
        subprocess.run([str(KAFKA), "topic", "create", topic, "--partitions", "6"], check=True, capture_output=True)
        # Warm-up: one short run per client, not counted.
        for cname, build in clients.items():
            cmd = build(topic, props)
            cmd[cmd.index("--num-records") + 1] = str(min(a.records, 200_000))
            run_child(cmd)
        runs = {c: [] for c in clients}
        for r in range(a.runs):
            for cname, build in clients.items():  # alternate clients run by run
                out, ru, wall = run_child(build(topic, props))
                s = parse_summary(out)
                s.update(cpu_us_per_record=(ru.ru_utime + ru.ru_stime) * 1e6 / s["records"], peak_rss_kib=ru.ru_maxrss, wall_s=wall)
                runs[cname].append(s)
                print(f"{wname:22} {cname:14} run {r+1}: {s['records_per_sec']:>12,.0f} rec/s  {s['cpu_us_per_record']:.2f} us/rec", flush=True)
        for cname, rs in runs.items():
            med = lambda k: statistics.median(x[k] for x in rs)
            results.append({
                "workload": wname, "client": cname, "runs": rs,
                "records_per_sec": {"median": med("records_per_sec"), "min": min(x["records_per_sec"] for x in rs), "max": max(x["records_per_sec"] for x in rs)},
                "mb_per_sec": med("mb_per_sec"),
                "cpu_us_per_record": med("cpu_us_per_record"),
                "p50_ms": med("p50_ms"), "p99_ms": med("p99_ms"), "peak_rss_mib": med("peak_rss_kib") / 1024,
            })
        subprocess.run([str(KAFKA), "topic", "delete", topic], capture_output=True)

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
