"""Writes REPORT.md and PNG charts from the suite's results (bench/suite.py), or, run alone,
from a saved results.json: `python3 bench/report.py bench/results`."""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from rafkatools.figures import headline_rows  # noqa: E402  (README.md's headline is the same table)

METRICS = [  # key, column title, chart title, format
    ("records_per_sec", "records/s", "records/s (median, min-max)", "{:,.0f}"),
    ("mib_per_sec", "MiB/s", "MiB/s", "{:.1f}"),
    ("cpu_us_per_record", "client CPU us/record", "client CPU microseconds per record", "{:.2f}"),
    ("p50_ms", "p50 ms", "p50 send-to-ack latency, ms", "{:.1f}"),
    ("p99_ms", "p99 ms", "p99 send-to-ack latency, ms", "{:.1f}"),
    ("peak_rss_mib", "peak RSS MiB", "peak RSS, MiB", "{:.0f}"),
]
SINK_TITLES = {"null": "Null sink (rafka-nullsink: every client's own ceiling)",
               "broker": "Kafka broker (one node, log on tmpfs, same machine)"}


def fmt(entry, key, f):
    s = entry.get(key)
    if not s:
        return "-"
    if key == "records_per_sec" and s["min"] != s["max"]:
        return f"{f.format(s['median'])} ({f.format(s['min'])}-{f.format(s['max'])})"
    return f.format(s["median"])


def chart(path, title, rows):
    """rows: measured entries of one sink and group. Grouped bars: workloads on x, one bar per client."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = list(dict.fromkeys(r["workload"] for r in rows))
    client_names = list(dict.fromkeys(r["client"] for r in rows))
    fig, axes = plt.subplots(2, 3, figsize=(15, 7.5))
    width = 0.8 / max(1, len(client_names))
    for ax, (key, _, ctitle, _) in zip(axes.flat, METRICS):
        for i, c in enumerate(client_names):
            xs, ys, lo, hi = [], [], [], []
            for j, w in enumerate(workloads):
                e = next((r for r in rows if r["workload"] == w and r["client"] == c), None)
                if e and e.get(key):
                    xs.append(j + (i - (len(client_names) - 1) / 2) * width)
                    ys.append(e[key]["median"])
                    lo.append(e[key]["median"] - e[key]["min"])
                    hi.append(e[key]["max"] - e[key]["median"])
            ax.bar(xs, ys, width, yerr=[lo, hi], label=c, capsize=2)
        ax.set_title(ctitle, fontsize=9)
        ax.set_xticks(range(len(workloads)))
        ax.set_xticklabels(workloads, fontsize=7, rotation=30, ha="right")
        ax.tick_params(axis="y", labelsize=7)
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def headline(measured, group="base", workload="100 B"):
    """The base workload, one row per client, both sinks side by side."""
    if not any(r["group"] == group and r["workload"] == workload for r in measured):
        return []
    return [f"## Headline: {workload} records, 6 partitions, acks=all with idempotence", "",
            *headline_rows(measured, group, workload), ""]


def run_counts(results, sink):
    """How many runs stand behind the figures of one sink: "3", or "2-3" when rows differ."""
    counts = sorted({len(r["runs"]) for r in results if r["sink"] == sink and r.get("records_per_sec")})
    if not counts:
        return None
    return str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"


def method(meta, results):
    """The method of the run, stated once: what a figure is and how it was measured. (A results.json
    merged from several invocations keeps their commands in meta, not here; every row's own runs are
    in results.json.)"""
    runs = ", ".join(f"{n} against the {'null sink' if sink == 'null' else 'broker'}"
                     for sink in ("null", "broker") if (n := run_counts(results, sink)))
    return (f"Method: {meta['records']:,} records of 100 B per run (1 KiB: a quarter; confluent-kafka and rafka's Python "
            f"binding half, kafka-python a twentieth), {meta['warmup']:,} warm-up records first; each figure is the "
            f"median of its runs with min-max ({runs}; each row's runs are in results.json), clients alternated run by run; the broker is first warmed "
            "up by unmeasured rounds of runs until its JIT compiler threads use under 0.2 s of CPU in a round. Every "
            "client gets the same settings: linger.ms=5, batch.size=16384, a 32 MiB buffer (librdkafka: "
            "queue.buffering.max.kbytes), acks=all with idempotence unless the workload says otherwise. records/s "
            "counts acknowledged records only, from the first send to the end of flush. Client CPU per record: the "
            "process's user+system time less that of a one-record run of the same client (start-up, connection, "
            "JVM), over the records sent. Latency: send() to delivery report (the perf tools report whole "
            "milliseconds). Raw figures: [results.json](results.json); how to run: [../README.md](../README.md).")


def write_report(out, meta, results):
    out = Path(out)
    # Rows merged from several invocations (--merge): their commands are in results.json, not here.
    # (Older files chained them into meta["command"] with ", then ".)
    invocations = 1 + len(meta.get("earlier_commands", [])) + meta["command"].count(", then ")
    made = (f"`{meta['command']}` on {meta['date']}" if invocations == 1 else
            f"`bench/run`, rows merged from {invocations} invocations with `--merge` (their commands are in "
            f"results.json), the last on {meta['date']}")
    lines = ["# rafka benchmark report", "",
             f"Made by {made}. Machine: {meta['cpu']}, {meta['cpus']} CPUs, "
             f"Linux {meta['kernel']} (load average {meta['load_before']:.1f} when the run began). "
             f"Sink or broker pinned to CPUs {meta['sink_cpus']}, clients to CPUs {meta['client_cpus']}.", "",
             "Versions: " + "; ".join(f"{k} {meta[k]}" for k in ("rafka", "librdkafka (C harness)", "confluent-kafka",
                                                                  "kafka-python", "python", "java",
                                                                  "kafka (broker, Java producer)")) + ".", "",
             method(meta, results), ""]
    if meta.get("nullsink"):
        ns = meta["nullsink"]
        lines += [f"The null sink acknowledged {ns.get('records', 0):,} records in {ns.get('produce_requests', 0):,} "
                  f"Produce requests over {ns.get('connections', 0)} connections.", ""]
    measured = [r for r in results if r.get("records_per_sec")]
    # A client with no figures at all, for one reason (not built, not installed), is named once.
    absent = {}
    for c in dict.fromkeys(r["client"] for r in results):
        notes = {r.get("note") for r in results if r["client"] == c}
        if len(notes) == 1 and None not in notes:
            absent[c] = notes.pop()
    if absent:
        lines += ["Not in this run: " + "; ".join(f"{c} ({n})" for c, n in absent.items()) + ".", ""]
    lines += headline(measured)
    for sink in dict.fromkeys(r["sink"] for r in results):
        lines += [f"## {SINK_TITLES.get(sink, sink)}", ""]
        for group in dict.fromkeys(r["group"] for r in results if r["sink"] == sink):
            rows = [r for r in results if r["sink"] == sink and r["group"] == group]
            lines += [f"### {group}", "", "| workload | client | " + " | ".join(m[1] for m in METRICS) + " |",
                      "|---|---|" + "---|" * len(METRICS)]
            for r in rows:
                if r.get("records_per_sec"):
                    lines.append(f"| {r['workload']} | {r['client']} | " + " | ".join(fmt(r, k, f) for k, _, _, f in METRICS) + " |")
            missing = [r for r in rows if not r.get("records_per_sec")]
            notes = {}
            for r in missing:
                if r["client"] not in absent:
                    notes.setdefault(f"{r['client']}: {r.get('note', 'no run')}", []).append(r["workload"])
            if notes:
                lines += [""] + [f"- {n} ({'; '.join(ws)})" for n, ws in notes.items()]
            measured_rows = [r for r in rows if r in measured]
            if measured_rows:
                png = f"{sink}-{group}.png"
                try:
                    chart(out / png, f"{SINK_TITLES.get(sink, sink)}: {group}", measured_rows)
                    lines += ["", f"![{sink} {group}]({png})"]
                except ImportError:
                    lines += ["", "(matplotlib not installed: no chart)"]
            lines.append("")
    for extra, title in (("microbench.md", "Microbenchmarks (criterion)"), ("callgrind.md", "Instructions per record (callgrind)")):
        if (out / extra).exists():
            lines += [f"## {title}", "", (out / extra).read_text().strip(), ""]
    (out / "REPORT.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    d = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "results")
    doc = json.loads((d / "results.json").read_text())
    write_report(d, doc["meta"], doc["results"])
