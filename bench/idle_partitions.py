#!/usr/bin/env python3
"""What an idle partition costs (issue 24 goal 3: at most 1 KiB): a producer that knows a topic of N
partitions but sends to few of them, for N = 10 and N = 10,000, against rafka-nullsink (topic
`idle-p<N>` has N partitions); (RSS(10,000) - RSS(10)) / 9,990 is the cost of one idle partition.

- rafka-perf: `rafka perf --throughput 20` (20 records/s; the sticky partitioner touches a partition
  or two per batch, a few dozen in the run), its current RSS (VmRSS) after --seconds;
- rafka-c and librdkafka: bench/c/producer_bench.c sending 1,000 records (the sticky partitioner
  fills a batch on one partition before it moves on, so a handful of partitions see records), its
  RSS (VmRSS) --seconds after its flush, the producer still open (--hold-ms).

Writes bench/results/idle-partitions.json and .md. A benchmark, not a test.
Usage: bench/idle_partitions.py [--seconds 4]   (needs what bench/memory_perf.py needs)
"""
import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from rafkatools.bench import ROOT, git_describe, machine_meta, write_json, write_markdown  # noqa: E402
from memory_perf import ENV_SETTINGS, build_harnesses, status  # noqa: E402

KIB = 1024


def sink(sink_bin):
    s = subprocess.Popen([sink_bin], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return s, s.stdout.readline().strip().split("=", 1)[1]


def stop(s):
    s.stdin.close()
    s.kill()
    s.wait()


def perf_rss(rafka, sink_bin, n, seconds):
    s, boot = sink(sink_bin)
    try:
        p = subprocess.Popen([rafka, "perf", "--topic", f"idle-p{n}", "--num-records", "100000000", "--record-size", "100",
                              "--throughput", "20", "--producer-props", f"bootstrap.servers={boot}", *ENV_SETTINGS],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(seconds)
        if p.poll() is not None:
            raise RuntimeError(p.stderr.read().decode()[-2000:])
        rss = status(p.pid)["VmRSS"]
        p.kill()
        p.wait()
        return rss
    finally:
        stop(s)


def harness_rss(binary, sink_bin, n, extra, hold_s):
    s, boot = sink(sink_bin)
    try:
        cmd = [binary, "--bootstrap", boot, "--topic", f"idle-p{n}", "--records", "1000", "--size", "100", "--warmup", "0",
               "--hold-ms", str(int(hold_s * 1000) + 5000)]
        for kv in ENV_SETTINGS + extra:
            cmd += ["--set", kv]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = p.stdout.readline().decode()  # printed after flush; the producer then holds for --hold-ms
        if '"acked": 1000' not in line:
            p.kill()
            raise RuntimeError(f"{cmd}: {line} {p.stderr.read().decode()[-2000:]}")
        time.sleep(hold_s)  # metadata refreshes and idle timers settle
        rss = status(p.pid)["VmRSS"]
        p.kill()
        p.wait()
        return rss
    finally:
        stop(s)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "idle-partitions"))
    a = ap.parse_args()
    target = Path(os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target")))
    bins = build_harnesses(target)
    rafka, sink_bin = str(target / "release" / "rafka"), str(target / "release" / "rafka-nullsink")
    counts = (10, 10_000)
    results = []
    for client in ("rafka-perf", "rafka-c", "librdkafka"):
        rss = {}
        for n in counts:
            if client == "rafka-perf":
                rss[n] = perf_rss(rafka, sink_bin, n, a.seconds)
            else:
                rss[n] = harness_rss(bins[client], sink_bin, n, ["queue.buffering.max.messages=10000000"] if client == "librdkafka" else [], a.seconds)
        per = (rss[counts[1]] - rss[counts[0]]) / (counts[1] - counts[0])
        results.append({"client": client, "rss": {str(k): v for k, v in rss.items()}, "bytes_per_idle_partition": per})
        print(f"{client:11} RSS {rss[10] / KIB / KIB:.1f} MiB at 10 partitions, {rss[10_000] / KIB / KIB:.1f} MiB at 10,000: "
              f"{per:,.0f} bytes per idle partition", flush=True)
    rev = git_describe()
    meta = machine_meta(commit=rev, command="bench/idle_partitions.py " + " ".join(sys.argv[1:]))
    write_json(a.out + ".json", {"meta": meta, "results": results})
    lines = [f"`{meta['command'].strip()}` at {rev}: what a producer's RSS grows by when its topic has 10,000 "
             "partitions instead of 10 and it sends to few of them (rafka-perf: current RSS at 20 records/s; "
             "rafka-c and librdkafka: RSS after sending 1,000 records and flushing, the producer open). "
             "Goal (issue 24): at most 1 KiB per idle partition.", "",
             "| client | RSS, 10 partitions (MiB) | RSS, 10,000 partitions (MiB) | bytes per idle partition |",
             "|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['client']} | {r['rss']['10'] / KIB / KIB:.1f} | {r['rss']['10000'] / KIB / KIB:.1f} | "
                     f"{r['bytes_per_idle_partition']:,.0f} |")
    write_markdown(a.out + ".md", lines, echo=True)


if __name__ == "__main__":
    main()
