#!/usr/bin/env python3
"""The on-disk spool's cost (issue 23): `rafka perf` sending plainly, then with `spool.dir` in its three
shapes: `spool.when=full` (nothing spills while the buffer has room: the cost of having a spool at all),
and the write-ahead spool, `spool.when=always`, with `spool.fsync=interval` (100 ms) and with
`spool.fsync=never`. One broker, a 6-partition topic, acks=all with idempotence, linger.ms=5; runs
alternate variant by variant, each in a new spool directory. Records records/s, client CPU microseconds
per record (user+system of the child) and the bytes the child wrote to files per record (the kernel's
count of blocks dirtied, ru_oublock; minus the plain run's, which writes no files).
Writes bench/results/spool.json and .md. A benchmark, not a test.

--before PATH adds plain sending and the write-ahead spool (fsync 100 ms) of another `rafka` binary (an
earlier build, copied aside) to the same alternation, so that a change is measured against what it
changes on the same broker in the same run; --before-label names that build in the tables.

Usage: bench/spool_perf.py [--records N] [--runs K] [--record-size B] [--port P] [--before PATH [--before-label L]]
Needs a release build of rafka (cargo build --release -p rafka-cli); starts and stops its own broker.
"""
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from rafkatools.bench import ROOT, git_describe, machine_meta, parse_summary, parser, run_child, write_json, write_markdown  # noqa: E402
from rafkatools.cluster import KafkaError, LocalKafka  # noqa: E402

WRITE_AHEAD = ["spool.when=always", "spool.fsync=interval", "spool.fsync.interval.ms=100"]
# name -> (properties, whether the --before binary runs it)
VARIANTS = {
    "plain": ([], False),
    "spool.when=full": (["spool.when=full", "spool.fsync=interval", "spool.fsync.interval.ms=100"], False),
    "write-ahead, fsync 100 ms": (WRITE_AHEAD, False),
    "write-ahead, no fsync": (["spool.when=always", "spool.fsync=never"], False),
}
GOAL = 0.25  # the write-ahead spool costs at most this share of plain throughput


def main():
    ap = parser(__doc__, records=1_000_000)
    ap.add_argument("--port", type=int, default=19702)
    ap.add_argument("--before", help="another rafka binary whose plain and write-ahead runs go beside these")
    ap.add_argument("--before-label", default="before", help="what to call the --before build in the tables")
    a = ap.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    rafka = Path(target) / "release" / "rafka"
    variants = {k: (props, rafka) for k, (props, _) in VARIANTS.items()}
    if a.before:
        variants = {f"plain ({a.before_label})": ([], Path(a.before)), **variants,
                    f"write-ahead, fsync 100 ms ({a.before_label})": (WRITE_AHEAD, Path(a.before))}
    kafka = LocalKafka("/tmp/rafka-spool-bench")
    up = kafka.up(port=a.port)
    spool_root = Path(tempfile.mkdtemp(prefix="rafka-spool-bench-"))
    topic = "spool-bench"

    def perf(n, extra, binary, run_id):
        props = [f"bootstrap.servers={up.bootstrap}", "acks=all", "linger.ms=5"]
        if extra:
            props += [f"spool.dir={spool_root / run_id}", *extra]
        return run_child([str(binary), "perf", "--topic", topic, "--num-records", str(n), "--record-size", str(a.record_size),
                          "--throughput", "-1", "--producer-props", *props])

    try:
        kafka.create_topic(topic, 6)
        for i, (extra, binary) in enumerate(variants.values()):  # warm-up, not counted
            perf(min(a.records, 200_000), extra, binary, f"warm-{i}")
        results = {k: [] for k in variants}
        for run in range(a.runs):
            for i, (name, (extra, binary)) in enumerate(variants.items()):
                m = perf(a.records, extra, binary, f"run-{run}-{i}")
                s = parse_summary(m.out)
                results[name].append({"records_per_s": s["records_per_sec"], "cpu_us_per_record": m.cpu_s * 1e6 / a.records,
                                      "written_bytes_per_record": m.written_bytes / a.records, "wall_s": m.wall_s})
                print(name, results[name][-1], flush=True)
    finally:
        shutil.rmtree(spool_root, ignore_errors=True)
        try:
            kafka.down()
        except KafkaError as e:
            print(f"stopping the benchmark broker failed: {e}", file=sys.stderr)
    summary = {k: {f: statistics.median(r[f] for r in v) for f in v[0]} for k, v in results.items()}
    meta = machine_meta(records=a.records, record_size=a.record_size, runs=a.runs, commit=git_describe())
    if a.before:
        meta["before"] = {"binary": a.before, "label": a.before_label}
    doc = {"meta": meta, "median": summary, "all": results}
    outdir = ROOT / "bench" / "results"
    write_json(outdir / "spool.json", doc)
    plain = summary["plain"]
    command = f"bench/spool_perf.py --records {a.records} --runs {a.runs}" + (f" --before <{a.before_label} build> --before-label {a.before_label!r}" if a.before else "")
    lines = [f"# The spool's cost: rafka perf, {a.records} x {a.record_size} B records, median of {a.runs} alternated runs", "",
             f"One broker on this machine, 6 partitions, acks=all, idempotence, linger.ms=5. Command: `{command}`. "
             f"{meta.get('cpu', '')}, {os.cpu_count()} CPUs, commit {meta.get('commit', '')}, {meta.get('date', '')}.", "",
             "| variant | records/s (min-max) | of plain | client CPU us/record | bytes written per record |", "|---|---|---|---|---|"]
    base_written = plain["written_bytes_per_record"]
    for k, s in summary.items():
        rates = [r["records_per_s"] for r in results[k]]
        written = s["written_bytes_per_record"] - base_written
        lines.append(f"| {k} | {s['records_per_s']:.0f} ({min(rates):.0f}-{max(rates):.0f}) | {s['records_per_s'] / plain['records_per_s']:.2f}x | "
                     f"{s['cpu_us_per_record']:.3f} | {written:.0f} |")
    if a.before:
        lines += ["", f"Rows marked ({a.before_label}): the same runs with the `rafka` binary of that build, alternated with the others "
                      "(\"of plain\" is against this build's plain run)."]
    wa = summary["write-ahead, fsync 100 ms"]
    cost = 1 - wa["records_per_s"] / plain["records_per_s"]
    verdict = "holds" if cost <= GOAL else "does not hold"
    lines += ["", f"Goal (issue 23): the write-ahead spool (`spool.when=always`, `spool.fsync=interval` 100 ms) costs at most "
                  f"{GOAL:.0%} of plain throughput on 100 B records. Measured: {cost:.0%} ({verdict}).", "",
              "Bytes written per record: the kernel's count of file blocks the client process dirtied (ru_oublock x 512), "
              "per record, less the plain run's; segments are deleted once their records are acknowledged, so this is "
              "what passes through the disk, not what stays on it. The broker shares the machine's 2 cores with the client."]
    write_markdown(outdir / "spool.md", lines, echo=True)


if __name__ == "__main__":
    main()
