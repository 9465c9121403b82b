"""What the benchmark runners in bench/ share: running a child and measuring it, the perf tools'
summary line, medians, the command-line basics, machine metadata and writing the results.

Runners: bench/suite.py (bench/run), bench/producer_perf.py, bench/compression_perf.py, bench/txn_perf.py,
bench/tls_perf.py, bench/java/run.py, bench/python/compare.py. A benchmark, not a test: nothing
here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Optional, Sequence

from rafkatools.cluster import DEFAULT_VERSION, LocalKafka

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"

# The summary line of Kafka's ProducerPerformance and of `rafka perf` (which prints the same line).
# With --warmup-records both print a "N steady state records sent, ..." line for the measured part.
PERF_SUMMARY = re.compile(
    r"(\d+)( steady state)? records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\)"
    r"(?:, ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th"
    r"(?:, (\d+) ms 99.9th)?)?"
)


# ---------------------------------------------------------------------------------------------
# Running


def sh(*cmd: str, **kw) -> str:
    """Runs a command that must succeed; its stdout without surrounding white space."""
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout.strip()


def sh_out(*cmd: str) -> str:
    """Like sh() for information only: "" when the command is missing, fails to start or hangs."""
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


@dataclass
class Measured:
    """One child process: exit code, output, wall seconds, CPU seconds (user+system) and peak RSS
    (KiB) of that child alone (os.wait4 gives its own rusage, its threads included)."""

    code: int
    out: str
    err: str
    wall_s: float
    cpu_s: float
    peak_rss_kib: int
    # Bytes the child wrote to files, as the kernel counts them (ru_oublock, 512-byte blocks
    # dirtied in the page cache, whether or not synced yet).
    written_bytes: int = 0


def run_measured(cmd: Sequence[str], cpus: Optional[str] = None, timeout: Optional[float] = None) -> Measured:
    """Runs cmd (on `cpus` with taskset when given and available); kills it after `timeout` seconds."""
    cmd = list(cmd)
    if cpus and shutil.which("taskset"):
        cmd = ["taskset", "-c", cpus, *cmd]
    t0 = time.monotonic()
    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
        p = subprocess.Popen(cmd, stdout=fo, stderr=fe, text=True)
        deadline = None if timeout is None else t0 + timeout
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG if deadline else 0)
            if pid:
                break
            if deadline is not None and time.monotonic() > deadline:
                p.kill()
                pid, status, ru = os.wait4(p.pid, 0)
                break
            time.sleep(0.01)
        p.returncode = os.waitstatus_to_exitcode(status)  # reaped here: tell Popen so
        wall = time.monotonic() - t0
        fo.seek(0)
        fe.seek(0)
        return Measured(p.returncode, fo.read(), fe.read(), wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss, ru.ru_oublock * 512)


def run_child(cmd: Sequence[str]) -> Measured:
    """run_measured() for a child that must succeed: raises RuntimeError with its output otherwise."""
    m = run_measured(cmd)
    if m.code != 0:
        raise RuntimeError(f"{cmd[0]} failed ({m.code}):\n{m.out[-2000:]}\n{m.err[-2000:]}")
    return m


def perf_summaries(out: str) -> List[re.Match]:
    return [m for m in map(PERF_SUMMARY.search, out.splitlines()) if m]


def parse_summary(out: str) -> dict:
    """The last summary line of a perf tool's output: records, records_per_sec, mb_per_sec and,
    where the line has them, latencies (ms; percentiles as the whole numbers the tools print)."""
    found = perf_summaries(out)
    if not found:
        raise RuntimeError(f"no summary line in:\n{out[-2000:]}")
    m = found[-1]
    r = {"records": int(m.group(1)), "records_per_sec": float(m.group(3)), "mb_per_sec": float(m.group(4))}
    if m.group(5) is not None:
        r.update(avg_latency_ms=float(m.group(5)), max_latency_ms=float(m.group(6)), p50_ms=int(m.group(7)),
                 p99_ms=int(m.group(9)))
    return r


# ---------------------------------------------------------------------------------------------
# Figures


def spread(values: Iterable[float]) -> dict:
    """{"median", "min", "max"} of the runs: how every runner reports a figure."""
    vals = list(values)
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals)}


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


# ---------------------------------------------------------------------------------------------
# Command line, programs and the broker


def parser(doc: Optional[str], records: int, runs: int = 3, record_size: Optional[int] = 100,
           out: Optional[str] = None, prog: Optional[str] = None) -> argparse.ArgumentParser:
    """The options every runner has: --records, --runs, --record-size (unless None) and --out (when given)."""
    ap = argparse.ArgumentParser(prog=prog, description=(doc or "").split("\n\n")[0] or None)
    ap.add_argument("--records", type=int, default=records)
    ap.add_argument("--runs", type=int, default=runs)
    if record_size is not None:
        ap.add_argument("--record-size", type=int, default=record_size)
    if out is not None:
        ap.add_argument("--out", default=out)
    return ap


def rafka_binary() -> str:
    """The release `rafka` CLI (rafka perf); exits with how to build it when it is missing."""
    path = Path(os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))) / "release" / "rafka"
    if not path.exists():
        sys.exit(f"{path} not found: run `cargo build --release -p rafka-cli` first")
    return str(path)


def kafka_classpath(version: str = DEFAULT_VERSION) -> str:
    """The Kafka jars' classpath (ProducerPerformance, LogDirsCommand), fetched if needed."""
    k = LocalKafka()
    k.check_java(version)
    k.fetch(version)
    return k.classpath(version)


# ---------------------------------------------------------------------------------------------
# Machine metadata


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), platform.processor())
    except OSError:
        return platform.processor()


def java_version(java: str = "java") -> str:
    """The first line of `java -version`."""
    try:
        p = subprocess.run([java, "-version"], capture_output=True, text=True)
    except OSError:
        return ""
    return (p.stderr.splitlines() or [""])[0]


def git_describe() -> str:
    return sh_out("git", "-C", str(ROOT), "describe", "--always", "--dirty")


def machine_meta(**extra) -> dict:
    """When and on what a benchmark ran (local time, CPU model, cores), plus its own settings."""
    return {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "cpu": cpu_model(), "cores": os.cpu_count(), **extra}


# ---------------------------------------------------------------------------------------------
# Writing results


def write_json(path: Path | str, doc: dict, indent: int = 2, newline: bool = True) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=indent) + ("\n" if newline else ""))


def write_markdown(path: Path | str, lines: Sequence[str], echo: bool = False) -> None:
    """Writes the lines as a Markdown file (and prints them when `echo`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    if echo:
        print("\n".join(lines))


NOTES = "## Notes (by hand)"


def write_markdown_keeping_notes(path: Path | str, lines: Sequence[str]) -> None:
    """write_markdown(echo=True), carrying over the hand-written section (NOTES to the end) of the
    file it replaces: what a person wrote about a run survives a --report-only rewrite."""
    path = Path(path)
    old = path.read_text() if path.exists() else ""
    if NOTES in old:
        lines = [*lines, "", old[old.index(NOTES):].rstrip("\n")]
    write_markdown(path, lines, echo=True)


def harness_result(m: Measured, client: str) -> dict:
    """The JSON line a bench harness (bench/c, bench/java, bench/python) printed last, from a run
    that must have succeeded with every record acknowledged: RuntimeError otherwise."""
    lines = m.out.strip().splitlines()
    if m.code != 0 or not lines:
        raise RuntimeError(f"{client} failed ({m.code}):\n{m.out[-2000:]}\n{m.err[-2000:]}")
    r = json.loads(lines[-1])
    if r.get("failed") or r.get("acked") != r.get("records"):
        raise RuntimeError(f"{client}: not every record was acknowledged: {r}")
    return r


def write_report(out: str, meta: dict, results: list, md_lines: Sequence[str]) -> None:
    """Writes OUT.json (meta and every run) and OUT.md (the table), and prints the table."""
    write_json(out + ".json", {"meta": meta, "results": results}, newline=False)
    write_markdown(out + ".md", md_lines, echo=True)


def build_producer_bench(target: Path, name: str) -> dict:
    """bench/c/producer_bench.c built twice, against librafka (the cargo release build in `target`,
    linked through a librafka.so.0 symlink, its soname) and against the system's librdkafka:
    {"rafka": path, "librdkafka": path}, the binaries named `{name}_rafka` and `{name}_rdkafka`."""
    build = target / "bench"
    build.mkdir(parents=True, exist_ok=True)
    flags = ["-O2", "-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-pthread"]
    src = str(ROOT / "bench" / "c" / "producer_bench.c")
    so = target / "release" / "librafka.so"
    if not so.exists():
        sys.exit(f"{so} not found: run `cargo build --release -p rafka` first")
    link = build / "librafka.so.0"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(so)
    rafka_c, rdkafka = build / f"{name}_rafka", build / f"{name}_rdkafka"
    # A RUNPATH (new dtags), not an RPATH: LD_LIBRARY_PATH then comes first, so bench/scale.py --before
    # can run the same harness on an earlier librafka.
    subprocess.run(["cc", *flags, f"-I{ROOT / 'include'}", "-o", str(rafka_c), src, f"-L{target / 'release'}",
                    f"-Wl,-rpath,{build}", "-Wl,--enable-new-dtags", "-lrafka"], check=True)
    rd = subprocess.run(["pkg-config", "--cflags", "--libs", "rdkafka"], check=True, capture_output=True,
                        text=True).stdout.split()
    subprocess.run(["cc", *flags, "-DUSE_RDKAFKA", "-o", str(rdkafka), src, *rd], check=True)
    return {"rafka": str(rafka_c), "librdkafka": str(rdkafka)}
