"""The benchmark figures quoted in README.md and docs/*.md, made from bench/results/*.json.

A document marks each generated block:

    <!-- figures:NAME -->
    ...generated Markdown...
    <!-- /figures:NAME -->

`scripts/figures` rewrites every block from the JSON; `scripts/figures --check` (and the harness
test tests/harness/test_docs_figures.py) fails when a block differs from what the JSON gives, so a
document cannot quote a figure the report does not have. Text outside the blocks quotes no figure.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
DOCUMENTS = ("README.md", "docs/*.md")
BLOCK = re.compile(r"<!-- figures:([a-z0-9-]+) -->\n(.*?)<!-- /figures:\1 -->", re.S)
OPENING = re.compile(r"<!-- figures:([a-z0-9-]+) -->")


class Results:
    """bench/results/*.json, read once each."""

    def __init__(self, directory: Path = RESULTS):
        self.dir = Path(directory)
        self._cache: Dict[str, dict] = {}

    def json(self, name: str) -> dict:
        if name not in self._cache:
            self._cache[name] = json.loads((self.dir / name).read_text())
        return self._cache[name]

    @property
    def suite(self) -> dict:
        return self.json("results.json")

    def row(self, sink: str, group: str, workload: str, client: str) -> Optional[dict]:
        return next((r for r in self.suite["results"] if r["sink"] == sink and r["group"] == group
                     and r["workload"] == workload and r["client"] == client and r.get("records_per_sec")), None)

    def median(self, sink: str, group: str, workload: str, client: str, key: str) -> Optional[float]:
        r = self.row(sink, group, workload, client)
        return r[key]["median"] if r else None


# ---------------------------------------------------------------------------------------------
# Formats


def rate_m(v: Optional[float]) -> str:
    return "-" if v is None else f"{v / 1e6:.2f} M/s"


def rate_short(v: Optional[float]) -> str:
    if v is None:
        return "-"
    return f"{v / 1e6:.2f} M" if v >= 1e6 else f"{v / 1e3:.0f} k"


def ms(v: Optional[float]) -> str:
    if v is None:
        return "-"
    return f"{v:.1f} ms" if v < 10 else f"{v:.0f} ms"


def us(v: float) -> str:
    return f"{v:.1f} us" if v < 10 else f"{v:.0f} us"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> List[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


# ---------------------------------------------------------------------------------------------
# The blocks


def headline_rows(results: List[dict], group: str = "base", workload: str = "100 B") -> List[str]:
    """The base workload, one row per client, both sinks side by side (also REPORT.md's headline)."""
    rows = [r for r in results if r["group"] == group and r["workload"] == workload and r.get("records_per_sec")]

    def get(c: str, sink: str, k: str) -> Optional[float]:
        return next((r[k]["median"] for r in rows if r["client"] == c and r["sink"] == sink), None)

    def show(v: Optional[float], f: str) -> str:
        return "-" if v is None else f.format(v)

    out = []
    for c in dict.fromkeys(r["client"] for r in rows):
        label = next(r["label"] for r in rows if r["client"] == c)
        out.append([label, show(get(c, "null", "records_per_sec"), "{:,.0f}"), show(get(c, "broker", "records_per_sec"), "{:,.0f}"),
                    show(get(c, "null", "cpu_us_per_record"), "{:.2f}"), show(get(c, "broker", "p99_ms"), "{:.1f}"),
                    show(get(c, "null", "peak_rss_mib") or get(c, "broker", "peak_rss_mib"), "{:.0f}")])
    return table(["client", "records/s, null sink", "records/s, broker", "CPU us/record, null sink", "p99 ms, broker",
                  "peak RSS MiB"], out)


def runs_of(r: Optional[dict]) -> int:
    return len(r["runs"]) if r else 0


def headline(res: Results) -> List[str]:
    meta = res.suite["meta"]
    base = [r for r in res.suite["results"] if r["group"] == "base" and r["workload"] == "100 B" and r.get("records_per_sec")]
    null_runs = sorted({runs_of(r) for r in base if r["sink"] == "null"})
    broker_runs = sorted({runs_of(r) for r in base if r["sink"] == "broker"})
    span = lambda xs: "-".join(str(x) for x in (xs[:1] + xs[-1:] if len(xs) > 1 else xs))  # noqa: E731
    return [f"Suite run of {meta['date'][:10]} on {meta['cpu']}, {meta['cpus']} CPUs, broker on the same machine "
            f"(Kafka {meta['kafka (broker, Java producer)']}); median of {span(null_runs)} runs against the null sink and "
            f"{span(broker_runs)} against the broker:", "", *headline_rows(res.suite["results"])]


def rafka_setting_rows(res: Results, group: str, workloads: Sequence[tuple[str, str]]) -> List[List[str]]:
    out = []
    for workload, label in workloads:
        cells = [label]
        for sink in ("null", "broker"):
            r = res.row(sink, group, workload, "rafka-c")
            cells.append("-" if r is None else f"{rate_m(r['records_per_sec']['median'])}, {ms(r['p99_ms']['median'])}")
        out.append(cells)
    return out


def tuning_buffer(res: Results) -> List[str]:
    return table(["buffer.memory", "null sink", "broker"], rafka_setting_rows(res, "tuning", [
        ("buffer.memory=1 MiB", "1 MiB"), ("buffer.memory=4 MiB", "4 MiB"), ("buffer.memory=32 MiB", "32 MiB (default)")]))


def tuning_batch(res: Results) -> List[str]:
    return table(["setting", "null sink", "broker"], rafka_setting_rows(res, "tuning", [
        ("batch.size=16 KiB", "batch.size=16 KiB, linger.ms=5 (defaults)"), ("batch.size=64 KiB", "batch.size=64 KiB"),
        ("batch.size=256 KiB", "batch.size=256 KiB"), ("linger.ms=0", "linger.ms=0"), ("linger.ms=20", "linger.ms=20")]))


def tuning_threads(res: Results) -> List[str]:
    return table(["sending threads", "null sink", "broker"], rafka_setting_rows(res, "threads", [
        ("1 thread", "1"), ("2 threads", "2"), ("4 threads", "4")]))


def tuning_scaling(res: Results) -> List[str]:
    rows = []
    for p in (1, 10, 100, 1000):
        w = f"{p} partitions, keyed"
        rows.append([f"{p:,}"] + [f"{rate_short(res.median(sink, 'scaling', w, c, 'records_per_sec'))}"
                                  for sink in ("null", "broker") for c in ("rafka-c", "librdkafka", "java")])
    return table(["partitions", "rafka (C API), null sink", "librdkafka, null sink", "Java producer, null sink",
                  "rafka (C API), broker", "librdkafka, broker", "Java producer, broker"], rows)


def tuning_acks(res: Results) -> List[str]:
    rows = []
    for w in ("acks=1", "acks=all+idempotence"):
        r = res.row("null", "acks", w, "rafka-c")
        null = "-" if r is None else f"{rate_m(r['records_per_sec']['median'])}, {r['cpu_us_per_record']['median']:.2f} us/record"
        cells = [w, null]
        for c in ("rafka-c", "librdkafka", "java"):
            b = res.row("broker", "acks", w, c)
            cells.append("-" if b is None else f"{rate_short(b['records_per_sec']['median'])}/s, p99 {ms(b['p99_ms']['median'])}")
        rows.append(cells)
    return table(["acks", "rafka (C API), null sink", "rafka (C API), broker", "librdkafka, broker", "Java producer, broker"], rows)


def c_api(res: Results) -> List[str]:
    rows = []
    for sink in ("null", "broker"):
        a, b = res.row(sink, "base", "100 B", "rafka-c"), res.row(sink, "base", "100 B", "librdkafka")
        if not (a and b):
            continue
        ra, rb = a["records_per_sec"]["median"], b["records_per_sec"]["median"]
        ca, cb = a["cpu_us_per_record"]["median"], b["cpu_us_per_record"]["median"]
        rows.append([f"{'null sink' if sink == 'null' else 'broker'}, {runs_of(a)} runs", f"{ra:,.0f} at {ca:.2f} us",
                     f"{rb:,.0f} at {cb:.2f} us", f"{ra / rb:.2f}x", f"{ca / cb:.2f}x"])
    lib = res.suite["meta"].get("librdkafka (C harness)", "?")
    return [f"Suite run of {res.suite['meta']['date'][:10]} (`bench/results/results.json`, base workload, 100 B):", "",
            *table(["sink", "rafka C API", f"librdkafka {lib}", "rate", "CPU"], rows)]


def java(res: Results) -> List[str]:
    d = res.json("java.json")
    s, m = d["settings"], d["median"]
    r = d["ratio_rafka_over_kafka"]
    rows = [[name, f"{m[c]['records_per_s']:,.0f}", f"{m[c]['cpu_us_per_record']:.2f} us", f"{m[c]['heap_bytes_per_record']:.0f} B",
             f"{m[c]['peak_rss_kib'] / 1024:.0f} MiB"]
            for c, name in (("kafka", f"KafkaProducer {s['kafka_clients']}"), ("rafka", "RafkaProducer"))]
    return [f"{s['records']:,} records of {s['record_size']} B, acks={s['acks']}, linger.ms={s['linger.ms']}, median of "
            f"{len(d['runs']) // 2} runs, each in its own JVM, on {d['machine']['cpus']} CPUs shared with the broker:", "",
            *table(["client", "records/s", "CPU per record", "heap allocated per record", "peak RSS"], rows), "",
            f"RafkaProducer / KafkaProducer: {r['records_per_s']}x the records/s, {r['cpu_us_per_record']}x the CPU and "
            f"{r['heap_bytes_per_record']}x the heap per record."]


def compression(res: Results) -> List[str]:
    d = res.json("compression.json")
    meta = d["meta"]
    rows = []
    for r in d["results"]:
        rp = r["records_per_sec"]
        rows.append([r["codec"], r["client"], f"{rp['median']:,.0f} ({rp['min']:,.0f}-{rp['max']:,.0f})", f"{r['mb_per_sec']:.1f}",
                     f"{r['ratio']:.3f}", f"{r['cpu_us_per_record']:.2f}", f"{r['p50_ms']}", f"{r['p99_ms']}"])
    return [f"{meta['date']}, {meta['cores']} cores; {meta['records']:,} JSON-like records of {meta['mean_payload_bytes']:.0f} B "
            f"on average (same payload file for both), {meta['partitions']} partitions, {' '.join(meta['settings'])}, median of "
            f"{meta['runs']} runs (min-max). Ratio: bytes the broker stored / uncompressed payload bytes. CPU: the client "
            "process, all threads.", "",
            *table(["codec", "client", "records/s", "MB/s", "ratio", "CPU us/record", "p50 ms", "p99 ms"], rows)]


def python(res: Results) -> List[str]:
    d = res.json("python-compare.json")
    meta, summary = d["meta"], d["summary"]
    names = {"rafka": "rafka `produce()`", "rafka-batch": "rafka `produce_batch()`", "confluent": "confluent-kafka `produce()`",
             "confluent-batch": "confluent-kafka `produce_batch()`", "kafka-python": "kafka-python `send()`"}
    rows = []
    base = summary.get("confluent")
    for c, s in summary.items():
        a, cpu = s["acked_per_s"], s["cpu_us_per_record"]
        rel = "" if not base else (f"{a['median'] / base['acked_per_s']['median']:.2f}x / "
                                   f"{cpu['median'] / base['cpu_us_per_record']['median']:.2f}x")
        rows.append([names.get(c, c), f"{a['median']:,.0f} ({a['min']:,.0f}-{a['max']:,.0f})", f"{cpu['median']:.2f} us", rel])
    load = meta["loadavg_1_5_15_start"][0]
    return [f"`python bench/python/compare.py --records {meta['records']} --runs {meta['runs']}` on {meta['date'][:16].replace('T', ' ')} "
            f"UTC, {meta['cpus']} CPUs shared with the broker (load {load:.1f} at the start), after "
            f"{meta.get('warmup_rounds', 0)} unmeasured warm-up rounds; median (min-max) of {meta['runs']} runs:", "",
            *table(["client", "acknowledged records/s", "CPU per record", "vs confluent `produce()`: records/s / CPU"], rows)]


def tuning_latency(res: Results) -> List[str]:
    """bench/latency_rate.py: p50 / p99 at 25% and 50% of the broker's maximum, medians of the runs."""
    d = res.json("latency-rate.json")
    meta = d["meta"]
    clients = [("rafka C API", "rafka"), ("librdkafka", "librdkafka"), ("java", "Java producer")]
    by: Dict[tuple, List[dict]] = {}
    for p in d["points"]:
        by.setdefault((p["size"], p["linger_ms"], p["fraction"], p["client"]), []).append(p)

    def cell(size: int, linger: int, f: float, c: str) -> str:
        pts = by.get((size, linger, f, c))
        if not pts:
            return "-"
        return f"{statistics.median(x['p50_ms'] for x in pts):.2f} / {statistics.median(x['p99_ms'] for x in pts):.0f} ms"

    rows, shown = [], []
    for size in meta["sizes"]:
        for linger in meta["lingers"]:
            for f in (x for x in meta["fractions"] if 0.2 <= x <= 0.5):
                rate = d["maximum"][str(size)] * f
                rows.append([f"{size} B", str(linger), f"{rate_short(rate)}/s ({f:.0%})", *(cell(size, linger, f, c) for c, _ in clients)])
                shown += [v for c, _ in clients if (v := by.get((size, linger, f, c)))]
    spread_p99 = max((max(x["p99_ms"] for x in v) / max(min(x["p99_ms"] for x in v), 1e-3) for v in shown), default=1.0)
    return [f"`bench/latency_rate.py --runs {meta['runs']}` on {meta['date'][:16]}, {meta['cores']} cores, one broker; send-to-ack "
            f"p50 / p99, median of {meta['runs']} runs per point (between runs, one point's p99 moved by up to {spread_p99:.0f}x):", "",
            *table(["record", "linger.ms", "steady rate (share of max)", *(n for _, n in clients)], rows)]


def tuning_partitions(res: Results) -> List[str]:
    """bench/scale.py: CPU per record and records per batch by partition count, medians of the runs."""
    d = res.json("scale.json")
    meta = d["meta"]
    clients = [("rafka C API", "rafka (C API)"), ("librdkafka", "librdkafka")]
    rows = []
    for p in meta["partitions"]:
        row = [f"{p:,}"]
        for c, _ in clients:
            rs = [r for r in d["runs"] if r["partitions"] == p and r["client"] == c]
            row.append("-" if not rs else f"{statistics.median(r['cpu_us_per_record'] for r in rs):.2f} us, "
                       f"{statistics.median(r['records_per_batch'] for r in rs):.1f} per batch")
        rows.append(row)
    return [f"`bench/scale.py` on {meta['date'][:16]}: {meta['keys']:,} keys, {meta['record_size']} B records into the null sink, "
            f"client CPU per record and records per batch, median of {meta['runs']} runs:", "",
            *table(["partitions", *(n for _, n in clients)], rows)]


def tuning_large(res: Results) -> List[str]:
    """bench/large_records.py: records/s on both sinks, CPU per record and copies of the value."""
    d = res.json("large-records.json")
    meta, summary = d["meta"], d["summary"]
    clients = [("rafka-c", "rafka (C API)"), ("librdkafka", "librdkafka"), ("rafka-py", "rafka (Python, bytes)"),
               ("confluent-kafka", "confluent-kafka")]
    rows = []
    for size in meta["sizes"]:
        for c, name in clients:
            null, broker = (summary.get(sink, {}).get(str(size), {}).get(c) for sink in ("null", "broker"))
            copies = d.get("copies", {}).get(str(size), {}).get(c, {}).get("copies")
            if not null:
                continue
            rows.append([f"{size >> 20} MiB" if size >= 1 << 20 else f"{size >> 10} KiB", name, f"{null['records_per_s']['median']:,.0f}",
                         "-" if not broker else f"{broker['records_per_s']['median']:,.0f}",
                         us(null['cpu_us_per_record']['median']), "-" if not copies else f"{copies['median']:.1f}"])
    return [f"`{meta['command']}` on {meta['date'][:16]}, {meta['cores']} cores: records/s into the null sink "
            "and one broker, client CPU per record (null sink) and copies of the value the client makes in memory (callgrind; "
            "the kernel's copy into the socket not counted), medians:", "",
            *table(["value", "client", "records/s, null sink", "records/s, broker", "CPU per record", "copies"], rows)]


GENERATORS: Dict[str, Callable[[Results], List[str]]] = {
    "tuning-large": tuning_large,
    "tuning-latency": tuning_latency,
    "tuning-partitions": tuning_partitions,
    "headline": headline,
    "tuning-buffer": tuning_buffer,
    "tuning-batch": tuning_batch,
    "tuning-threads": tuning_threads,
    "tuning-scaling": tuning_scaling,
    "tuning-acks": tuning_acks,
    "c-api": c_api,
    "java": java,
    "compression": compression,
    "python": python,
}


# ---------------------------------------------------------------------------------------------
# Rewriting and checking documents


def documents(root: Path = ROOT) -> List[Path]:
    out: List[Path] = []
    for pattern in DOCUMENTS:
        out += sorted(root.glob(pattern))
    return out


def render(name: str, res: Results) -> str:
    if name not in GENERATORS:
        raise KeyError(f"no figures block called '{name}' (known: {', '.join(GENERATORS)})")
    return "\n".join(GENERATORS[name](res)) + "\n"


def rewrite(text: str, res: Results, where: str = "") -> str:
    """`text` with every marked block made anew; a block opened and never closed is an error."""
    opened = [m.group(1) for m in OPENING.finditer(text)]
    closed = [m.group(1) for m in BLOCK.finditer(text)]
    if opened != closed:
        raise ValueError(f"{where}: figures block(s) {sorted(set(opened) - set(closed)) or opened} not closed by "
                         "<!-- /figures:NAME --> (or nested)")
    return BLOCK.sub(lambda m: f"<!-- figures:{m.group(1)} -->\n{render(m.group(1), res)}<!-- /figures:{m.group(1)} -->", text)


def stale(root: Path = ROOT, results: Optional[Path] = None) -> List[str]:
    """The blocks whose text differs from what the JSON gives, as 'FILE: NAME'."""
    res = Results(results or root / "bench" / "results")
    out = []
    for doc in documents(root):
        text = doc.read_text()
        for m in BLOCK.finditer(text):
            if m.group(2) != render(m.group(1), res):
                out.append(f"{doc.relative_to(root)}: {m.group(1)}")
        rewrite(text, res, str(doc.relative_to(root)))  # unclosed blocks and unknown names fail here
    return out


def main(argv: Sequence[str]) -> int:
    """scripts/figures [--check]: rewrite the figures blocks of README.md and docs/*.md (or only check them)."""
    if argv and argv[0] in ("-h", "--help"):
        print("usage: scripts/figures [--check]\n\n" + __doc__.strip().split("\n\n")[0])
        return 0
    check = list(argv) == ["--check"]
    if argv and not check:
        print(f"scripts/figures: unknown arguments {' '.join(argv)} (usage: scripts/figures [--check])", file=sys.stderr)
        return 2
    try:
        if check:
            bad = stale()
            for b in bad:
                print(f"stale figures: {b} (run scripts/figures)", file=sys.stderr)
            return 1 if bad else 0
        res = Results()
        for doc in documents():
            text = doc.read_text()
            new = rewrite(text, res, str(doc.relative_to(ROOT)))
            if new != text:
                doc.write_text(new)
                print(f"rewrote {doc.relative_to(ROOT)}")
    except (KeyError, ValueError, OSError) as e:
        print(f"scripts/figures: {e}", file=sys.stderr)
        return 1
    return 0
