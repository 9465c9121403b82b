#!/usr/bin/env python3
"""Transactions: committed records/s and client CPU per record for rafka beside Kafka's Java
producer and librdkafka, on one broker of its own, runs alternating (the client order rotates from
run to run). Writes bench/results/txn-perf.json and .md. A benchmark, not a test.

Clients: `rafka perf` and Kafka's ProducerPerformance (--transactional-id
--transaction-duration-ms), and bench/c/producer_bench.c built twice, against librdkafka and
against rafka's C API (--transaction-duration-ms / --transaction-records: init_transactions, then
begin, produce, commit). 100-byte records, a 6-partition topic, acks=all with idempotence (what
transactions imply). Workloads: transactions of 100 ms and of 1000 ms, and of 1,000 records (the
two C clients only: neither perf tool can end a transaction by count).

Before the timed runs each client sends --verify-records records in 100 ms transactions to a topic
of its own, and Kafka's consumer reads that topic read_committed: it must see exactly that many
(a client that silently failed to commit is caught). The same client with one record gives its
start-up CPU (the JVM's, mostly), reported beside the per-record figure.

Usage: bench/txn_perf.py [--records N] [--runs K] [--record-size B] [--port P] [--verify-records V]
                         [--count-records C] [--report-only]
Needs `cargo build --release -p rafka-cli -p rafka`, a C compiler, librdkafka-dev (pkg-config
rdkafka) and a JDK; starts and stops its own broker (state /tmp/rafka-kafka-txnbench).
"""
import json
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from rafkatools.bench import (ROOT, build_producer_bench, git_describe, kafka_classpath, machine_meta, parse_summary, parser, rafka_binary,  # noqa: E402
                              run_child, spread, write_json, write_markdown_keeping_notes)
from rafkatools.cluster import KafkaError, LocalKafka  # noqa: E402

OUT = ROOT / "bench" / "results" / "txn-perf"
CLIENTS = ["rafka", "rafka C API", "java", "librdkafka"]
PERF_TOOLS = {"rafka", "java"}  # the ones that only end a transaction by time


def build_c(target: Path) -> dict:
    """producer_bench.c against librafka (the cargo build) and against librdkafka."""
    bins = build_producer_bench(target, "txn_bench")
    return {"rafka C API": bins["rafka"], "librdkafka": bins["librdkafka"]}


def main():
    ap = parser(__doc__, records=300_000)
    ap.add_argument("--port", type=int, default=19682)
    ap.add_argument("--verify-records", type=int, default=30_000)
    ap.add_argument("--count-records", type=int, default=50_000,
                    help="records per run of the 1,000-record-transaction workload (rafka's commits are slow there)")
    ap.add_argument("--report-only", action="store_true", help="redo txn-perf.md from txn-perf.json; run nothing")
    a = ap.parse_args()
    if a.report_only:
        return report(json.loads(OUT.with_suffix(".json").read_text()))
    target = Path(os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target")))
    rafka = rafka_binary()
    cbins = build_c(target)
    classpath = kafka_classpath()
    load_before = os.getloadavg()
    kafka = LocalKafka("/tmp/rafka-kafka-txnbench")
    bootstrap = kafka.up(port=a.port).bootstrap

    def command(client: str, topic: str, n: int, workload: dict) -> list:
        tid = f"txn-bench-{client.replace(' ', '-')}"
        if client in PERF_TOOLS:
            head = [rafka, "perf"] if client == "rafka" else ["java", "-cp", classpath, "org.apache.kafka.tools.ProducerPerformance"]
            return [*head, "--topic", topic, "--num-records", str(n), "--record-size", str(a.record_size), "--throughput", "-1",
                    "--transactional-id", tid, "--transaction-duration-ms", str(workload["ms"]),
                    "--producer-props", f"bootstrap.servers={bootstrap}", "acks=all"]
        txn = ["--transaction-duration-ms", str(workload["ms"])] if "ms" in workload else ["--transaction-records", str(workload["records"])]
        return [cbins[client], "--bootstrap", bootstrap, "--topic", topic, "--records", str(n), "--size", str(a.record_size),
                "--set", f"transactional.id={tid}", "--set", "acks=all", *txn]

    def measure(client: str, topic: str, n: int, workload: dict) -> dict:
        m = run_child(command(client, topic, n, workload))
        if client in PERF_TOOLS:
            s = parse_summary(m.out)
            return {"records_per_s": s["records_per_sec"], "cpu_us_per_record": m.cpu_s * 1e6 / n, "cpu_s": m.cpu_s,
                    "wall_s": m.wall_s, "committed": s["records"], "transactions": None}
        r = json.loads(m.out.strip().splitlines()[-1])
        if r.get("failed") or r.get("committed") != n:
            raise RuntimeError(f"{client}: {r}")
        return {"records_per_s": r["committed"] / r["seconds"], "cpu_us_per_record": m.cpu_s * 1e6 / n, "cpu_s": m.cpu_s,
                "wall_s": m.wall_s, "committed": r["committed"], "transactions": r["transactions"]}

    workloads = {"100 ms transactions": {"ms": 100, "n": a.records}, "1000 ms transactions": {"ms": 1000, "n": a.records},
                 "1,000-record transactions": {"records": 1000, "n": a.count_records}}
    verified, startup = {}, {}
    results = {w: {c: [] for c in CLIENTS if "ms" in spec or c not in PERF_TOOLS} for w, spec in workloads.items()}
    try:
        topic = "txn-bench"
        kafka.create_topic(topic, 6)
        for client in CLIENTS:  # read_committed check, start-up cost; also the warm-up
            vt = f"txn-verify-{client.replace(' ', '-')}"
            kafka.create_topic(vt, 6)
            measure(client, vt, a.verify_records, {"ms": 100})
            p = kafka.consume(vt, max_records=a.verify_records + 1, timeout_s=10, read_committed=True)
            seen = sum(1 for line in (p.stdout or "").splitlines() if line.startswith("{"))
            verified[client] = {"sent": a.verify_records, "read_committed": seen, "ok": seen == a.verify_records}
            print("verify", client, verified[client], flush=True)
            startup[client] = measure(client, vt, 1, {"ms": 100})["cpu_s"]
        for run in range(a.runs):
            for w, spec in workloads.items():
                order = list(results[w])
                order = order[run % len(order):] + order[:run % len(order)]
                for client in order:
                    r = measure(client, topic, spec["n"], spec)
                    r["run"] = run
                    results[w][client].append(r)
                    print(w, client, {k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()}, flush=True)
    finally:
        try:
            kafka.down()
        except KafkaError as e:
            print(f"stopping the benchmark broker failed: {e}", file=sys.stderr)
    load_after = os.getloadavg()
    meta = machine_meta(commit=git_describe(), records=a.records, record_size=a.record_size, runs=a.runs, partitions=6,
                        count_records=a.count_records, verify_records=a.verify_records, loadavg_before=load_before,
                        loadavg_after=load_after, startup_cpu_s=startup, verified=verified)
    doc = {"meta": meta, "median": summarize(results, startup), "all": results}
    write_json(OUT.with_suffix(".json"), doc)
    report(doc)


def summarize(results: dict, startup: dict) -> dict:
    summary = {}
    for w, per in results.items():
        summary[w] = {}
        for c, runs in per.items():
            rps = spread(r["records_per_s"] for r in runs)
            cpu = spread(r["cpu_us_per_record"] for r in runs)
            net = statistics.median((r["cpu_s"] - startup[c]) * 1e6 / r["committed"] for r in runs)
            txns = [r["transactions"] for r in runs if r["transactions"] is not None]
            summary[w][c] = {"records_per_s": rps, "cpu_us_per_record": cpu, "cpu_us_per_record_net_of_startup": net,
                             "committed_per_run": [r["committed"] for r in runs], "transactions_per_run": txns or None}
    return summary


def report(doc: dict) -> None:
    """txn-perf.md from the JSON document (--report-only redoes it from txn-perf.json)."""
    meta, summary = doc["meta"], doc["median"]
    before, after, startup, verified = meta["loadavg_before"], meta["loadavg_after"], meta["startup_cpu_s"], meta["verified"]
    lines = ["# Transactions: rafka beside the Java producer and librdkafka", "",
             f"One broker (Kafka, single node, on this machine), a 6-partition topic, {meta['record_size']} B records, "
             f"acks=all, idempotent (implied by transactions), one producer; {meta['runs']} runs per client and workload, the client "
             f"order rotated from run to run. Median (min-max). Commit {meta['commit']}, {meta['cpu']}, {meta['cores']} cores, "
             f"{meta['date']}. Command: `bench/txn_perf.py --runs {meta['runs']} --records {meta['records']}`.", "",
             f"**The machine was shared with other work** (load average {before[0]:.2f} / {before[1]:.2f} / {before[2]:.2f} "
             f"before, {after[0]:.2f} / {after[1]:.2f} / {after[2]:.2f} after, on {meta['cores']} cores): the figures compare "
             "the clients within this run only, not with other result files.", ""]
    for w, per in summary.items():
        n = next(iter(per.values()))["committed_per_run"][0]
        lines += [f"## {w} ({n} records per run)", "",
                  "| client | committed records/s | client CPU us/record | CPU us/record net of start-up | transactions per run |",
                  "|---|---|---|---|---|"]
        for c, s in per.items():
            r, u = s["records_per_s"], s["cpu_us_per_record"]
            t = "" if not s["transactions_per_run"] else "/".join(map(str, s["transactions_per_run"]))
            lines.append(f"| {c} | {r['median']:.0f} ({r['min']:.0f}-{r['max']:.0f}) | {u['median']:.2f} ({u['min']:.2f}-{u['max']:.2f}) "
                         f"| {s['cpu_us_per_record_net_of_startup']:.2f} | {t} |")
        lines.append("")
    lines += ["Client CPU is user+system of the client process alone (its threads included), start-up included; the net column "
              "subtracts the CPU of the same client sending one record (start-up CPU: " +
              ", ".join(f"{c} {s:.2f} s" for c, s in startup.items()) + "). Committed records are the records of "
              "committed transactions (every run commits all of them or fails the benchmark). A time-bounded transaction "
              "holds what the client queued in that time, so fast clients make few, large transactions; the perf tools "
              "print no transaction count.", "",
              "Read_committed check (Kafka's consumer, before the timed runs, 100 ms transactions): " +
              ", ".join(f"{c} {v['read_committed']}/{v['sent']}{'' if v['ok'] else ' MISMATCH'}" for c, v in verified.items()) + ".", "",
              "## The goal (issue 18): >= 2x the Java producer's and >= 1.5x librdkafka's committed records/s at <= half their "
              "CPU per record", ""]
    for w, per in summary.items():
        for c in ("rafka", "rafka C API"):
            for other, need in (("java", 2.0), ("librdkafka", 1.5)):
                if c not in per or other not in per:
                    continue
                ratio = per[c]["records_per_s"]["median"] / per[other]["records_per_s"]["median"]
                cpu = per[c]["cpu_us_per_record"]["median"] / per[other]["cpu_us_per_record"]["median"]
                cpu_net = per[c]["cpu_us_per_record_net_of_startup"] / per[other]["cpu_us_per_record_net_of_startup"]
                verdict = ("holds" if ratio >= need and cpu <= 0.5 else
                           "does not hold" + (" (throughput short)" if ratio < need else "") + (" (CPU over half)" if cpu > 0.5 else ""))
                lines.append(f"- {w}, {c} vs {other}: {ratio:.2f}x the committed records/s (goal {need}x), {cpu:.2f}x the CPU "
                             f"per record ({cpu_net:.2f}x net of start-up; goal <= 0.5x): **{verdict}**.")
    # A hand-written section (what the figures mean for this commit) survives a rewrite.
    write_markdown_keeping_notes(OUT.with_suffix(".md"), lines)


if __name__ == "__main__":
    main()
