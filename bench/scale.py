#!/usr/bin/env python3
"""Scale (issue 24, goal 3): client CPU per record as the topic grows from 10 to 1,000 and 10,000
partitions, rafka's C API beside librdkafka, against the null sink. Writes
bench/results/scale.json and .md. A benchmark, not a test: nothing here asserts a speed.

Workload: keyed 100 B records (--keys distinct keys, so every partition gets some), acks=all with
idempotence, linger.ms=5, batch.size=16384, a 32 MiB buffer (librdkafka:
queue.buffering.max.kbytes), one sending thread; bench/c/producer_bench.c built against both
libraries. The null sink (rafka-nullsink, its topic `NAME-p<N>` has N partitions) acknowledges
every Produce request, so the figures are the clients' own costs; each run has a sink of its own, whose
counts give the records per batch and per request (warm-up included). Sink on CPU 0, client on CPU 1.

Method: per partition count, each client first sends one record (its start-up: connection and the
metadata of N partitions), then --runs timed runs, the client order rotated run by run. CPU per
record is the child's user+system time (wait4) less its start-up's, over the records sent; peak RSS
is the child's, set beside the buffer bound.

With --before LIB (an earlier build's librafka.so) the same harness runs on it too, as a third
client: a before/after of a change in one run.

Usage: bench/scale.py [--records N] [--runs K] [--keys K] [--partitions 10,1000,10000]
                      [--before LIB] [--report-only]
Needs `cargo build --release -p rafka -p rafka-nullsink`, a C compiler and librdkafka-dev.
"""
import atexit
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from rafkatools.bench import (ROOT, build_producer_bench, git_describe, harness_result, machine_meta, parser, run_measured, sh,  # noqa: E402
                              spread, write_json, write_markdown_keeping_notes)
from suite import ACKS_ALL, COMMON, librdkafka_settings, start_nullsink, stop_nullsink  # noqa: E402

OUT = ROOT / "bench" / "results" / "scale"
CLIENTS = ["rafka C API", "librdkafka"]
BEFORE = "rafka C API (before)"  # with --before: the same harness on an earlier librafka.so
SINK_CPUS, CLIENT_CPUS = ("0", "1") if (os.cpu_count() or 1) >= 2 else (None, None)


def use_earlier_library(harness: str, lib: Path, directory: Path) -> None:
    """Links `lib` into `directory` under its soname, and checks that the harness run with
    LD_LIBRARY_PATH=directory loads it (it would not with a DT_RPATH, searched first, or a soname
    the harness does not need): a before/after that measured one library twice would say nothing."""
    soname = re.search(r"\(SONAME\)\s+Library soname: \[([^\]]+)\]", sh("readelf", "-d", str(lib)))
    if not soname:
        sys.exit(f"--before: {lib} has no soname (readelf -d)")
    (directory / soname.group(1)).symlink_to(lib)
    ldd = sh("env", f"LD_LIBRARY_PATH={directory}", "ldd", harness)
    if f"{directory}/{soname.group(1)}" not in ldd:
        sys.exit(f"--before: {harness} does not load {soname.group(1)} from {directory} with LD_LIBRARY_PATH:\n{ldd}")


def main():
    ap = parser(__doc__, records=2_000_000, runs=3, record_size=100)
    ap.add_argument("--keys", type=int, default=100_000)
    ap.add_argument("--partitions", default="10,1000,10000")
    ap.add_argument("--before", help="an earlier build's librafka.so, run as a third client (a before/after)")
    ap.add_argument("--report-only", action="store_true", help="redo scale.md from scale.json; run nothing")
    a = ap.parse_args()
    if a.report_only:
        return report(json.loads(OUT.with_suffix(".json").read_text()))
    try:
        parts = [int(p) for p in a.partitions.split(",")]
    except ValueError:
        raise SystemExit(f"--partitions: expected comma-separated whole numbers, got {a.partitions!r}")
    if a.records < 1 or a.runs < 1 or a.keys < 1 or a.record_size < 1 or not parts or min(parts) < 1:
        raise SystemExit("--records, --runs, --keys, --record-size and every partition count must be at least 1")
    target = Path(os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target")))
    cbins = build_producer_bench(target, "scale_bench")
    clients = list(CLIENTS)
    before_dir = None
    if a.before:
        lib = Path(a.before).resolve()
        if not lib.is_file():
            sys.exit(f"--before: {lib} is not a file (give an earlier build's librafka.so)")
        before_dir = Path(tempfile.mkdtemp(prefix="rafka-scale-before-"))
        atexit.register(shutil.rmtree, before_dir, True)
        use_earlier_library(cbins["rafka"], lib, before_dir)
        clients.insert(1, BEFORE)
    nullsink = target / "release" / "rafka-nullsink"
    if not nullsink.exists():
        sys.exit(f"{nullsink} not found: run `cargo build --release -p rafka-nullsink` first")
    settings = dict(COMMON, **ACKS_ALL)
    load_before = os.getloadavg()

    def run(client: str, n: int, p: int, warmup: int) -> dict:
        """One run into a sink of its own, whose counts give the records per batch and per request."""
        sink, bootstrap = start_nullsink(SimpleNamespace(nullsink=nullsink), SINK_CPUS)
        try:
            r = run_into(client, n, p, warmup, bootstrap)
        finally:
            stats = stop_nullsink(sink)
        if not stats.get("batches"):
            raise RuntimeError(f"the null sink counted no batches from {client}: {stats}")
        r.update(records_per_batch=stats["records"] / stats["batches"], records_per_request=stats["records"] / stats["produce_requests"])
        return r

    def run_into(client: str, n: int, p: int, warmup: int, bootstrap: str) -> dict:
        s = librdkafka_settings(settings) if client == "librdkafka" else settings
        # The harness's runpath finds librafka.so.0 in its build directory; LD_LIBRARY_PATH comes first.
        head = ["env", f"LD_LIBRARY_PATH={before_dir}"] if client == BEFORE else []
        cmd = [*head, cbins["librdkafka" if client == "librdkafka" else "rafka"], "--bootstrap", bootstrap, "--topic",
               f"scale-p{p}", "--records", str(n), "--size", str(a.record_size), "--keys", str(a.keys), "--warmup", str(warmup)]
        for k, v in s.items():
            cmd += ["--set", f"{k}={v}"]
        m = run_measured(cmd, cpus=CLIENT_CPUS, timeout=600)
        r = harness_result(m, client)
        return {"records": r["records"], "records_per_s": r["acked"] / r["seconds"], "cpu_s": m.cpu_s,
                "peak_rss_mib": m.peak_rss_kib / 1024, "p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"]}

    startup, runs = {}, []
    for p in parts:
        startup[p] = {c: run(c, 1, p, 0)["cpu_s"] for c in clients}
        for i in range(a.runs):
            k = (parts.index(p) + i) % len(clients)
            for c in clients[k:] + clients[:k]:
                r = run(c, a.records, p, a.records // 10)
                r.update(client=c, partitions=p, run=i, cpu_us_per_record=(r["cpu_s"] - startup[p][c]) * 1e6 / r["records"])
                runs.append(r)
                print(f"{p} partitions {c}: {r['records_per_s']:,.0f} rec/s, {r['cpu_us_per_record']:.3f} us/record, "
                      f"{r['records_per_batch']:.1f} records/batch, RSS {r['peak_rss_mib']:.0f} MiB", flush=True)
    meta = machine_meta(commit=git_describe(), clients=clients, before=str(Path(a.before).resolve()) if a.before else None, records=a.records, runs=a.runs, keys=a.keys, record_size=a.record_size,
                        partitions=parts, settings=settings, startup_cpu_s={str(p): v for p, v in startup.items()},
                        loadavg_before=load_before, loadavg_after=os.getloadavg())
    doc = {"meta": meta, "runs": runs}
    write_json(OUT.with_suffix(".json"), doc)
    report(doc)


def report(doc: dict) -> None:
    """scale.md from the JSON document (--report-only redoes it)."""
    meta = doc["meta"]
    before, after = meta["loadavg_before"], meta["loadavg_after"]
    buffer_mib = int(meta["settings"]["buffer.memory"]) / 2**20
    by = {}
    for r in doc["runs"]:
        by.setdefault((r["partitions"], r["client"]), []).append(r)
    lines = ["# Scale: CPU per record from 10 to 10,000 partitions", "",
             f"rafka's C API and librdkafka through bench/c/producer_bench.c into the null sink, {meta['records']:,} keyed "
             f"{meta['record_size']} B records per run ({meta['keys']:,} keys), acks=all with idempotence, linger.ms=5, "
             f"batch.size=16384, a {buffer_mib:.0f} MiB buffer, one sending thread; sink on CPU 0, client on CPU 1. "
             f"{meta['runs']} runs per point, the client order rotated; median (min-max). CPU per record is the client's "
             "user+system time less that of a one-record run with the same topic (its start-up), over the records. "
             f"Commit {meta['commit']}, {meta['cpu']}, {meta['cores']} cores, {meta['date']}. Command: "
             f"`bench/scale.py --records {meta['records']} --runs {meta['runs']} --keys {meta['keys']} "
             f"--partitions {','.join(map(str, meta['partitions']))}" + (f" --before {meta['before']}" if meta.get("before") else "") + "`"
             + (f"; \"{BEFORE}\" is the same harness on that earlier build's librafka.so" if meta.get("before") else "") + ".", "",
             f"Load average {before[0]:.2f} / {before[1]:.2f} / {before[2]:.2f} before, {after[0]:.2f} / {after[1]:.2f} / "
             f"{after[2]:.2f} after: compare the clients within this run only.", "",
             "| partitions | client | records/s | CPU us/record | x at the fewest partitions | records per batch | "
             f"records per request | peak RSS MiB (buffer {buffer_mib:.0f}) | p50 / p99 ms |", "|---|---|---|---|---|---|---|---|---|"]
    clients = meta.get("clients", CLIENTS)
    base = {c: spread(r["cpu_us_per_record"] for r in by[(meta["partitions"][0], c)])["median"] for c in clients
            if (meta["partitions"][0], c) in by}
    for p in meta["partitions"]:
        for c in clients:
            rs = by.get((p, c))
            if not rs:
                continue
            rps, cpu, rss = (spread(r[f] for r in rs) for f in ("records_per_s", "cpu_us_per_record", "peak_rss_mib"))
            p50, p99, rpb, rpr = (spread(r[f] for r in rs)["median"] for f in ("p50_ms", "p99_ms", "records_per_batch", "records_per_request"))
            lines.append(f"| {p:,} | {c} | {rps['median']:,.0f} ({rps['min']:,.0f}-{rps['max']:,.0f}) | {cpu['median']:.3f} "
                         f"({cpu['min']:.3f}-{cpu['max']:.3f}) | {cpu['median'] / base[c]:.2f}x | {rpb:.1f} | {rpr:.0f} | {rss['median']:.0f} "
                         f"({rss['min']:.0f}-{rss['max']:.0f}) | {p50:.1f} / {p99:.1f} |")
    lines += ["", "Start-up CPU (one record, the topic's metadata included): " + "; ".join(
        f"{p} partitions " + ", ".join(f"{c} {s:.3f} s" for c, s in v.items()) for p, v in meta["startup_cpu_s"].items()) + ".",
        "", "## The goal (issue 24, goal 3): CPU per record at 1,000 and 10,000 partitions at most 1.3x that at 10", ""]
    for p in meta["partitions"][1:]:
        for c in clients:
            if (p, c) in by and c in base:
                x = spread(r["cpu_us_per_record"] for r in by[(p, c)])["median"] / base[c]
                lines.append(f"- {p:,} partitions, {c}: {x:.2f}x" + (" (holds)" if x <= 1.3 else " (does not hold)"))
    write_markdown_keeping_notes(OUT.with_suffix(".md"), lines)


if __name__ == "__main__":
    main()
