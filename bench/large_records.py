#!/usr/bin/env python3
"""Large records (issue 24, goal 6): 16 KiB and 1 MiB values, records/s, MiB/s, client CPU per
record, peak RSS and the copies each client makes of the value, rafka beside librdkafka, against
the null sink and a real broker, clients alternated run by run (the client order rotates from run
to run). Writes bench/results/large-records.json and .md. A benchmark, not a test.

Clients (`--clients`, default all):
  rafka-c              bench/c/producer_bench.c on librafka: rafka_produce(), RAFKA_MSG_F_COPY
  rafka-c-iov          the same with --iov 2: rafka_produce_iov(), the value as two pieces
  librdkafka           the same producer_bench.c on the system librdkafka (RD_KAFKA_MSG_F_COPY)
  rafka-py             bench/python/produce_bench.py on rafka.Producer, the value a `bytes`
  rafka-py-bytearray   the same, the value a `bytearray` (a writable buffer)
  rafka-py-memoryview  the same, the value a read-only `memoryview` (a buffer export)
  confluent-kafka, confluent-kafka-bytearray, confluent-kafka-memoryview: the same three on
                       confluent-kafka (which takes only bytes and str: the other two are reported
                       "unavailable" with its TypeError)
  rafka-perf           `rafka perf` (the Rust API), Kafka's perf-tool flags
Every client gets the same settings: acks=all with idempotence, linger.ms=5, batch.size=16384 (so
every 16 KiB or larger record is a batch of its own in every client: the per-record path is what is
measured; --batch-size changes it) and a 64 MiB buffer (buffer.memory; librdkafka
queue.buffering.max.kbytes=65536 and queue.buffering.max.messages=10000000). Values over 512 KiB
get every size limit raised alike to max(2 MiB, 2 x the value): max.request.size for rafka
(librdkafka's message.max.bytes, its name for the same bound) and the topic's max.message.bytes
on the broker; smaller values run with the defaults. One topic of 6 partitions per size, no keys,
one sending thread.

Per run: records/s and MiB/s (acknowledged records over the harness's timed window, after a
flushed warm-up); client CPU per record = the child's user+system time (wait4) less that of a
one-record run of the same client (start-up, connection, interpreter), over the records it sent
(warm-up included); peak RSS (ru_maxrss). Reported as the median (min-max) over --runs runs. Sinks:
`rafka-nullsink --partitions 6` and one Kafka node of scripts/kafka on --port (state
/tmp/rafka-kafka-largebench, log on tmpfs with short retention), warmed up first with unmeasured
rounds of every client until the broker's JIT compiler threads are quiet (as bench/suite.py does).
The sink or broker is pinned to the first half of the CPUs and the client to the rest (taskset).

Copies of the value: each client runs under valgrind's callgrind against the null sink twice, with
N1 and N2 records (--copy-mib: N = MIB / value size), and the instructions executed inside the C
library's memcpy/memmove/mempcpy (every variant, whoever calls it: the client, the library, the
allocator's realloc) per extra record, (Ir(N2) - Ir(N1)) / (N2 - N1), are divided by the
instructions of one memcpy of the value measured the same way (a small C program under the same
callgrind settings); --copy-runs such pairs give a median (min-max). Why this way: instruction
counts are exact where sampling (perf) is noisy with few records on a shared 2-CPU machine, the
difference of two runs cancels start-up (imports, connection), and it counts bytes moved whatever
the copy's size. Copies made once per record come out as whole numbers; buffer moves that depend
on timing (a write buffer grown by realloc) come in fractions that vary from run to run.
That last part needs care: glibc copies small blocks with vector loops (about 0.1 instruction per
byte under valgrind) and large ones with `rep movsb` (one counted instruction per byte), the switch
at a threshold near 8-16 KiB, so a 16 KiB value copied as two 8 KiB pieces would look like a tenth of
a copy. The callgrind runs therefore set GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=512
(glibc's minimum) and a non-temporal threshold out of reach: every copy over 512 bytes then costs
one instruction per byte, so the instruction ratio is a byte ratio (the calibration table in the
report shows it at the value size and at a quarter of it). Not counted: copies the compiler inlines
(fixed small sizes: headers, not values), and the kernel's copy of the request into the socket
(write/sendmsg), which every client makes once. The callers of memcpy (callgrind's caller tree) are
listed beside each figure, so the report says which code made each copy.

Usage: bench/large_records.py [--runs K] [--records N | --mib M] [--sizes 16384,1048576]
                              [--clients a,b,...] [--sinks null,broker] [--copy-mib N1,N2]
                              [--copy-runs R] [--no-copies] [--port P] [--python PY] [--report-only]
Needs `cargo build --release -p rafka -p rafka-cli -p rafka-nullsink`, a C compiler, librdkafka-dev
(pkg-config rdkafka), a JDK (the broker), valgrind (the copies), and a Python with rafka
(`pip install ./bindings/python`) and confluent-kafka: --python, default $PYTHON or this Python.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from rafkatools.bench import (ROOT, build_producer_bench, git_describe, machine_meta, perf_summaries, rafka_binary,  # noqa: E402
                              run_measured, sh_out, spread, write_json, write_markdown_keeping_notes)
from rafkatools.cluster import KafkaError, LocalKafka  # noqa: E402
from suite import broker_jit_cpu_s  # noqa: E402

OUT = ROOT / "bench" / "results" / "large-records"
MIB = 1 << 20
BROKER_STATE = "/tmp/rafka-kafka-largebench"
BROKER_LOG_DIR = "/dev/shm/rafka-largebench-log"
PARTITIONS = 6
IOV_PIECES = 2
# The callgrind runs: every memcpy over 512 B through `rep movsb` (see the docstring).
COPY_TUNABLES = "glibc.cpu.x86_rep_movsb_threshold=512:glibc.cpu.x86_non_temporal_threshold=0xffffffffffff"
COPY_FUNCTION = re.compile(r"^(__)?mem(cpy|move|pcpy)")  # __memmove_avx_unaligned_erms, memcpy@@GLIBC_2.14, ...

# name: (label, kind, what): kind "c" (producer_bench.c: "rafka" or "librdkafka" build), "py"
# (produce_bench.py: its --client and --value-type), "perf" (rafka perf).
CLIENTS = {
    "rafka-c": ("rafka, C API (rafka_produce, F_COPY)", "c", ("rafka", [])),
    "rafka-c-iov": (f"rafka, C API (rafka_produce_iov, {IOV_PIECES} pieces)", "c", ("rafka", ["--iov", str(IOV_PIECES)])),
    "librdkafka": ("librdkafka, C (F_COPY)", "c", ("librdkafka", [])),
    "rafka-py": ("rafka, Python (bytes)", "py", ("rafka", "bytes")),
    "rafka-py-bytearray": ("rafka, Python (bytearray)", "py", ("rafka", "bytearray")),
    "rafka-py-memoryview": ("rafka, Python (memoryview)", "py", ("rafka", "memoryview")),
    "confluent-kafka": ("confluent-kafka (bytes)", "py", ("confluent-kafka", "bytes")),
    "confluent-kafka-bytearray": ("confluent-kafka (bytearray)", "py", ("confluent-kafka", "bytearray")),
    "confluent-kafka-memoryview": ("confluent-kafka (memoryview)", "py", ("confluent-kafka", "memoryview")),
    "rafka-perf": ("rafka perf (Rust API)", "perf", None),
}
LIBRDKAFKA_CLIENTS = {"librdkafka", "confluent-kafka", "confluent-kafka-bytearray", "confluent-kafka-memoryview"}
# The goal's comparisons: (rafka client, its librdkafka-based peer).
PEERS = [("rafka-c", "librdkafka"), ("rafka-c-iov", "librdkafka"), ("rafka-perf", "librdkafka"),
         ("rafka-py", "confluent-kafka"), ("rafka-py-bytearray", "confluent-kafka"), ("rafka-py-memoryview", "confluent-kafka")]

# Where the value is copied, read from the code (ffi/src/produce.rs, core/src/producer/send.rs,
# core/src/accumulator.rs, core/src/io/batch.rs, core/src/io/connection.rs,
# bindings/python/src/buffers.rs and producer.rs), and librdkafka's documented behaviour.
CODE_PATH_NOTES = [
    "- **rafka, every API** (core/src/producer/send.rs): `send()` allocates the record's node "
    "(`PendingRecord::new`, core/src/accumulator.rs) and encodes key, value and headers into it "
    "(`encode_record_body_uninit`): copy 1, on the application's thread. When the batch goes out, the I/O thread "
    "writes every record body into the connection's write buffer (`ProducerBatch::encode` -> `write_record`, "
    "core/src/io/batch.rs, into `Connection::wbuf` from core/src/io/sender.rs): copy 2. The socket write is then "
    "the kernel's copy (not counted). When a write stops part-way with over 1 MiB written and less than half the "
    "buffer left, `flush_socket` moves the unwritten tail to the front (`Vec::drain`, core/src/io/connection.rs, "
    "`Connection::flush` among the callers); and when requests queue behind a socket that takes them slower than "
    "they come, `wbuf` grows by reallocation, which moves what it holds (`_mi_theap_realloc_zero`, mimalloc's "
    "realloc): parts of further copies that 1 MiB records hit, depending on timing. So rafka's own path makes two copies "
    "of every value, not one: the record node is the copy the goal allows; the request buffer is the one a "
    "gathered write (writev of the batch header and the record bodies in place) would remove.",
    "- **rafka, C iovec path** (`rafka_produce_iov`, ffi/src/produce.rs `gathered`): two or more pieces are first "
    "joined in a thread-local scratch `Vec` (copy 1), which is then handed to the same `send()` (copies 2 and 3 "
    "above): three copies, as include/rafka.h says; a single piece goes to `send()` as it is (two copies). The "
    "scratch buffer is dropped after any value over 1 MiB of capacity, so values above 1 MiB also pay its "
    "allocation (and its growth by reallocation) on every call.",
    "- **rafka, Python** (bindings/python/src/buffers.rs): `bytes` and `str` are borrowed as they are; a `bytearray`, "
    "a `memoryview` or any other contiguous buffer is borrowed through `PyObject_GetBuffer` while the GIL is held "
    "(`produce()` never releases it: `try_send_with_opaque`); only a non-contiguous buffer is copied first: "
    "`produce()` itself adds no copy. The delivery report does: `message_data` (bindings/python/src/delivery.rs) "
    "copies the record's key, value and headers out of the engine's record into an `OwnedRecord` "
    "(`Delivery::to_owned_record`, core/src/record.rs) for `Message.value()`, for every record with a callback, "
    "whether or not the callback reads the value: a third copy. Handing the record's own buffer to the report "
    "(it is freed right after) instead would remove it.",
    "- **librdkafka and confluent-kafka**: RD_KAFKA_MSG_F_COPY (the C harness; confluent-kafka always passes it) "
    "copies the value into the message (copy 1). When the request is built, librdkafka copies a value into the "
    "request buffer only if it is at most `message.copy.max.bytes` (default 65535) *and* the buffer, sized when the "
    "request is started, still has room for it; otherwise it sends the value by reference (an iovec entry pointing "
    "at the message; rdkafka_msgset_writer.c). With one record per batch (this "
    "benchmark's settings) the 16 KiB values went by reference too in the runs made while this script was written "
    "(about 1.0 copy; the copies column has this run's figure). confluent-kafka adds one: its delivery "
    "report's Message gets the value as a new `bytes` (`PyBytes_FromStringAndSize`), read or not. Its `produce()` takes only "
    "`bytes` and `str` (its argument parsing wants a read-only bytes-like object with no buffer to release: a "
    "TypeError for bytearray and memoryview, reported as unavailable).",
]


# ---------------------------------------------------------------------------------------------
# Settings and commands


def settings_for(size: int, batch_size: int, buffer: int) -> dict:
    """The settings every client gets, in the Java spelling; `limit` raised alike for large values."""
    s = {"acks": "all", "enable.idempotence": "true", "linger.ms": "5", "batch.size": str(batch_size),
         "buffer.memory": str(buffer)}
    limit = raised_limit(size)
    if limit:
        s["max.request.size"] = str(limit)
    return s


def raised_limit(size: int):
    """None for values that fit the default limits, else the raised limit (bytes)."""
    return max(2 * MIB, 2 * size) if size > 512 * 1024 else None


def librdkafka_names(s: dict) -> dict:
    """librdkafka's names: the buffer bound in KiB (with a record count out of reach), the request
    size bound as message.max.bytes (what librdkafka calls Java's max.request.size)."""
    s = dict(s)
    s["queue.buffering.max.kbytes"] = str(int(s.pop("buffer.memory")) // 1024)
    s["queue.buffering.max.messages"] = "10000000"
    if "max.request.size" in s:
        s["message.max.bytes"] = s.pop("max.request.size")
    return s


class Bench:
    def __init__(self, a, bins: dict, rafka: str):
        self.a, self.bins, self.rafka = a, bins, rafka
        ncpu = os.cpu_count() or 1
        half = max(1, ncpu // 2)
        self.sink_cpus = f"0-{half - 1}" if ncpu >= 2 else None
        self.client_cpus = f"{half}-{ncpu - 1}" if ncpu >= 2 else None

    def records(self, size: int) -> int:
        return self.a.records or max(1, self.a.mib * MIB // size)

    def warmup(self, size: int) -> int:
        return min(self.records(size), max(1, self.a.warmup_mib * MIB // size))

    def command(self, client: str, bootstrap: str, size: int, records: int, warmup: int) -> list:
        topic = topic_for(size)
        s = settings_for(size, self.a.batch_size, self.a.buffer_mib * MIB)
        if client in LIBRDKAFKA_CLIENTS:
            s = librdkafka_names(s)
        _, kind, what = CLIENTS[client]
        if kind == "perf":
            return [self.rafka, "perf", "--topic", topic, "--num-records", str(records + warmup), "--record-size", str(size),
                    "--throughput", "-1", *(["--warmup-records", str(warmup)] if warmup else []),
                    "--producer-props", f"bootstrap.servers={bootstrap}", *[f"{k}={v}" for k, v in s.items()]]
        args = ["--bootstrap", bootstrap, "--topic", topic, "--records", str(records), "--size", str(size),
                "--threads", "1", "--keys", "0", "--warmup", str(warmup)]
        for k, v in s.items():
            args += ["--set", f"{k}={v}"]
        if kind == "c":
            build, extra = what
            return [self.bins[build], *args, *extra]
        module, value_type = what
        return [self.a.python, str(ROOT / "bench" / "python" / "produce_bench.py"), "--client", module,
                "--value-type", value_type, *args]

    def run(self, client: str, bootstrap: str, size: int, records: int, warmup: int, prefix=()) -> dict:
        """One run: {"unavailable": why}, or the figures; a failed run raises with its output."""
        cmd = [*prefix, *self.command(client, bootstrap, size, records, warmup)]
        m = run_measured(cmd, self.client_cpus, self.a.timeout)
        what = f"{client} ({size} B values, {records} records)"
        if CLIENTS[client][1] == "perf":
            if m.code != 0:
                raise RuntimeError(f"{what} failed (exit {m.code}): {' '.join(cmd)}\n{m.out[-3000:]}\n{m.err[-3000:]}")
            found = perf_summaries(m.out)
            steady = [x for x in found if x.group(2)] if warmup else found
            if not steady:
                raise RuntimeError(f"{what}: no summary line in its output:\n{m.out[-3000:]}\n{m.err[-3000:]}")
            acked, rate = int(steady[-1].group(1)), float(steady[-1].group(3))
            r = {"acked": acked, "failed": 0, "seconds": acked / rate if rate else 0.0}
        else:
            lines = [line for line in m.out.splitlines() if line.startswith("{")]
            r = json.loads(lines[-1]) if lines else None
            if m.code == 3 and r and "unavailable" in r:
                return {"unavailable": r["unavailable"]}
            if m.code != 0 or r is None or r.get("failed") or r.get("acked") != records or not r.get("seconds"):
                raise RuntimeError(f"{what} failed (exit {m.code}): {' '.join(cmd)}\n{m.out[-3000:]}\n{m.err[-3000:]}")
        if r["acked"] != records:
            raise RuntimeError(f"{what}: {r['acked']} of {records} records acknowledged:\n{m.out[-3000:]}")
        return {"records": records, "warmup": warmup, "acked": r["acked"], "seconds": r["seconds"], "cpu_s": m.cpu_s,
                "wall_s": m.wall_s, "peak_rss_kib": m.peak_rss_kib, "p50_ms": r.get("p50_ms"), "p99_ms": r.get("p99_ms")}


def topic_for(size: int) -> str:
    return f"large-{size}-p{PARTITIONS}"  # the null sink gives NAME-p<N> N partitions


# ---------------------------------------------------------------------------------------------
# Sinks


def start_nullsink(binary: str, cpus) -> tuple:
    cmd = [binary, "--partitions", str(PARTITIONS)]
    if cpus and shutil.which("taskset"):
        cmd = ["taskset", "-c", cpus, *cmd]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().strip()
    if not line.startswith("bootstrap.servers="):
        p.kill()
        raise RuntimeError(f"rafka-nullsink did not start: {line!r}")
    return p, line.split("=", 1)[1]


def stop_nullsink(p) -> None:
    p.stdin.close()  # the sink runs until its stdin closes
    p.stdout.read()
    p.wait(timeout=30)


def start_broker(kafka: LocalKafka, port: int, cpus) -> str:
    shutil.rmtree(BROKER_LOG_DIR, ignore_errors=True)
    bootstrap = kafka.up(port=port, settings=[f"log.dirs={BROKER_LOG_DIR}", "log.retention.check.interval.ms=2000",
                                              "log.segment.delete.delay.ms=1000"]).bootstrap
    if cpus and shutil.which("taskset"):
        for pid in kafka.pids():
            r = subprocess.run(["taskset", "-a", "-p", "-c", cpus, str(pid)], capture_output=True, text=True)
            print(f"broker pid {pid} pinned to CPUs {cpus}" if r.returncode == 0 else f"taskset: {r.stderr.strip()}", flush=True)
    return bootstrap


def stop_broker(kafka: LocalKafka) -> None:
    try:
        kafka.down()
    except KafkaError as e:
        print(f"stopping the benchmark broker failed: {e}", file=sys.stderr, flush=True)
    shutil.rmtree(BROKER_LOG_DIR, ignore_errors=True)


def broker_topic(kafka: LocalKafka, size: int) -> None:
    """6 partitions, a short retention (the log is on tmpfs), max.message.bytes raised as the clients' limit."""
    configs = {"retention.bytes": str(64 * MIB), "segment.bytes": str(16 * MIB)}
    limit = raised_limit(size)
    if limit:
        configs["max.message.bytes"] = str(limit)
    kafka.create_topic(topic_for(size), PARTITIONS, configs=configs)
    time.sleep(3)  # CreateTopics answers before every partition has its leader


# ---------------------------------------------------------------------------------------------
# Measuring


def measure_sink(bench: Bench, sink: str, bootstrap: str, clients: list, sizes: list, doc: dict) -> None:
    """--runs rounds per size, every available client once per round, the first client rotating."""
    a = bench.a
    for size in sizes:
        key = str(size)
        runs = doc["runs"][sink].setdefault(key, {c: [] for c in clients})
        unavailable = doc["unavailable"][sink].setdefault(key, {})
        baseline = doc["baseline_cpu_s"][sink].setdefault(key, {})
        for c in clients:  # start-up CPU: the same client sending one record
            r = bench.run(c, bootstrap, size, 1, 0)
            if "unavailable" in r:
                unavailable[c] = r["unavailable"]
                print(f"[{sink}] {size} B {c}: unavailable: {r['unavailable']}", flush=True)
            else:
                baseline[c] = r["cpu_s"]
        live = [c for c in clients if c not in unavailable]
        for run in range(a.runs):
            order = live[run % len(live):] + live[:run % len(live)] if live else []
            for c in order:
                r = bench.run(c, bootstrap, size, bench.records(size), bench.warmup(size))
                if "unavailable" in r:
                    raise RuntimeError(f"{c} was available for one record but not for a run: {r['unavailable']}")
                r["run"] = run
                r["records_per_s"] = r["acked"] / r["seconds"]
                r["mib_per_s"] = r["records_per_s"] * size / MIB
                r["cpu_us_per_record"] = max(0.0, r["cpu_s"] - baseline[c]) * 1e6 / (r["acked"] + r["warmup"])
                runs[c].append(r)
                print(f"[{sink}] {size:>8} B {c:27} run {run + 1}: {r['records_per_s']:>10,.0f} rec/s "
                      f"{r['mib_per_s']:8.1f} MiB/s {r['cpu_us_per_record']:9.2f} us/rec "
                      f"RSS {r['peak_rss_kib'] / 1024:6.0f} MiB", flush=True)


def warm_broker(bench: Bench, bootstrap: str, kafka: LocalKafka, clients: list, size: int) -> list:
    """Unmeasured rounds (every client once) until the broker's JIT compiler threads used under 0.2 s
    of CPU in a round, or --broker-warmup-rounds rounds: a fresh broker pinned to one CPU is slow
    until its JIT has compiled the produce path, and the first clients measured would pay for it.
    Each client sends a quarter of a run's records in a round."""
    rounds = []
    for rnd in range(1, bench.a.broker_warmup_rounds + 1):
        jit0, t0 = broker_jit_cpu_s(kafka), time.monotonic()
        for c in clients:
            r = bench.run(c, bootstrap, size, max(1, bench.records(size) // 4), 0)
            if "unavailable" in r:
                continue
        jit = broker_jit_cpu_s(kafka) - jit0
        rounds.append({"round": rnd, "seconds": time.monotonic() - t0, "jit_cpu_s": jit})
        print(f"-- warming the broker up, round {rnd}: {time.monotonic() - t0:.1f} s, JIT compiler threads {jit:.2f} s CPU",
              flush=True)
        if jit < 0.2:
            break
    return rounds


def callgrind_copy_ir(path: Path) -> tuple:
    """(Ir in the copy functions, total Ir, {caller: Ir of its calls into copy functions}) of one
    callgrind output file, read through callgrind_annotate's caller tree (exclusive cost of each
    function, with the inclusive cost of the calls each caller made into it)."""
    out = subprocess.run(["callgrind_annotate", "--tree=caller", "--threshold=100", str(path)], check=True,
                         capture_output=True, text=True).stdout
    total, copy_ir, callers, pending = 0, 0, {}, []
    for line in out.splitlines():
        m = re.match(r"^\s*([\d,]+)\s+(?:\(\s*[\d.]+%\)\s+)?(.*)$", line)
        if not m:
            continue
        ir, rest = int(m.group(1).replace(",", "")), m.group(2)
        if rest.endswith("PROGRAM TOTALS"):
            total = ir
            continue
        if rest.startswith("<"):
            pending.append((ir, rest[1:].strip()))
            continue
        if rest.startswith("*"):
            fn = function_name(rest[1:].strip())
            if COPY_FUNCTION.match(fn):
                copy_ir += ir
                for cir, caller in pending:
                    name = function_name(caller)
                    if not COPY_FUNCTION.match(name):  # memcpy -> memmove inside libc is the same copy
                        callers[name] = callers.get(name, 0) + cir
            pending = []
            continue
        pending = []
    return copy_ir, total, callers


def function_name(entry: str) -> str:
    """"file:function (3x) [object]" -> "function"."""
    entry = re.sub(r"\s*\[[^\]]*\]$", "", entry)
    entry = re.sub(r"\s*\([\d,]+x\)$", "", entry)
    return entry.split(":", 1)[1] if ":" in entry and not entry.startswith("::") else entry


def valgrind_prefix(out_file: Path) -> list:
    return ["env", f"GLIBC_TUNABLES={COPY_TUNABLES}", "valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}"]


def calibrate(build: Path, sizes: list, workdir: Path) -> dict:
    """Ir of one memcpy of each size (and of a quarter of it), under the callgrind settings the
    clients run with: (Ir(K2 copies) - Ir(K1 copies)) / (K2 - K1) of a small C program."""
    src = workdir / "memcpy_cal.c"
    src.write_text(
        "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n"
        "int main(int argc, char **argv) {\n"
        "    long size = atol(argv[1]), n = atol(argv[2]), i;\n"
        "    char *src = malloc((size_t)size), *dst = malloc((size_t)size);\n"
        "    void *(*volatile copy)(void *, const void *, size_t) = memcpy; /* a real call, never inlined */\n"
        "    memset(src, 'A', (size_t)size);\n"
        "    for (i = 0; i < n; i++) copy(dst, src, (size_t)size);\n"
        "    printf(\"%d\\n\", dst[size - 1]);\n"
        "    free(src);\n    free(dst);\n    return 0;\n}\n")
    binary = build / "memcpy_cal"
    subprocess.run(["cc", "-O2", "-o", str(binary), str(src)], check=True)
    cal = {}
    for size in sorted({s for size in sizes for s in (size, max(1, size // 4))}):
        irs = []
        for k in (2, 12):
            f = workdir / f"cal.{size}.{k}"
            subprocess.run([*valgrind_prefix(f), str(binary), str(size), str(k)], check=True, capture_output=True)
            irs.append(callgrind_copy_ir(f)[0])
        cal[str(size)] = (irs[1] - irs[0]) / 10
        print(f"calibration: one memcpy of {size} B = {cal[str(size)]:,.0f} Ir ({cal[str(size)] / size:.3f} per byte)", flush=True)
    return cal


def copy_pair(bench: Bench, bootstrap: str, client: str, size: int, ns: tuple, warmup: int, one_copy_ir: float,
              workdir: Path) -> dict:
    """One measurement of the copies: the client under callgrind with N1 and then N2 records."""
    n1, n2 = ns
    workdir.mkdir(parents=True, exist_ok=True)
    got = []
    for n in ns:
        f = workdir / f"cg.{client}.{size}.{n}"
        t0 = time.monotonic()
        r = bench.run(client, bootstrap, size, n, warmup, prefix=valgrind_prefix(f))
        if "unavailable" in r:
            return {"unavailable": r["unavailable"]}
        got.append((*callgrind_copy_ir(f), time.monotonic() - t0))
        f.unlink()
    (c1, t1, callers1, s1), (c2, t2, callers2, s2) = got
    by_caller = {k: (callers2.get(k, 0) - callers1.get(k, 0)) / (n2 - n1) / one_copy_ir for k in set(callers1) | set(callers2)}
    by_caller = dict(sorted(((k, v) for k, v in by_caller.items() if abs(v) >= 0.02), key=lambda kv: -kv[1]))
    # The whole program's instructions are kept for reference only: under valgrind, threads waiting for
    # acknowledgements spin a varying number of instructions, so their difference is noisy (bench/callgrind
    # is the tool for instructions per record).
    return {"copies": (c2 - c1) / (n2 - n1) / one_copy_ir, "copy_ir": [c1, c2], "total_ir": [t1, t2],
            "by_caller": by_caller, "valgrind_s": [round(s1, 1), round(s2, 1)]}


def measure_copies(bench: Bench, bootstrap: str, clients: list, sizes: list, cal: dict, workdir: Path, known: dict) -> dict:
    """Copies of the value per record, per client and size (see the docstring); `known`: the
    clients already found unavailable, per sink and size (not run again)."""
    a = bench.a
    out = {}
    for size in sizes:
        out[str(size)] = {}
        for per_sink in known.values():
            for c, why in per_sink.get(str(size), {}).items():
                out[str(size)][c] = {"unavailable": why}
        n1, n2 = (max(1, int(mib * MIB) // size) for mib in a.copy_mib)
        if n2 <= n1:
            n2 = n1 + 1
        warmup = max(1, 2 * MIB // size)
        for c in [c for c in clients if c not in out[str(size)]]:
            pairs = []
            for rep in range(a.copy_runs):
                pair = copy_pair(bench, bootstrap, c, size, (n1, n2), warmup, cal[str(size)], workdir / f"{rep}")
                if "unavailable" in pair:
                    out[str(size)][c] = pair
                    break
                pairs.append(pair)
                print(f"copies: {size:>8} B {c:27} {pair['copies']:5.2f} copies of the value "
                      f"(callgrind {pair['valgrind_s'][0]:.0f} s + {pair['valgrind_s'][1]:.0f} s)", flush=True)
                for k, v in pair["by_caller"].items():
                    print(f"        {v:5.2f}  {k[:150]}", flush=True)
            if not pairs:
                continue
            middle = sorted(pairs, key=lambda x: x["copies"])[(len(pairs) - 1) // 2]  # the median run (the lower one of two)
            out[str(size)][c] = {"copies": spread(x["copies"] for x in pairs), "records": [n1, n2], "warmup": warmup, "by_caller": middle["by_caller"], "runs": pairs}
    return out


# ---------------------------------------------------------------------------------------------
# Main


def parse_list(text: str, what: str, conv=str) -> list:
    items = [x.strip() for x in text.split(",") if x.strip()]
    if not items:
        raise ValueError(f"{what}: empty list")
    try:
        return [conv(x) for x in items]
    except ValueError:
        raise ValueError(f"{what}: not a comma-separated list of numbers: {text}") from None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="measured runs per client, size and sink (default 5)")
    ap.add_argument("--records", type=int, default=0, help="records per run, every size (default: --mib of data)")
    ap.add_argument("--mib", type=int, default=1024, help="MiB of values per run when --records is not given (default 1024)")
    ap.add_argument("--warmup-mib", type=int, default=32, help="MiB of warm-up records before each run (at most --records)")
    ap.add_argument("--sizes", default="16384,1048576", help="value sizes in bytes (default 16384,1048576)")
    ap.add_argument("--clients", default=",".join(CLIENTS), help="comma-separated, of: " + ", ".join(CLIENTS))
    ap.add_argument("--sinks", default="null,broker", help="null, broker or both (default both)")
    ap.add_argument("--batch-size", type=int, default=16384)
    ap.add_argument("--buffer-mib", type=int, default=64)
    ap.add_argument("--copy-mib", default="4,24", help="MiB of values in the two callgrind runs (default 4,24)")
    ap.add_argument("--copy-runs", type=int, default=3, help="callgrind measurements (pairs of runs) per client and size (default 3)")
    ap.add_argument("--no-copies", action="store_true", help="skip the callgrind copy count")
    ap.add_argument("--port", type=int, default=19760, help="the broker's port (default 19760)")
    ap.add_argument("--broker-warmup-rounds", type=int, default=6, help="at most this many unmeasured rounds (default 6)")
    ap.add_argument("--python", default=os.environ.get("PYTHON", sys.executable), help="the Python with rafka and confluent-kafka")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds before a client is killed (default 1800)")
    ap.add_argument("--report-only", action="store_true", help="redo large-records.md from large-records.json; run nothing")
    a = ap.parse_args()
    if a.report_only:
        path = OUT.with_suffix(".json")
        if not path.exists():
            ap.error(f"--report-only: {path} does not exist (run the benchmark first)")
        return report(json.loads(path.read_text()))
    try:
        sizes = parse_list(a.sizes, "--sizes", int)
        clients = parse_list(a.clients, "--clients")
        sinks = parse_list(a.sinks, "--sinks")
        a.copy_mib = parse_list(a.copy_mib, "--copy-mib", float)
    except ValueError as e:
        ap.error(str(e))
    bad = [c for c in clients if c not in CLIENTS]
    if bad:
        ap.error(f"--clients: unknown {', '.join(bad)} (known: {', '.join(CLIENTS)})")
    if len(set(clients)) != len(clients):
        ap.error("--clients: a client is named twice")
    if [s for s in sinks if s not in ("null", "broker")] or len(set(sinks)) != len(sinks):
        ap.error(f"--sinks takes null, broker or null,broker, not {a.sinks}")
    if any(s < 1 for s in sizes) or len(set(sizes)) != len(sizes):
        ap.error("--sizes: each size a different number of bytes >= 1")
    if a.copy_runs < 1:
        ap.error("--copy-runs must be >= 1")
    if a.runs < 1 or a.records < 0 or a.mib < 1 or a.warmup_mib < 0 or a.batch_size < 1 or a.broker_warmup_rounds < 0:
        ap.error("--runs, --mib and --batch-size must be >= 1; --records, --warmup-mib and --broker-warmup-rounds >= 0")
    if len(a.copy_mib) != 2 or not 0 < a.copy_mib[0] < a.copy_mib[1]:
        ap.error("--copy-mib takes two sizes N1,N2 with 0 < N1 < N2")
    if a.buffer_mib * MIB < 4 * max(sizes):
        ap.error(f"--buffer-mib {a.buffer_mib}: the buffer must hold at least four of the largest values")
    if not 1024 <= a.port <= 65535:
        ap.error(f"--port must be between 1024 and 65535, not {a.port}")
    if not a.no_copies and not (shutil.which("valgrind") and shutil.which("callgrind_annotate")):
        ap.error("valgrind (callgrind) not found: install it, or pass --no-copies")
    py_modules = {CLIENTS[c][2][0] for c in clients if CLIENTS[c][1] == "py"}
    for module in sorted(py_modules):
        name = {"rafka": "rafka", "confluent-kafka": "confluent_kafka"}[module]
        p = subprocess.run([a.python, "-c", f"import {name}"], capture_output=True, text=True)
        if p.returncode != 0:
            ap.error(f"{a.python} cannot import {name} ({(p.stderr.strip().splitlines() or ['?'])[-1]}): pass --python "
                     f"with a Python that has it (pip install ./bindings/python confluent-kafka), or leave its clients out")

    target = Path(os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target")))
    rafka = rafka_binary()
    nullsink = target / "release" / "rafka-nullsink"
    if not nullsink.exists():
        sys.exit(f"{nullsink} not found: run `cargo build --release -p rafka-nullsink` first")
    built = build_producer_bench(target, "large_bench")
    bench = Bench(a, {"rafka": built["rafka"], "librdkafka": built["librdkafka"]}, rafka)
    load_before = os.getloadavg()
    started = time.monotonic()
    doc = {"runs": {s: {} for s in sinks}, "unavailable": {s: {} for s in sinks}, "baseline_cpu_s": {s: {} for s in sinks},
           "copies": {}, "calibration": {}, "broker_warmup": []}
    if "null" in sinks:
        proc, bootstrap = start_nullsink(str(nullsink), bench.sink_cpus)
        try:
            measure_sink(bench, "null", bootstrap, clients, sizes, doc)
        finally:
            stop_nullsink(proc)
    if "broker" in sinks:
        kafka = LocalKafka(BROKER_STATE)
        stop_broker(kafka)
        bootstrap = start_broker(kafka, a.port, bench.sink_cpus)
        try:
            for size in sizes:
                broker_topic(kafka, size)
            warmers = [c for c in clients if c not in doc["unavailable"].get("null", {}).get(str(min(sizes)), {})]
            doc["broker_warmup"] = warm_broker(bench, bootstrap, kafka, warmers, min(sizes))
            measure_sink(bench, "broker", bootstrap, clients, sizes, doc)
        finally:
            stop_broker(kafka)
    if not a.no_copies:
        with tempfile.TemporaryDirectory(prefix="large-records-cg-") as tmp:
            doc["calibration"] = calibrate(target / "bench", sizes, Path(tmp))
            proc, bootstrap = start_nullsink(str(nullsink), bench.sink_cpus)
            try:
                doc["copies"] = measure_copies(bench, bootstrap, clients, sizes, doc["calibration"], Path(tmp), doc["unavailable"])
            finally:
                stop_nullsink(proc)
    load_after = os.getloadavg()
    command = "bench/large_records.py " + " ".join(sys.argv[1:])
    doc["meta"] = machine_meta(
        commit=git_describe(), command=command.strip(), runs=a.runs, sizes=sizes, clients=clients, sinks=sinks,
        records={str(s): bench.records(s) for s in sizes}, warmup={str(s): bench.warmup(s) for s in sizes},
        settings={str(s): settings_for(s, a.batch_size, a.buffer_mib * MIB) for s in sizes},
        librdkafka_settings={str(s): librdkafka_names(settings_for(s, a.batch_size, a.buffer_mib * MIB)) for s in sizes},
        topic_max_message_bytes={str(s): raised_limit(s) for s in sizes}, partitions=PARTITIONS, iov_pieces=IOV_PIECES,
        copy_mib=a.copy_mib, copy_runs=a.copy_runs, copy_tunables=COPY_TUNABLES, sink_cpus=bench.sink_cpus, client_cpus=bench.client_cpus,
        librdkafka=sh_out("pkg-config", "--modversion", "rdkafka"),
        confluent_kafka=sh_out(a.python, "-c", "import confluent_kafka as c; v = c.version(); "
                               "print(v if isinstance(v, str) else v[0], 'with librdkafka', c.libversion()[0])")
        if "confluent-kafka" in py_modules else None,
        python=sh_out(a.python, "-c", "import sys; print(sys.version.split()[0])"),
        valgrind=sh_out("valgrind", "--version") if not a.no_copies else None,
        loadavg_before=load_before, loadavg_after=load_after, elapsed_s=round(time.monotonic() - started))
    doc["summary"] = summarize(doc)
    write_json(OUT.with_suffix(".json"), doc)
    report(doc)


def summarize(doc: dict) -> dict:
    out = {}
    for sink, per_size in doc["runs"].items():
        out[sink] = {}
        for size, per in per_size.items():
            out[sink][size] = {}
            for c, runs in per.items():
                if not runs:
                    continue
                out[sink][size][c] = {k: spread(r[k] for r in runs) for k in ("records_per_s", "mib_per_s", "cpu_us_per_record")}
                out[sink][size][c]["peak_rss_mib"] = spread(r["peak_rss_kib"] / 1024 for r in runs)
    return out


# ---------------------------------------------------------------------------------------------
# Report


def size_label(size) -> str:
    size = int(size)
    if size % MIB == 0:
        return f"{size // MIB} MiB"
    if size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size} B"


def fmt(s: dict, spec: str) -> str:
    return f"{s['median']:{spec}} ({s['min']:{spec}}-{s['max']:{spec}})"


def report(doc: dict) -> None:
    """large-records.md from the JSON document (--report-only redoes it from large-records.json)."""
    meta, summary, copies = doc["meta"], doc["summary"], doc.get("copies") or {}
    before, after = meta["loadavg_before"], meta["loadavg_after"]
    raised = {s: v for s, v in meta["topic_max_message_bytes"].items() if v}
    lines = ["# Large records: 16 KiB and 1 MiB values, rafka beside librdkafka (issue 24, goal 6)", "",
             f"Command: `{meta['command']}`, commit {meta['commit']}, {meta['cpu']}, {meta['cores']} cores, {meta['date']}, "
             f"{meta['elapsed_s'] / 60:.1f} min. librdkafka {meta['librdkafka']} (C harness)"
             + (f", confluent-kafka {meta['confluent_kafka']}" if meta.get("confluent_kafka") else "") + f", Python {meta['python']}.", "",
             "**Method.** Each client sends one value of the given size in every record (no key) to a 6-partition topic, "
             "from one thread, after a flushed warm-up (" + ", ".join(f"{size_label(s)}: {n} records" for s, n in meta["warmup"].items())
             + "), then " + ", ".join(f"{size_label(s)}: {n} records" for s, n in meta["records"].items())
             + f" per run; {meta['runs']} runs per client, size and sink, the client order rotated from run to run. Same "
             "settings for every client: acks=all with idempotence, linger.ms=5, batch.size="
             f"{next(iter(meta['settings'].values()))['batch.size']} (a record this large is a batch of its own in every client), "
             f"a buffer of {int(next(iter(meta['settings'].values()))['buffer.memory']) // MIB} MiB (librdkafka: "
             "queue.buffering.max.kbytes, and queue.buffering.max.messages=10000000). "
             + ("Size limits raised for " + ", ".join(f"{size_label(s)} values to {v:,} bytes" for s, v in raised.items())
                + ", alike for every client: max.request.size (rafka), message.max.bytes (librdkafka, confluent-kafka) and "
                "the topic's max.message.bytes on the broker; smaller values run with the default limits. " if raised else "")
             + "records/s and MiB/s: acknowledged records over the harness's timed window (to the end of flush). Client CPU "
             "per record: the client process's user+system time (wait4, its threads included) less that of a one-record run "
             "of the same client, over the records it sent (warm-up included). Peak RSS: ru_maxrss. Median (min-max). "
             f"Sink or broker on CPUs {meta['sink_cpus']}, client on CPUs {meta['client_cpus']} (taskset). "
             "Copies of the value: bytes moved by the C library's memcpy/memmove per record over the value's size, counted "
             "by callgrind against the null sink (see *Copies of the value* below).", "",
             f"**The machine was shared with other work** (load average {before[0]:.2f} / {before[1]:.2f} / {before[2]:.2f} "
             f"before, {after[0]:.2f} / {after[1]:.2f} / {after[2]:.2f} after, on {meta['cores']} cores): the figures compare "
             "the clients within this run only, not with other result files.", ""]
    sink_titles = {"null": "Null sink (`rafka-nullsink --partitions 6`): each client's own ceiling",
                   "broker": "Broker (one Kafka node of scripts/kafka, log on tmpfs)"}
    for sink in meta["sinks"]:
        lines += [f"## {sink_titles[sink]}", "",
                  "| value | client | records/s | MiB/s | client CPU us/record | peak RSS MiB | copies of the value |",
                  "|---|---|---|---|---|---|---|"]
        for size in map(str, meta["sizes"]):
            for c in meta["clients"]:
                cp = copies.get(size, {}).get(c, {})
                cps = f"{cp['copies']['median']:.2f}" if "copies" in cp else "-"
                why = doc["unavailable"].get(sink, {}).get(size, {}).get(c)
                s = summary.get(sink, {}).get(size, {}).get(c)
                if why:
                    lines.append(f"| {size_label(size)} | {CLIENTS[c][0]} | unavailable: {why} | | | | |")
                elif s:
                    lines.append(f"| {size_label(size)} | {CLIENTS[c][0]} | {fmt(s['records_per_s'], ',.0f')} | "
                                 f"{fmt(s['mib_per_s'], ',.0f')} | {fmt(s['cpu_us_per_record'], '.1f')} | "
                                 f"{fmt(s['peak_rss_mib'], '.0f')} | {cps} |")
        lines.append("")
    if copies:
        cal = doc["calibration"]
        lines += ["## Copies of the value", "",
                  "Each client ran under callgrind against the null sink with "
                  + " and ".join(f"{size_label(s)}: {v['records'][0]} and {v['records'][1]} records"
                                 for s, per in copies.items() for v in [x for x in per.values() if "records" in x][:1])
                  + f" (plus a warm-up), {meta['copy_runs']} times; the instructions executed in memcpy/memmove/mempcpy per "
                  "extra record, divided by those of one memcpy of the value, are the copies of the value: median (min-max) "
                  "of the measurements. The runs set "
                  f"`GLIBC_TUNABLES={meta['copy_tunables']}`, so every copy over 512 bytes goes through `rep movsb`, one counted "
                  "instruction per byte whatever its size (by default glibc's vector loop for blocks under about 16 KiB costs "
                  "a tenth of that, and a value copied in pieces would be undercounted). Calibration, one memcpy: "
                  + ", ".join(f"{int(s):,} B = {ir:,.0f} Ir ({ir / int(s):.3f}/B)" for s, ir in cal.items())
                  + ". Not counted: the kernel's copy into the socket (one per client), copies the compiler inlines "
                  "(fixed sizes, not values). 'By caller': the same figure split by the function that called memcpy "
                  "(callgrind's caller tree; 0.02 and up; from the median measurement). Copies made once per record (the "
                  "record's encoding, the request's) come out as whole numbers; buffer moves that depend on timing (a write "
                  "buffer grown by realloc, or its unsent tail moved by `Connection::flush`) come in fractions and vary between "
                  "measurements, and valgrind's timing (one thread at a time, far slower) is not the native one: read those "
                  "as a sign that the path can make them, not as their native rate. The system's librdkafka has no symbols "
                  "(its callers show as addresses); confluent-kafka's bundled one has them: its F_COPY copy is "
                  "`rd_kafka_msg_new0`.", "",
                  "| value | client | copies of the value | by caller |", "|---|---|---|---|"]
        for size, per in copies.items():
            for c, v in per.items():
                if "unavailable" in v:
                    lines.append(f"| {size_label(size)} | {CLIENTS[c][0]} | unavailable | |")
                    continue
                callers = "<br>".join(f"{x:.2f} `{k[:110]}`" for k, x in list(v["by_caller"].items())[:5])
                lines.append(f"| {size_label(size)} | {CLIENTS[c][0]} | **{fmt(v['copies'], '.2f')}** | {callers} |")
        lines.append("")
    lines += ["## The goal (issue 24, goal 6): at least librdkafka's records/s, with one copy of the value", "",
              "Ratios of medians; \"one copy\" means a measured figure under 1.5 copies.", ""]
    for sink in meta["sinks"]:
        for size in map(str, meta["sizes"]):
            per = summary.get(sink, {}).get(size, {})
            for c, peer in PEERS:
                if c not in per or peer not in per:
                    continue
                ratio = per[c]["records_per_s"]["median"] / per[peer]["records_per_s"]["median"]
                cpu = per[c]["cpu_us_per_record"]["median"] / max(per[peer]["cpu_us_per_record"]["median"], 1e-9)
                cp = copies.get(size, {}).get(c, {}).get("copies", {}).get("median")
                peer_cp = copies.get(size, {}).get(peer, {}).get("copies", {}).get("median")
                if cp is None:
                    verdict = "holds for records/s; copies not measured" if ratio >= 1 else "does not hold (records/s short)"
                else:
                    verdict = ("holds" if ratio >= 1 and cp < 1.5 else "does not hold" + (" (records/s short)" if ratio < 1 else "")
                               + (f" ({cp:.2f} copies)" if cp >= 1.5 else ""))
                copies_text = "" if cp is None else f", {cp:.2f} copies of the value against {peer_cp:.2f}" if peer_cp is not None else f", {cp:.2f} copies"
                lines.append(f"- {sink} sink, {size_label(size)}, {CLIENTS[c][0]} vs {CLIENTS[peer][0]}: {ratio:.2f}x the records/s, "
                             f"{cpu:.2f}x the CPU per record{copies_text}: **{verdict}**.")
    lines += ["", f"## Where the copies happen (read from the code at commit {meta['commit']})", "", *CODE_PATH_NOTES]
    # A hand-written section (what the figures mean for this commit) survives a rewrite.
    write_markdown_keeping_notes(OUT.with_suffix(".md"), lines)


if __name__ == "__main__":
    main()
