#!/usr/bin/env python3
"""JMH: the time of one send() on the application thread, KafkaProducer beside RafkaProducer.

Builds the rafka jar (bindings/java, `mvn package`) and the JMH project (bench/java/jmh), starts
`rafka-nullsink` (pinned to the first CPU when there are two or more), and runs
io.rafka.bench.SendBench for both clients, String and byte[] serializers, with a callback and with
a Future, in one JMH run (each combination in its own forked JVM, the clients side by side). Writes
bench/results/java-jmh.json (JMH's own results plus the machine) and java-jmh.md. A benchmark, not
a test: nothing asserts a speed.

Usage: bench/java/jmh.py [--forks F] [--warmup-iterations W] [--iterations I] [--seconds S] [--out NAME]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rafkatools.bench import ROOT, git_describe, java_version, machine_meta, sh, write_json, write_markdown  # noqa: E402
from suite import start_nullsink, stop_nullsink  # noqa: E402

JMH = ROOT / "bench" / "java" / "jmh"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--forks", type=int, default=1)
    ap.add_argument("--warmup-iterations", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=2, help="length of each iteration")
    ap.add_argument("--out", default="java-jmh", help="bench/results/OUT.json and OUT.md")
    ap.add_argument("--jar", help="a rafka jar to measure instead of building bindings/java (an earlier build, for a before/after)")
    a = ap.parse_args()

    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release"
    sh("cargo", "build", "--release", "--quiet", "-p", "rafka-nullsink", cwd=ROOT)
    if a.jar:
        jar = Path(a.jar).resolve()
    else:
        sh("mvn", "-q", "-B", "--no-transfer-progress", "-DskipTests", "package", cwd=ROOT / "bindings" / "java")
        jar = next((ROOT / "bindings" / "java" / "target").glob("rafka-[0-9]*.jar"))
    sh("mvn", "-q", "-B", "--no-transfer-progress", "compile", "dependency:build-classpath",
       "-Dmdep.outputFile=target/classpath.txt", cwd=JMH)
    classpath = f"{JMH / 'target' / 'classes'}:{(JMH / 'target' / 'classpath.txt').read_text().strip()}:{jar}"

    cpus = os.cpu_count() or 1
    sink_cpus = "0" if cpus >= 2 else None
    sink, bootstrap = start_nullsink(types.SimpleNamespace(nullsink=target / "rafka-nullsink"), sink_cpus)
    load_at_start = round(os.getloadavg()[0], 2)
    with tempfile.NamedTemporaryFile(suffix=".json") as raw:
        cmd = ["java", "-cp", classpath, "org.openjdk.jmh.Main", "io.rafka.bench.SendBench",
               "-f", str(a.forks), "-wi", str(a.warmup_iterations), "-i", str(a.iterations),
               "-w", f"{a.seconds}s", "-r", f"{a.seconds}s", "-prof", "gc",
               "-jvmArgsAppend", f"-Dbootstrap={bootstrap} -Xms1g -Xmx1g",
               "-rf", "json", "-rff", raw.name]
        try:
            subprocess.run(cmd, check=True)
        finally:
            sink_stats = stop_nullsink(sink)
        jmh = json.loads(Path(raw.name).read_text())
    command = "python3 bench/java/jmh.py" + "".join(
        f" --{k.replace('_', '-')} {v}" for k, v in vars(a).items() if v != ap.get_default(k))
    result = {
        "what": "JMH SendBench: ns per send() on the application thread against rafka-nullsink (records built per call, "
                "key from 1,000, 100 B value, acks=all, linger.ms=5, 6 partitions)",
        "command": command,
        "machine": machine_meta(load_average_1min_at_start=load_at_start, java=java_version(), git=git_describe(),
                                sink_cpus=sink_cpus),
        "nullsink": sink_stats,
        "rows": rows(jmh),
        "jmh": jmh,
    }
    out = ROOT / "bench" / "results" / f"{a.out}.json"
    write_json(out, result)
    write_table(result, out.with_suffix(".md"))
    print(f"-> {out}")


def rows(jmh):
    """One row per benchmark and parameters: score (ns/op), its error, allocation per op."""
    out = []
    for b in jmh:
        sec = b.get("secondaryMetrics", {})
        alloc = sec.get("gc.alloc.rate.norm", {}).get("score")
        out.append({"benchmark": b["benchmark"].rsplit(".", 1)[1], "client": b["params"]["client"], "serde": b["params"]["serde"],
                    "ns_per_op": round(b["primaryMetric"]["score"], 1), "error_ns": number(b["primaryMetric"]["scoreError"]),
                    "alloc_bytes_per_op": None if alloc is None else round(alloc, 1),
                    "app_cpu_ns_per_op": app_cpu(sec)})
    return out


def app_cpu(sec):
    """CPU ns of the sending thread per send() (SendBench.AppThread: cpuNs / sends), or None."""
    cpu, sends = sec.get("cpuNs", {}).get("score"), sec.get("sends", {}).get("score")
    try:
        return round(float(cpu) / float(sends), 1) if sends else None
    except (TypeError, ValueError):
        return None


def number(x):
    """JMH writes "NaN" (a string) for an error it cannot compute (one iteration)."""
    try:
        return round(float(x), 1)
    except (TypeError, ValueError):
        return None


def write_table(result, path):
    by = {(r["benchmark"], r["serde"], r["client"]): r for r in result["rows"]}
    m = result["machine"]
    lines = [
        "# Java: send() on the application thread (JMH)\n",
        f"{result['what']}. {m['cores']} CPUs shared with other work (1-minute load average "
        f"{m['load_average_1min_at_start']} at the start), the null sink pinned to CPU {m['sink_cpus']}; {m['java']}; "
        f"git {m['git']}. Compare within one run: the machine is noisy. Reproduce: `{result['command']}`.\n",
        "Time: JMH's average time per send() (± its 99.9% error). CPU: the sending thread's own CPU time per send() "
        "(what the application thread pays, little moved by other processes). B: heap allocated per send() by all "
        "threads (JMH's gc profiler).\n",
        "| benchmark | serializers | KafkaProducer time | RafkaProducer time | rafka / kafka | KafkaProducer CPU | RafkaProducer CPU | rafka / kafka | KafkaProducer B | RafkaProducer B |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for bench in ("sendWithCallback", "sendWithFuture"):
        for serde in ("string", "bytes"):
            k, r = by.get((bench, serde, "kafka")), by.get((bench, serde, "rafka"))
            if not k or not r:
                continue
            lines.append(f"| {bench} | {serde} | {score(k)} ns | {score(r)} ns "
                         f"| {r['ns_per_op'] / k['ns_per_op']:.2f}x | {cpu(k)} | {cpu(r)} | {cpu_ratio(r, k)} "
                         f"| {k['alloc_bytes_per_op']:.0f} | {r['alloc_bytes_per_op']:.0f} |")
    write_markdown(path, lines)


def cpu(row):
    v = row.get("app_cpu_ns_per_op")
    return "?" if v is None else f"{v:,.0f} ns"


def cpu_ratio(r, k):
    a, b = r.get("app_cpu_ns_per_op"), k.get("app_cpu_ns_per_op")
    return "?" if not a or not b else f"{a / b:.2f}x"


def score(row):
    err = row["error_ns"]
    return f"{row['ns_per_op']:,.0f}" + ("" if err is None or err != err else f" ± {err:,.0f}")


if __name__ == "__main__":
    main()
