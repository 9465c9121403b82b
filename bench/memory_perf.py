#!/usr/bin/env python3
"""Peak RSS under overload (issue 24 goal 4): a producer sending as fast as it can into a null sink
that stops reading, so its buffer fills and its senders block, for several buffer sizes, beside
librdkafka with the same `queue.buffering.max.kbytes`.

Each run starts a fresh `rafka-nullsink`, starts the client on a topic of 6 partitions (100 B records,
acks=all with idempotence, linger.ms=5, more records than any buffer holds), lets it send for
--send-s seconds, then stops the sink (SIGSTOP: the sink's socket buffers fill, then the client's
writes stall, its buffer fills and produce() blocks or returns queue-full), and samples the client's
/proc/PID/status until its RSS has not moved for --settle-s seconds. It records the peak (VmHWM),
what the RSS is made of at that point (/proc/PID/smaps: the binary's and libraries' file pages,
[heap], anonymous mappings, thread stacks) and the thread count, then kills the client. RSS is
insensitive to load, so one run per cell is quoted.

Clients: `rafka perf` (Rust API), bench/c/producer_bench.c on librafka (C API) and on librdkafka.
Writes bench/results/memory.json and .md. A benchmark, not a test: nothing here asserts a size.

Usage: bench/memory_perf.py [--buffers-mib 1,32,256] [--clients rafka-perf,rafka-c,librdkafka]
Needs `cargo build --release -p rafka-cli -p rafka -p rafka-nullsink`, a C compiler and librdkafka-dev.
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from rafkatools.bench import ROOT, build_producer_bench, git_describe, machine_meta, write_json, write_markdown  # noqa: E402

MIB = 1 << 20
RECORDS = 500_000_000  # more than any buffer holds: the client is killed once measured
ENV_SETTINGS = ["acks=all", "enable.idempotence=true", "linger.ms=5"]


def build_harnesses(target: Path) -> dict:
    """producer_bench.c against librafka and librdkafka (as bench/callgrind builds them)."""
    bins = build_producer_bench(target, "mem_bench")
    return {"rafka-c": bins["rafka"], "librdkafka": bins["librdkafka"]}


def command(client: str, bins: dict, rafka: str, boot: str, buffer: int, extra: list) -> list:
    topic = "memory-p6"
    if client == "rafka-perf":
        return [rafka, "perf", "--topic", topic, "--num-records", str(RECORDS), "--record-size", "100",
                "--throughput", "-1", "--producer-props", f"bootstrap.servers={boot}", *ENV_SETTINGS,
                f"buffer.memory={buffer}", *extra]
    harness = [bins[client], "--bootstrap", boot, "--topic", topic, "--records", str(RECORDS), "--size", "100",
               "--threads", "1", "--warmup", "0"]
    settings = ENV_SETTINGS + ([f"queue.buffering.max.kbytes={buffer // 1024}", "queue.buffering.max.messages=10000000"]
                               if client == "librdkafka" else [f"buffer.memory={buffer}"]) + extra
    for s in settings:
        harness += ["--set", s]
    return harness


def status(pid: int) -> dict:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            out[k] = int(v.split()[0]) * 1024
        elif k == "Threads":
            out[k] = int(v)
    return out


def breakdown(pid: int) -> dict:
    """RSS by kind of mapping, from /proc/PID/smaps: file-backed (the binary and its libraries),
    [heap] (brk), [stack] (the main thread's), anonymous mappings of 64 MiB reservations (glibc malloc's
    per-thread arenas), other anonymous mappings (thread stacks, mmap'd large allocations)."""
    kinds = {"file": 0, "heap": 0, "main stack": 0, "arenas": 0, "other anonymous": 0}
    cur = None
    size = 0
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ (\d+)\s*(.*)$", line)
        if m:
            lo, hi, inode, name = int(m[1], 16), int(m[2], 16), int(m[3]), m[4]
            size = hi - lo
            if inode or name.startswith("/"):
                cur = "file"
            elif name == "[heap]":
                cur = "heap"
            elif name == "[stack]":
                cur = "main stack"
            elif name.startswith("["):
                cur = "file"  # vdso, vvar: shared, tiny
            else:
                # glibc arenas reserve 64 MiB aligned to 64 MiB (HEAP_MAX_SIZE); the used part is
                # read-write, the rest PROT_NONE in a separate mapping
                cur = "arenas" if lo % (64 * MIB) == 0 or size + lo % (64 * MIB) == 64 * MIB else "other anonymous"
            continue
        if line.startswith("Rss:") and cur:
            kinds[cur] += int(line.split()[1]) * 1024
    return kinds


def one_run(client: str, cmd: list, sink_bin: str, send_s: float, settle_s: float, timeout_s: float) -> dict:
    sink = subprocess.Popen([sink_bin, "--partitions", "6"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = sink.stdout.readline()
    boot = line.strip().split("=", 1)[1]
    cmd = [c.replace("{BOOT}", boot) for c in cmd]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(send_s)
        if proc.poll() is not None:
            raise RuntimeError(f"{client} exited early: {proc.stderr.read()[-2000:]}")
        os.kill(sink.pid, signal.SIGSTOP)
        paused = time.monotonic()
        last, stable_since, samples = None, time.monotonic(), []
        while time.monotonic() - paused < timeout_s:
            time.sleep(0.1)
            s = status(proc.pid)
            samples.append(s["VmRSS"])
            if last is None or abs(s["VmRSS"] - last) > 256 * 1024:
                last, stable_since = s["VmRSS"], time.monotonic()
            elif time.monotonic() - stable_since >= settle_s:
                break
        s = status(proc.pid)
        parts = breakdown(proc.pid)
        return {"client": client, "peak_rss": s["VmHWM"], "rss": s["VmRSS"], "rss_anon": s["RssAnon"],
                "rss_file": s["RssFile"], "threads": s["Threads"], "breakdown": parts,
                "settled": time.monotonic() - stable_since >= settle_s, "seconds_paused": time.monotonic() - paused,
                "command": cmd}
    finally:
        proc.kill()
        proc.wait()
        try:
            os.kill(sink.pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
        sink.stdin.close()
        sink.kill()
        sink.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--buffers-mib", default="1,32,256")
    ap.add_argument("--clients", default="rafka-perf,rafka-c,librdkafka")
    ap.add_argument("--send-s", type=float, default=1.0, help="seconds of sending before the sink stops")
    ap.add_argument("--settle-s", type=float, default=3.0, help="seconds the RSS must hold still")
    ap.add_argument("--timeout-s", type=float, default=60.0)
    ap.add_argument("--set", action="append", default=[], help="an extra key=value for every client")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "memory"))
    a = ap.parse_args()
    target = Path(os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target")))
    bins = build_harnesses(target)
    rafka = str(target / "release" / "rafka")
    sink_bin = str(target / "release" / "rafka-nullsink")
    buffers = [int(b) for b in a.buffers_mib.split(",")]
    clients = a.clients.split(",")
    results = []
    for mib in buffers:
        for client in clients:
            cmd = command(client, bins, rafka, "{BOOT}", mib * MIB, a.set)
            r = one_run(client, cmd, sink_bin, a.send_s, a.settle_s, a.timeout_s)
            r["buffer_mib"] = mib
            r["over_buffer_mib"] = r["peak_rss"] / MIB - mib
            results.append(r)
            print(f"{client:12} buffer {mib:4} MiB: peak RSS {r['peak_rss'] / MIB:7.1f} MiB "
                  f"(+{r['over_buffer_mib']:.1f}), {r['threads']} threads, "
                  + ", ".join(f"{k} {v / MIB:.1f}" for k, v in r["breakdown"].items()), flush=True)
    rev = git_describe()
    argv = " ".join(sys.argv[1:])
    meta = machine_meta(commit=rev, command=f"bench/memory_perf.py {argv}".strip(), send_s=a.send_s,
                        settle_s=a.settle_s, settings=ENV_SETTINGS + a.set)
    write_json(a.out + ".json", {"meta": meta, "results": results})
    lines = [f"`{meta['command']}` at {rev}: peak RSS (VmHWM) of each client sending 100 B records "
             "(acks=all with idempotence, linger.ms=5, 6 partitions) into rafka-nullsink, which is stopped "
             f"(SIGSTOP) after {a.send_s:g} s so the buffer fills and sends block; measured once the RSS held "
             f"still for {a.settle_s:g} s. librdkafka gets `queue.buffering.max.kbytes` = the buffer and "
             "`queue.buffering.max.messages=10000000`. Goal (issue 24): peak RSS <= buffer + 8 MiB.",
             "", "| buffer | client | peak RSS MiB | above the buffer MiB | threads | file | [heap] | "
             "malloc arenas | other anon | settled |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        b = r["breakdown"]
        lines.append(f"| {r['buffer_mib']} MiB | {r['client']} | {r['peak_rss'] / MIB:.1f} | {r['over_buffer_mib']:+.1f} | "
                     f"{r['threads']} | {b['file'] / MIB:.1f} | {b['heap'] / MIB:.1f} | {b['arenas'] / MIB:.1f} | "
                     f"{b['other anonymous'] / MIB:.1f} | {'yes' if r['settled'] else 'no'} |")
    lines += ["", "The breakdown is the RSS at the end (after settling), by mapping: file = the binary and "
              "shared libraries; [heap] = brk memory (the main arena); malloc arenas = anonymous mappings "
              "aligned to 64 MiB (glibc's per-thread arenas, and mimalloc's arena, where rafka's records live); other anon = thread "
              "stacks and large mmap'd allocations."]
    write_markdown(a.out + ".md", lines, echo=True)


if __name__ == "__main__":
    main()
