#!/usr/bin/env python3
"""Latency at a fixed rate (issue 24, goal 5): send-to-acknowledgement p50 and p99 of rafka's C
API, librdkafka and Kafka's Java producer sending at steady rates below the broker's maximum, with
linger.ms 0 and 5, 100 B and 1 KiB records, on one broker of its own. Writes
bench/results/latency-rate.json, .md and a latency-versus-rate chart (.png). A benchmark, not a
test: nothing here asserts a speed.

Clients: bench/c/producer_bench.c built against rafka's C API and against librdkafka, and
bench/java/ProducerBench.java on Kafka's KafkaProducer: the same loop, `--throughput R` pacing it
(a sender 1 ms or more ahead of its schedule waits: the C loop in poll(), serving reports; Java in
parkNanos, its callbacks running on the producer's I/O thread). Latency is measured by the
harnesses alike: the clock at send()/produce() to the delivery callback.

Method: the broker pinned to the first CPU, the clients to the second (taskset), its log on tmpfs
(as bench/run). Unmeasured rounds first, until the broker's JIT compiler threads settle. Then the
broker's maximum rate for each record size: the highest records/s any client reached sending
unpaced (linger.ms=5). Each point is a fraction of that maximum (--fractions), every client at
the same rate, the client order rotated point by point; a client that cannot keep the rate shows
it in its achieved rate, and its latency then counts the queue it built. Settings for every
client: acks=all with idempotence, batch.size=16384, a 32 MiB buffer, a 6-partition topic,
keyless records.

Usage: bench/latency_rate.py [--seconds S] [--runs K] [--fractions 0.1,0.25,0.5,0.75]
                             [--sizes 100,1024] [--lingers 0,5] [--report-only]
Needs `cargo build --release -p rafka`, a C compiler, librdkafka-dev (pkg-config rdkafka), a JDK
and matplotlib for the chart; starts and stops its own broker (that of bench/run, port 19740).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from rafkatools.bench import (ROOT, build_producer_bench, git_describe, harness_result, java_version, kafka_classpath, machine_meta,  # noqa: E402
                              parser, run_measured, spread, write_json, write_markdown_keeping_notes)
from suite import ACKS_ALL, COMMON, broker_jit_cpu_s, broker_topic, librdkafka_settings, start_broker, stop_broker  # noqa: E402

OUT = ROOT / "bench" / "results" / "latency-rate"
CLIENTS = ["rafka C API", "librdkafka", "java"]
TOPIC = "latency-rate"
BROKER_CPUS, CLIENT_CPUS = ("0", "1") if (os.cpu_count() or 1) >= 2 else (None, None)


def positive_floats(text: str) -> list:
    try:
        vals = [float(v) for v in text.split(",")]
    except ValueError:
        raise SystemExit(f"expected comma-separated numbers, got {text!r}")
    if not vals or any(v <= 0 for v in vals):
        raise SystemExit(f"expected numbers above 0, got {text!r}")
    return vals


def main():
    ap = parser(__doc__, records=0, runs=1, record_size=None)
    ap.add_argument("--seconds", type=float, default=8.0, help="length of each paced run at its rate")
    ap.add_argument("--fractions", default="0.1,0.25,0.5,0.75", help="rates, as fractions of the broker's maximum")
    ap.add_argument("--sizes", default="100,1024", help="record sizes in bytes")
    ap.add_argument("--lingers", default="0,5", help="linger.ms values")
    ap.add_argument("--max-records", type=int, default=1_000_000, help="records per unpaced run measuring the maximum")
    ap.add_argument("--report-only", action="store_true", help="redo latency-rate.md and .png from the JSON; run nothing")
    a = ap.parse_args()
    if a.report_only:
        return report(json.loads(OUT.with_suffix(".json").read_text()))
    fractions = positive_floats(a.fractions)
    sizes = [int(v) for v in positive_floats(a.sizes)]
    lingers = [int(v) for v in a.lingers.split(",")]
    if a.seconds <= 0 or a.runs < 1 or a.max_records < 1 or any(v < 0 for v in lingers):
        raise SystemExit("--seconds, --runs and --max-records must be above 0, --lingers at least 0")

    target = Path(os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target")))
    cbins = build_producer_bench(target, "latency_bench")
    classpath = kafka_classpath()
    jdir = target / "bench" / "java"
    subprocess.run(["javac", "-nowarn", "-d", str(jdir), "-cp", classpath, str(ROOT / "bench" / "java" / "ProducerBench.java")],
                   check=True)
    load_before = os.getloadavg()
    bootstrap = start_broker(BROKER_CPUS)

    def command(client: str, size: int, n: int, warmup: int, linger: int, rate: float) -> list:
        s = dict(COMMON, **ACKS_ALL)
        s["linger.ms"] = str(linger)
        if client == "librdkafka":
            s = librdkafka_settings(s)
        head = (["java", "-cp", f"{classpath}:{jdir}", "ProducerBench", "--producer-class",
                 "org.apache.kafka.clients.producer.KafkaProducer"] if client == "java"
                else [cbins["rafka" if client == "rafka C API" else "librdkafka"]])
        args = [*head, "--bootstrap", bootstrap, "--topic", TOPIC, "--records", str(n), "--size", str(size),
                "--warmup", str(warmup)]
        for k, v in s.items():
            args += ["--set", f"{k}={v}"]
        return args + (["--throughput", f"{rate:.0f}"] if rate else [])

    def measure(client: str, size: int, n: int, linger: int, rate: float = 0) -> dict:
        warmup = min(20_000, max(n // 10, 100))
        m = run_measured(command(client, size, n, warmup, linger, rate), cpus=CLIENT_CPUS,
                         timeout=120 + (n / rate if rate else 0) * 10)
        r = harness_result(m, client)
        return {"records": r["records"], "records_per_s": r["acked"] / r["seconds"], "p50_ms": r["p50_ms"],
                "p99_ms": r["p99_ms"], "cpu_s": m.cpu_s, "wall_s": m.wall_s}

    maximum, unpaced, points, warm = {}, {}, [], []
    try:
        broker_topic(TOPIC, 6)
        # Unmeasured rounds until the broker's JIT compiler is done (see bench/README.md, Sinks).
        for rnd in range(8):
            jit = broker_jit_cpu_s()
            for client in CLIENTS:
                measure(client, sizes[0], max(a.max_records // 5, 1000), 5)
            warm.append(round(broker_jit_cpu_s() - jit, 2))
            print(f"warm-up round {rnd + 1}: broker JIT {warm[-1]} s", flush=True)
            if warm[-1] < 0.2:
                break
        for size in sizes:
            n = a.max_records if size <= 100 else a.max_records // 4
            unpaced[size] = {}
            for client in CLIENTS:
                unpaced[size][client] = measure(client, size, n if client != "java" else n // 2, 5)
                print("unpaced", size, client, unpaced[size][client], flush=True)
            maximum[size] = max(r["records_per_s"] for r in unpaced[size].values())
        turn = 0
        for run in range(a.runs):
            for size in sizes:
                for linger in lingers:
                    for f in fractions:
                        rate = maximum[size] * f
                        order = CLIENTS[turn % len(CLIENTS):] + CLIENTS[:turn % len(CLIENTS)]
                        turn += 1
                        for client in order:
                            r = measure(client, size, max(int(rate * a.seconds), 1000), linger, rate)
                            r.update(run=run, client=client, size=size, linger_ms=linger, fraction=f, target_rate=rate)
                            points.append(r)
                            print(f"{size} B linger {linger} {f:.0%} {client}: "
                                  f"{r['records_per_s']:.0f}/{rate:.0f} rec/s p50 {r['p50_ms']} p99 {r['p99_ms']} ms", flush=True)
    finally:
        stop_broker()
    meta = machine_meta(commit=git_describe(), seconds=a.seconds, runs=a.runs, fractions=fractions, sizes=sizes, lingers=lingers,
                        max_records=a.max_records, java=java_version(), loadavg_before=load_before, loadavg_after=os.getloadavg(),
                        warmup_rounds_jit_s=warm, partitions=6, settings=dict(COMMON, **ACKS_ALL))
    doc = {"meta": meta, "maximum": {str(k): v for k, v in maximum.items()},
           "unpaced": {str(k): v for k, v in unpaced.items()}, "points": points}
    write_json(OUT.with_suffix(".json"), doc)
    report(doc)


def summarize(points: list) -> dict:
    """{(size, linger, fraction, client): {records_per_s, p50_ms, p99_ms: spread}} over the runs."""
    groups = {}
    for p in points:
        groups.setdefault((p["size"], p["linger_ms"], p["fraction"], p["client"]), []).append(p)
    return {k: {"target_rate": v[0]["target_rate"], **{f: spread(r[f] for r in v) for f in ("records_per_s", "p50_ms", "p99_ms")}}
            for k, v in groups.items()}


def cell(s: dict) -> str:
    return f"{s['median']:.2f}" if s["min"] == s["max"] else f"{s['median']:.2f} ({s['min']:.2f}-{s['max']:.2f})"


def report(doc: dict) -> None:
    """latency-rate.md and .png from the JSON document (--report-only redoes them)."""
    meta, summary = doc["meta"], summarize(doc["points"])
    before, after = meta["loadavg_before"], meta["loadavg_after"]
    cmd = (f"bench/latency_rate.py --seconds {meta['seconds']:g} --runs {meta['runs']} --fractions "
           f"{','.join(f'{f:g}' for f in meta['fractions'])} --sizes {','.join(map(str, meta['sizes']))} "
           f"--lingers {','.join(map(str, meta['lingers']))}")
    lines = ["# Latency at a fixed rate: rafka beside librdkafka and the Java producer", "",
             f"One broker (Kafka, single node, its log on tmpfs, pinned to CPU 0; clients on CPU 1), a 6-partition topic, "
             "keyless records, acks=all with idempotence, batch.size=16384, a 32 MiB buffer. Each client sends at the same "
             f"steady rate for about {meta['seconds']:g} s; latency is send() to the delivery callback, measured by the "
             "harness (bench/c/producer_bench.c, bench/java/ProducerBench.java `--throughput`). "
             f"{meta['runs']} run(s) per point; with more than one, median (min-max). Commit {meta['commit']}, {meta['cpu']}, "
             f"{meta['cores']} cores, {meta['java']}, {meta['date']}. Command: `{cmd}`.", "",
             f"Load average {before[0]:.2f} / {before[1]:.2f} / {before[2]:.2f} before, {after[0]:.2f} / {after[1]:.2f} / "
             f"{after[2]:.2f} after: the figures compare the clients within this run only.", "",
             "## The broker's maximum rate (unpaced, linger.ms=5)", "",
             "| record size | " + " | ".join(CLIENTS) + " | maximum |", "|---|" + "---|" * (len(CLIENTS) + 1)]
    for size, per in doc["unpaced"].items():
        lines.append(f"| {size} B | " + " | ".join(f"{per[c]['records_per_s']:,.0f}" for c in CLIENTS) +
                     f" | {doc['maximum'][size]:,.0f} |")
    lines.append("")
    for size in meta["sizes"]:
        for linger in meta["lingers"]:
            lines += [f"## {size} B records, linger.ms={linger}", "",
                      "| rate (share of max) | " + " | ".join(f"{c}: achieved rec/s, p50 ms, p99 ms" for c in CLIENTS) + " |",
                      "|---|" + "---|" * len(CLIENTS)]
            for f in meta["fractions"]:
                row = [summary.get((size, linger, f, c)) for c in CLIENTS]
                target = next(s for s in row if s)["target_rate"]
                lines.append(f"| {target:,.0f} ({f:.0%}) | " + " | ".join(
                    "-" if s is None else f"{s['records_per_s']['median']:,.0f}, {cell(s['p50_ms'])}, {cell(s['p99_ms'])}"
                    for s in row) + " |")
            lines.append("")
    lines += ["## The goal (issue 24, goal 5): at 50% of the broker's maximum, rafka's p50 and p99 no worse than "
              "librdkafka's and the Java producer's with the same linger.ms", ""]
    half = min(meta["fractions"], key=lambda f: abs(f - 0.5))
    for size in meta["sizes"]:
        for linger in meta["lingers"]:
            r = summary.get((size, linger, half, "rafka C API"))
            if not r:
                continue
            for other in CLIENTS[1:]:
                o = summary.get((size, linger, half, other))
                if not o:
                    continue
                worse = [q for q in ("p50_ms", "p99_ms") if r[q]["median"] > o[q]["median"]]
                lines.append(f"- {size} B, linger.ms={linger}, {half:.0%}: rafka p50 {r['p50_ms']['median']:.2f} / p99 "
                             f"{r['p99_ms']['median']:.2f} ms, {other} {o['p50_ms']['median']:.2f} / {o['p99_ms']['median']:.2f} ms: "
                             + ("**holds**" if not worse else f"**does not hold** ({', '.join(q[:3] for q in worse)} higher)"))
    lines += ["", "Chart: [latency-rate.png](latency-rate.png) (p50 solid, p99 dashed, log scale)."]
    write_markdown_keeping_notes(OUT.with_suffix(".md"), lines)
    chart(meta, summary)


def chart(meta: dict, summary: dict) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no chart", file=sys.stderr)
        return
    sizes, lingers = meta["sizes"], meta["lingers"]
    fig, axes = plt.subplots(len(sizes), len(lingers), figsize=(5.5 * len(lingers), 4 * len(sizes)), squeeze=False)
    colors = {"rafka C API": "tab:red", "librdkafka": "tab:blue", "java": "tab:green"}
    for i, size in enumerate(sizes):
        for j, linger in enumerate(lingers):
            ax = axes[i][j]
            for c in CLIENTS:
                pts = sorted((s["target_rate"], s) for (sz, lg, _, cl), s in summary.items() if (sz, lg, cl) == (size, linger, c))
                if not pts:
                    continue
                xs = [s["records_per_s"]["median"] for _, s in pts]
                ax.plot(xs, [s["p50_ms"]["median"] for _, s in pts], "o-", color=colors[c], label=f"{c} p50")
                ax.plot(xs, [s["p99_ms"]["median"] for _, s in pts], "s--", color=colors[c], label=f"{c} p99")
            ax.set_yscale("log")
            ax.set_title(f"{size} B records, linger.ms={linger}")
            ax.set_xlabel("achieved records/s")
            ax.set_ylabel("send to ack (ms)")
            ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(OUT.with_suffix(".png"), dpi=90)
    print(f"wrote {OUT.with_suffix('.png')}")


if __name__ == "__main__":
    main()
