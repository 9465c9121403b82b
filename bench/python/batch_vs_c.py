#!/usr/bin/env python3
"""Python's produce_batch() against rafka's C API on the null sink (issue 21: produce_batch() at
least 80% of the C API's records/s). Writes bench/results/python-batch-vs-c.json and .md. A
benchmark, not a test: nothing here asserts a speed.

Workload, the same for each client: --records 100 B keyless records to a 6-partition topic,
acks=all, linger.ms=5, batch.size=131072 (bench/python/compare.py's settings), one delivery
callback per record counting the acknowledged ones, every other setting at its default:
  rafka C API         bench/c/producer_bench.c (rafka_produce per record, its poll loop serving reports)
  rafka produce_batch compare.py's rafka-batch worker (lists of 1,000 values made before timing)
  rafka produce       compare.py's rafka worker (produce() per record, poll(0) every 1,000)
Each run has a null sink of its own (rafka-nullsink on CPU 0, the client on CPU 1); the clients
take turns, the order rotated run by run; median (min-max). Before timing, the C harness sends
1,000 records and the Python workers one (connections and metadata ready).

Records/s: acknowledged records over the time from the first send until the last report (the
harness's own clock; the Python workers' time until flush() returned). CPU per record: the client
process's user+system time (every thread) over the records: the C harness's whole run (its
start-up and warm-up, about 10 ms, included), the Python workers' from the first timed produce
until flush() returned (time.process_time(); the interpreter's start-up and the lists made
before timing are not counted).

Usage: bench/python/batch_vs_c.py [--records N] [--runs K]
Needs `cargo build --release -p rafka -p rafka-nullsink`, a C compiler, librdkafka-dev (the C
harness is built for both libraries) and rafka installed for this Python.
"""
import os
import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rafkatools.bench import (ROOT, build_producer_bench, git_describe, harness_result, machine_meta, parser,  # noqa: E402
                              run_measured, spread, write_json, write_markdown_keeping_notes)
from suite import start_nullsink, stop_nullsink  # noqa: E402

OUT = ROOT / "bench" / "results" / "python-batch-vs-c"
COMPARE = ROOT / "bench" / "python" / "compare.py"
SETTINGS = {"acks": "all", "linger.ms": "5", "batch.size": "131072"}
CLIENTS = ["rafka C API", "rafka produce_batch", "rafka produce"]
SINK_CPUS, CLIENT_CPUS = ("0", "1") if (os.cpu_count() or 1) >= 2 else (None, None)
GOAL = 0.8


def main():
    ap = parser(__doc__, records=1_000_000, runs=3, record_size=None)
    a = ap.parse_args()
    if a.records < 1 or a.runs < 1:
        raise SystemExit("--records and --runs must be at least 1")
    target = Path(os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target")))
    nullsink = target / "release" / "rafka-nullsink"
    if not nullsink.exists():
        sys.exit(f"{nullsink} not found: run `cargo build --release -p rafka-nullsink` first")
    harness = build_producer_bench(target, "batch_vs_c")["rafka"]
    load_before = os.getloadavg()

    def run(client: str) -> dict:
        sink, bootstrap = start_nullsink(SimpleNamespace(nullsink=nullsink), SINK_CPUS)
        try:
            return run_into(client, bootstrap)
        finally:
            stop_nullsink(sink)

    def run_into(client: str, bootstrap: str) -> dict:
        if client == "rafka C API":
            cmd = [harness, "--bootstrap", bootstrap, "--topic", "batch-vs-c", "--records", str(a.records), "--size", "100",
                   "--warmup", "1000"]
            for k, v in SETTINGS.items():
                cmd += ["--set", f"{k}={v}"]
            m = run_measured(cmd, cpus=CLIENT_CPUS, timeout=600)
            r = harness_result(m, client)
            return {"records": r["records"], "records_per_s": r["acked"] / r["seconds"], "cpu_s": m.cpu_s}
        worker = "rafka-batch" if client == "rafka produce_batch" else "rafka"
        cmd = [sys.executable, str(COMPARE), "--worker", worker, "--bootstrap", bootstrap, "--topic", "batch-vs-c",
               "--records", str(a.records)]
        r = harness_result(run_measured(cmd, cpus=CLIENT_CPUS, timeout=600), client)
        return {"records": r["records"], "records_per_s": r["acked"] / r["total_s"], "cpu_s": r["cpu_s"]}

    runs = []
    for i in range(a.runs):
        k = i % len(CLIENTS)
        for c in CLIENTS[k:] + CLIENTS[:k]:
            r = run(c)
            r.update(client=c, run=i, cpu_us_per_record=r["cpu_s"] * 1e6 / r["records"])
            runs.append(r)
            print(f"run {i + 1} {c}: {r['records_per_s']:,.0f} records/s, {r['cpu_us_per_record']:.3f} us/record", flush=True)
    meta = machine_meta(commit=git_describe(), clients=CLIENTS, records=a.records, runs=a.runs, settings=SETTINGS,
                        loadavg_before=load_before, loadavg_after=os.getloadavg(),
                        python=sys.version.split()[0])
    doc = {"meta": meta, "runs": runs}
    write_json(OUT.with_suffix(".json"), doc)
    report(doc)


def report(doc: dict) -> None:
    meta = doc["meta"]
    by = {c: [r for r in doc["runs"] if r["client"] == c] for c in meta["clients"]}
    stats = {c: (spread(r["records_per_s"] for r in rs), spread(r["cpu_us_per_record"] for r in rs)) for c, rs in by.items()}
    lines = ["# Python produce_batch() against rafka's C API, on the null sink", "",
             f"{meta['records']:,} keyless 100 B records per run to 6 partitions, acks=all, linger.ms=5, batch.size=131072, "
             "a delivery callback per record; a null sink of its own per run (CPU 0), the client on CPU 1; "
             f"{meta['runs']} runs per client, the order rotated; median (min-max). CPU per record: the C harness's "
             "whole process (start-up and a 1,000-record warm-up included), the Python workers' loop and final flush "
             f"(time.process_time, every thread). Python {meta['python']}. "
             f"Commit {meta['commit']}, {meta.get('cpu', '')}, {meta.get('date', '')}. "
             f"Command: `bench/python/batch_vs_c.py --records {meta['records']} --runs {meta['runs']}`.", "",
             "Load average %s before, %s after: compare the clients within this run only." % (
                 " / ".join(f"{x:.2f}" for x in meta["loadavg_before"]), " / ".join(f"{x:.2f}" for x in meta["loadavg_after"])), "",
             "| client | records/s | CPU us/record | records/s against the C API |", "|---|---|---|---|"]
    base = stats["rafka C API"][0]["median"]
    for c, (rate, cpu) in stats.items():
        lines.append(f"| {c} | {rate['median']:,.0f} ({rate['min']:,.0f}-{rate['max']:,.0f}) | "
                     f"{cpu['median']:.3f} ({cpu['min']:.3f}-{cpu['max']:.3f}) | {rate['median'] / base:.2f}x |")
    ratio = stats["rafka produce_batch"][0]["median"] / base
    lines += ["", f"## The goal (issue 21): produce_batch() at least {GOAL:.0%} of the C API's records/s", "",
              f"- produce_batch(): {ratio:.0%} of the C API's ({'holds' if ratio >= GOAL else 'does not hold'})"]
    write_markdown_keeping_notes(OUT.with_suffix(".md"), lines)


if __name__ == "__main__":
    main()
