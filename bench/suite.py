#!/usr/bin/env python3
"""The benchmark suite behind bench/run: every client, every workload, against the null sink and
a real broker, in one run on one machine. Writes bench/results/REPORT.md, results.json and PNG
charts. A benchmark, not a test: nothing here asserts a speed.

Clients are child processes that take the same arguments and print one JSON line (bench/c,
bench/python, bench/java), or Kafka-style perf tools whose summary line is parsed (`rafka perf`,
Kafka's ProducerPerformance). Workloads are data (WORKLOADS below): a client that rejects a
workload's setting, or cannot express it (keys, threads), is reported as "not available" for that
workload rather than failing the run.

Method: the same settings for every client; payloads made before timing; a warm-up; clients
alternated run by run (the starting client rotates); median with min and max over the runs; sink
and client pinned to different CPUs (taskset) when there are at least two; only acknowledged
records counted. Client CPU per record is the child's user+system time (wait4) less that of a
one-record run of the same client (start-up, connection, JVM), divided by the records it sent.
"""
import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from rafkatools.bench import (RESULTS, ROOT, cpu_model, git_describe, java_version, perf_summaries, run_measured,  # noqa: E402
                              sh_out, spread)
from rafkatools.cluster import KafkaError, LocalKafka  # noqa: E402

BROKER_PORT = 19740
BROKER_STATE = "/tmp/rafka-bench"
BROKER_LOG_DIR = "/dev/shm/rafka-bench-log"

# What the perf tools print when they refuse a setting (rafka's config errors, Kafka's ConfigException).
REJECTED_SETTING = re.compile(r"(invalid value|unknown configuration key|ConfigException)[^\n]*")

# ---------------------------------------------------------------------------------------------
# Workloads: one factor at a time from a base (100 B, 6 partitions, acks=all with idempotence,
# uncompressed, keyless, one sending thread), linger.ms=5 and batch.size=16384 (Java's defaults)
# and a 32 MiB buffer for every client.

COMMON = {"linger.ms": "5", "batch.size": "16384", "buffer.memory": "33554432"}
ACKS_ALL = {"acks": "all", "enable.idempotence": "true"}
ACKS_1 = {"acks": "1", "enable.idempotence": "false"}


def wl(group, name, size=100, partitions=6, keys=0, threads=1, clients=None, **settings):
    s = dict(COMMON, **ACKS_ALL)
    s.update({k.replace("_", "."): v for k, v in settings.items()})
    return {"group": group, "name": name, "size": size, "partitions": partitions, "keys": keys, "threads": threads,
            "settings": s, "clients": clients}


KEYS = 10_000
WORKLOADS = [
    wl("base", "100 B"),
    wl("base", "1 KiB", size=1024),
    wl("acks", "acks=1", **ACKS_1),
    wl("acks", "acks=all+idempotence"),
    wl("acks", "acks=1, 1 KiB", size=1024, **ACKS_1),
    wl("partitions", "1 partition", partitions=1),
    wl("partitions", "6 partitions"),
    wl("compression", "lz4", compression_type="lz4"),
    wl("compression", "lz4, 1 KiB", size=1024, compression_type="lz4"),
    wl("keys", "keyless"),
    wl("keys", f"keyed ({KEYS:,} keys)", keys=KEYS),
    wl("threads", "1 thread", threads=1),
    wl("threads", "2 threads", threads=2),
    wl("threads", "4 threads", threads=4),
    *[wl("scaling", f"{p} partitions, keyed", partitions=p, keys=KEYS) for p in (1, 10, 100, 1000)],
    # Sizing figures for docs/tuning.md: rafka alone.
    *[wl("tuning", f"batch.size={b // 1024} KiB", batch_size=str(b), clients=["rafka-perf", "rafka-c"])
      for b in (16384, 65536, 262144)],
    *[wl("tuning", f"linger.ms={ms}", linger_ms=str(ms), clients=["rafka-perf", "rafka-c"]) for ms in (0, 5, 20)],
    *[wl("tuning", f"buffer.memory={m // 2**20} MiB", buffer_memory=str(m), clients=["rafka-perf", "rafka-c"])
      for m in (1 << 20, 4 << 20, 32 << 20)],
]
# The order of clients in the report (a merge appends re-run clients; this puts them back).
CLIENT_ORDER = ["rafka-perf", "rafka-c", "rafka-py", "rafka-jni", "librdkafka", "confluent-kafka", "java-perf", "java",
                "kafka-python"]
GROUPS = sorted({w["group"] for w in WORKLOADS}, key=[w["group"] for w in WORKLOADS].index)

PROFILES = {
    # records per run (100 B; 1 KiB gets a quarter), warm-up records, runs
    "quick": {"records": 20_000, "warmup": 2_000, "runs": 1},
    "full": {"records": 2_000_000, "warmup": 200_000, "runs": 5},
}
# Clients much slower than the rest send fewer records so a run takes similar time.
SLOW = {"kafka-python": 20, "rafka-py": 2, "confluent-kafka": 2}


# ---------------------------------------------------------------------------------------------
# Clients


class Env:
    """Paths of what bench/run built."""

    def __init__(self, a):
        target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release"
        self.rafka = target / "rafka"
        self.nullsink = target / "rafka-nullsink"
        self.build = Path(a.build_dir)
        self.python = a.python
        self.kafka_classpath = a.kafka_classpath
        self.rdkafka_version = os.environ.get("RAFKA_BENCH_RDKAFKA_VERSION", "?")
        self.jni_jars = sorted(str(p) for p in (ROOT / "bindings" / "java" / "target").glob("*.jar")
                               if not p.name.endswith(("-sources.jar", "-javadoc.jar", "-tests.jar")))


def librdkafka_settings(s):
    """librdkafka spells the buffer bound differently; everything else it takes as Java does."""
    s = dict(s)
    if "buffer.memory" in s:
        s["queue.buffering.max.kbytes"] = str(int(s.pop("buffer.memory")) // 1024)
        s["queue.buffering.max.messages"] = "10000000"
    return s


def harness_args(w, topic, bootstrap, records, warmup, settings):
    args = ["--bootstrap", bootstrap, "--topic", topic, "--records", str(records), "--size", str(w["size"]),
            "--threads", str(w["threads"]), "--keys", str(w["keys"]), "--warmup", str(warmup)]
    for k, v in settings.items():
        args += ["--set", f"{k}={v}"]
    return args


def perf_tool_args(w, topic, bootstrap, records, warmup, settings):
    """Kafka's perf-test flags. --warmup-records (both tools have it) makes the last summary line
    cover only the records after the warm-up; that is the line parse_output reads."""
    return ["--topic", topic, "--num-records", str(records + warmup), "--record-size", str(w["size"]), "--throughput", "-1",
            *(["--warmup-records", str(warmup)] if warmup else []),
            "--producer-props", f"bootstrap.servers={bootstrap}", *[f"{k}={v}" for k, v in settings.items()]]


class Client:
    """name, label, and how to build a command; `limits` lists what it cannot express."""

    def __init__(self, name, label, kind, build, missing=None, keys=True, threads=True, translate=None):
        self.name, self.label, self.kind, self.build = name, label, kind, build
        self.missing, self.keys, self.threads, self.translate = missing, keys, threads, translate or (lambda s: s)

    def unavailable(self, w):
        if self.missing:
            return self.missing
        if w["keys"] and not self.keys:
            return "no keyed records in this tool"
        if w["threads"] > 1 and not self.threads:
            return "single-threaded tool"
        return None

    def command(self, w, topic, bootstrap, records, warmup):
        return self.build(w, topic, bootstrap, records, warmup, self.translate(w["settings"]))


def clients(env):
    java_cp = env.kafka_classpath + ":" + str(env.build / "java")
    py = [env.python, str(ROOT / "bench" / "python" / "produce_bench.py")]

    def py_client(name, label, module, mod_name, translate=None):
        def build(w, t, b, n, wu, s):
            return py + ["--client", module, *harness_args(w, t, b, n, wu, s)]
        try:
            subprocess.run([env.python, "-c", f"import {mod_name}"], check=True, capture_output=True)
            missing = None
        except subprocess.CalledProcessError:
            missing = f"python module {mod_name} not installed (pip install -r bench/requirements.txt)"
        return Client(name, label, "harness", build, missing, translate=translate)

    jni_missing = None if env.jni_jars else "not built (no bindings/java/target/*.jar; mvn -f bindings/java package)"
    return [
        Client("rafka-perf", "rafka (Rust API, rafka perf)", "perf",
               lambda w, t, b, n, wu, s: [str(env.rafka), "perf", *perf_tool_args(w, t, b, n, wu, s)],
               keys=False, threads=False),
        Client("rafka-c", "rafka (C API)", "harness",
               lambda w, t, b, n, wu, s: [str(env.build / "bench_rafka"), *harness_args(w, t, b, n, wu, s)]),
        py_client("rafka-py", "rafka (Python)", "rafka", "rafka"),
        Client("rafka-jni", "rafka (JVM, JNI)", "harness",
               lambda w, t, b, n, wu, s: ["java", "-cp", ":".join([java_cp, *env.jni_jars]), "ProducerBench",
                                          "--producer-class", "io.rafka.RafkaProducer", *harness_args(w, t, b, n, wu, s)],
               missing=jni_missing),
        Client("librdkafka", f"librdkafka {env.rdkafka_version} (C)", "harness",
               lambda w, t, b, n, wu, s: [str(env.build / "bench_rdkafka"), *harness_args(w, t, b, n, wu, s)],
               translate=librdkafka_settings),
        py_client("confluent-kafka", "confluent-kafka (Python)", "confluent-kafka", "confluent_kafka", librdkafka_settings),
        Client("java-perf", "Java producer (ProducerPerformance)", "perf",
               lambda w, t, b, n, wu, s: ["java", "-cp", env.kafka_classpath, "org.apache.kafka.tools.ProducerPerformance",
                                          *perf_tool_args(w, t, b, n, wu, s)],
               keys=False, threads=False),
        Client("java", "Java producer (same loop as JNI)", "harness",
               lambda w, t, b, n, wu, s: ["java", "-cp", java_cp, "ProducerBench", "--producer-class",
                                          "org.apache.kafka.clients.producer.KafkaProducer", *harness_args(w, t, b, n, wu, s)]),
        py_client("kafka-python", "kafka-python", "kafka-python", "kafka"),
    ]


# ---------------------------------------------------------------------------------------------
# Running


def parse_output(client, out):
    if client.kind == "perf":
        lines = [m for m in perf_summaries(out) if m.group(5) is not None]  # with latencies
        if not lines:
            return None
        m = lines[-1]
        acked, rate = int(m.group(1)), float(m.group(3))
        return {"acked": acked, "failed": 0, "records_per_sec": rate,
                "seconds": acked / rate if rate else 0,
                "p50_ms": float(m.group(7)), "p99_ms": float(m.group(9))}
    for line in reversed(out.splitlines()):
        if line.startswith("{"):
            r = json.loads(line)
            if "unavailable" not in r and r.get("seconds"):
                r["records_per_sec"] = r["acked"] / r["seconds"]
            return r
    return None


class Suite:
    def __init__(self, a, env):
        self.a, self.env = a, env
        self.clients = [c for c in clients(env) if not a.clients or c.name in a.clients]
        self.workloads = [w for w in WORKLOADS if (not a.groups or w["group"] in a.groups)
                          and (not a.workloads or w["name"] in a.workloads)]
        ncpu = os.cpu_count() or 1
        half = max(1, ncpu // 2)
        self.sink_cpus = f"0-{half - 1}" if ncpu >= 2 else None
        self.client_cpus = f"{half}-{ncpu - 1}" if ncpu >= 2 else None
        self.baseline = {}  # (client, sink) -> (cpu seconds, rss) of a one-record run
        self.results = []

    def log(self, msg):
        print(msg, flush=True)

    def records_for(self, client, w):
        n = self.a.records // (4 if w["size"] >= 1024 else 1)
        return max(1, n // SLOW.get(client.name, 1))

    def topic(self, sink, w):
        slug = re.sub(r"[^a-z0-9]+", "-", f"{w['group']}-{w['name']}".lower()).strip("-")
        return f"bench-{slug}-p{w['partitions']}"

    def run_one(self, client, w, sink, bootstrap, records, warmup):
        cmd = client.command(w, self.topic(sink, w), bootstrap, records, warmup)
        m = run_measured(cmd, self.client_cpus, self.a.timeout)
        code, out, err, wall, cpu, rss = m.code, m.out, m.err, m.wall_s, m.cpu_s, m.peak_rss_kib
        r = parse_output(client, out)
        if code == 3 and r and "unavailable" in r:
            return {"unavailable": r["unavailable"]}
        rejected = REJECTED_SETTING.search(err) if client.kind == "perf" and code != 0 else None
        if rejected:
            return {"unavailable": rejected.group(0)[:300]}
        if r is None or (code != 0 and not r.get("acked")):
            tail = (err.strip().splitlines() or out.strip().splitlines() or ["?"])[-1][:300]
            return {"error": f"exit {code}: {tail}"}
        r.update(cpu_s=cpu, peak_rss_kib=rss, wall_s=wall, warmup=warmup)
        return r

    def baseline_for(self, client, w, sink, bootstrap):
        key = (client.name, sink)
        if key not in self.baseline:
            r = self.run_one(client, dict(w, threads=1, keys=0), sink, bootstrap, 1, 0)
            self.baseline[key] = r.get("cpu_s", 0.0) if "acked" in r else 0.0
        return self.baseline[key]

    def run_workload(self, w, sink, bootstrap):
        chosen = [c for c in self.clients if not w["clients"] or c.name in w["clients"]]
        runs = {c.name: [] for c in chosen}
        notes = {}
        for c in chosen:
            why = c.unavailable(w)
            if why:
                notes[c.name] = f"not available: {why}"
        live = [c for c in chosen if c.name not in notes]
        for run in range(self.a.broker_runs if sink == "broker" else self.a.runs):
            order = live[run % len(live):] + live[:run % len(live)] if live else []
            for c in order:
                if c.name in notes:
                    continue
                records = self.records_for(c, w)
                warmup = self.a.warmup // SLOW.get(c.name, 1)
                r = self.run_one(c, w, sink, bootstrap, records, warmup)
                if "acked" not in r:
                    notes[c.name] = ("not available: " + r["unavailable"]) if "unavailable" in r else r["error"]
                    self.log(f"  {w['name']:28} {c.name:16} {notes[c.name]}")
                    continue
                base = self.baseline_for(c, w, sink, bootstrap)
                sent = r["acked"] + r["warmup"]
                r["cpu_us_per_record"] = max(0.0, r["cpu_s"] - base) * 1e6 / max(1, sent)
                r["mib_per_sec"] = r["records_per_sec"] * w["size"] / 2**20
                runs[c.name].append(r)
                self.log(f"  {w['name']:28} {c.name:16} run {run + 1}: {r['records_per_sec']:>12,.0f} rec/s "
                         f"{r['cpu_us_per_record']:6.2f} us/rec  p99 {r['p99_ms']:.1f} ms  {r['peak_rss_kib'] / 1024:.0f} MiB")
        for c in chosen:
            rs = runs[c.name]
            entry = {"sink": sink, "group": w["group"], "workload": w["name"], "client": c.name, "label": c.label,
                     "size": w["size"], "partitions": w["partitions"], "keys": w["keys"], "threads": w["threads"],
                     "settings": w["settings"], "runs": rs}
            if rs and c.name not in notes:
                def stat(k):
                    return spread(x[k] for x in rs)
                entry.update({k: stat(k) for k in ("records_per_sec", "mib_per_sec", "cpu_us_per_record", "p50_ms", "p99_ms")})
                entry["peak_rss_mib"] = stat("peak_rss_kib")
                entry["peak_rss_mib"] = {k: v / 1024 for k, v in entry["peak_rss_mib"].items()}
            else:
                entry["note"] = notes.get(c.name, "no run")
            self.results.append(entry)

    def warm_broker(self, bootstrap):
        """A fresh broker is slow until its JIT has compiled the produce path: pinned to one CPU, its
        compiler threads take CPU from the request handlers for tens of seconds, and the earliest
        measured runs pay for it (seen: librdkafka 312k rec/s in run 1, 997k in run 5). Rounds of
        unmeasured runs (one per client, on their own topic) go on until a round in which the
        compiler threads used under 0.2 s of CPU, or 8 rounds. Every chosen client but kafka-python
        (too slow to help) takes part, with the share of records it has in measured runs."""
        w = dict(WORKLOADS[0], group="warm-up", name="broker")
        broker_topic(self.topic("broker", w), w["partitions"])
        warmers = [c for c in self.clients if c.name != "kafka-python" and not c.unavailable(w)]  # it is too slow to help
        for rnd in range(1, 9):
            jit0, t0 = broker_jit_cpu_s(), time.monotonic()
            for c in warmers:
                self.run_one(c, w, "broker", bootstrap, self.a.records // SLOW.get(c.name, 1), self.a.warmup)
            jit = broker_jit_cpu_s() - jit0
            self.log(f"-- warming the broker up, round {rnd} ({', '.join(c.name for c in warmers)}): "
                     f"{time.monotonic() - t0:.1f} s, JIT compiler threads {jit:.2f} s CPU")
            if jit < 0.2:
                break

    def run_sink(self, sink, bootstrap, create_topic):
        """Runs every selected workload; one that repeats an earlier one (the base case appears in
        several groups) is not run again: its figures are copied under the new group and name."""
        self.log(f"== sink: {sink} ({bootstrap})")
        done = {}
        for w in self.workloads:
            same = (w["size"], w["partitions"], w["keys"], w["threads"], tuple(sorted(w["settings"].items())))
            earlier = done.get(same)
            wanted = set(w["clients"] or [c.name for c in self.clients])
            if earlier and wanted <= {r["client"] for r in earlier}:
                self.log(f"-- {w['group']}: {w['name']} (same as {earlier[0]['group']}: {earlier[0]['workload']})")
                self.results += [dict(r, group=w["group"], workload=w["name"], same_as=f"{r['group']}: {r['workload']}")
                                 for r in earlier if r["client"] in wanted]
                continue
            create_topic(self.topic(sink, w), w["partitions"])
            self.log(f"-- {w['group']}: {w['name']} ({time.strftime('%H:%M:%S')})")
            first = len(self.results)
            self.run_workload(w, sink, bootstrap)
            done.setdefault(same, []).extend(self.results[first:])


def result_rank(r, group_order):
    """Where a row goes in the report: null sink first, then by group, workload and client."""
    wl = next((i for i, w in enumerate(WORKLOADS) if w["group"] == r["group"] and w["name"] == r["workload"]), 99)
    client = CLIENT_ORDER.index(r["client"]) if r["client"] in CLIENT_ORDER else 99
    return (r["sink"] != "null", group_order.get(r["group"], 99), wl, client)


def refresh_copies(results):
    """Rows copied from an identical workload (`same_as`) take the figures of that workload's
    current rows: after a merge, the copies of a re-run workload must not keep the old ones."""
    by = {(r["sink"], f"{r['group']}: {r['workload']}", r["client"]): r for r in results if "same_as" not in r}
    out = []
    for r in results:
        src = by.get((r["sink"], r.get("same_as"), r["client"]))
        out.append(dict(src, group=r["group"], workload=r["workload"], same_as=r["same_as"]) if src else r)
    return out


# ---------------------------------------------------------------------------------------------
# Sinks


def start_nullsink(env, cpus):
    cmd = [str(env.nullsink), "--partitions", "6"]
    if cpus and shutil.which("taskset"):
        cmd = ["taskset", "-c", cpus, *cmd]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().strip()
    if not line.startswith("bootstrap.servers="):
        raise RuntimeError(f"rafka-nullsink did not start: {line}")
    return p, line.split("=", 1)[1]


def stop_nullsink(p):
    p.stdin.close()
    stats = p.stdout.readline().strip()
    p.wait(timeout=10)
    return json.loads(stats) if stats.startswith("{") else {}


BROKER = LocalKafka(BROKER_STATE)


def start_broker(cpus):
    shutil.rmtree(BROKER_LOG_DIR, ignore_errors=True)
    stop_broker()
    bootstrap = BROKER.up(port=BROKER_PORT, settings=[f"log.dirs={BROKER_LOG_DIR}", "log.retention.check.interval.ms=10000",
                                                      "log.segment.bytes=33554432"]).bootstrap
    if cpus and shutil.which("taskset"):
        for node, pid in enumerate(BROKER.pids(), start=1):
            r = subprocess.run(["taskset", "-a", "-p", "-c", cpus, str(pid)], capture_output=True, text=True)
            print(f"broker node-{node} pinned to CPUs {cpus}" if r.returncode == 0 else f"taskset: {r.stderr.strip()}",
                  flush=True)
    return bootstrap


def broker_jit_cpu_s(kafka=None):
    """CPU seconds the broker JVMs' JIT compiler threads ("C2 CompilerThre", "C1 ...") have used:
    those of `kafka` (a LocalKafka), by default this suite's broker."""
    ticks = 0
    for pid in (kafka or BROKER).pids():
        for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
            try:
                s = stat.read_text()
            except OSError:
                continue  # the thread ended
            # The name is in parentheses and may hold spaces; utime and stime follow it as fields 12, 13.
            if "CompilerThre" in s[s.index("(") + 1:s.rindex(")")]:
                f = s[s.rindex(")") + 2:].split()
                ticks += int(f[11]) + int(f[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def stop_broker():
    try:
        BROKER.down()
    except KafkaError as e:
        print(f"stopping the benchmark broker failed: {e}", file=sys.stderr, flush=True)
    shutil.rmtree(BROKER_LOG_DIR, ignore_errors=True)


def broker_topic(name, partitions):
    BROKER.topic_command(["--create", "--topic", name, "--partitions", str(partitions),
                          "--config", "retention.bytes=67108864", "--config", "segment.bytes=16777216"])
    # CreateTopics answers before every partition has its leader; the first client on a topic then
    # spends its first metadata round trips waiting for leaders. A short pause keeps that out of
    # the figures.
    time.sleep(3 + partitions / 200)


# ---------------------------------------------------------------------------------------------
# Machine and versions


def machine(env, a):
    cpu = cpu_model()
    py = lambda code: sh_out(env.python, "-c", code)  # noqa: E731
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "cpu": cpu, "cpus": os.cpu_count(), "kernel": platform.release(),
        "load_before": os.getloadavg()[0],
        "rafka": git_describe(),
        "librdkafka (C harness)": env.rdkafka_version,
        "confluent-kafka": py("import confluent_kafka as c; v = c.version(); "
                              "print(v if isinstance(v, str) else v[0], 'with librdkafka', c.libversion()[0])"),
        "kafka-python": py("import kafka; print(kafka.__version__)"),
        "python": py("import sys; print(sys.version.split()[0])"),
        "java": java_version(),
        "kafka (broker, Java producer)": (re.findall(r"kafka-([\d.]+)/libs", env.kafka_classpath) or ["?"])[0],
        "profile": a.profile, "records": a.records, "warmup": a.warmup, "runs": a.runs, "broker_runs": a.broker_runs,
        "command": "bench/run " + " ".join(a.argv),
        "sink_cpus": None, "client_cpus": None,
    }


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n\n")[0])
    prof = ap.add_mutually_exclusive_group()
    prof.add_argument("--quick", dest="profile", action="store_const", const="quick", help="tiny runs (default)")
    prof.add_argument("--full", dest="profile", action="store_const", const="full", help="2M records, 5 runs")
    ap.set_defaults(profile="quick")
    ap.add_argument("--records", type=int, help="records per run (100 B; 1 KiB runs send a quarter)")
    ap.add_argument("--warmup", type=int, help="warm-up records per run")
    ap.add_argument("--runs", type=int)
    ap.add_argument("--broker-runs", type=int, help="runs against the broker (default: --runs)")
    ap.add_argument("--clients", help="comma-separated: " + ", ".join(
        ["rafka-perf", "rafka-c", "rafka-py", "rafka-jni", "librdkafka", "confluent-kafka", "java-perf", "java", "kafka-python"]))
    ap.add_argument("--groups", help="comma-separated workload groups: " + ", ".join(GROUPS))
    ap.add_argument("--workloads", help="comma-separated workload names (as in the report)")
    ap.add_argument("--sinks", default="null,broker", help="null, broker or both (default)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per client run")
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--list", action="store_true", help="print the workloads and clients, run nothing")
    ap.add_argument("--merge", action="store_true",
                    help="keep the figures of OUT/results.json for the sinks, workloads and clients not run now")
    a = ap.parse_args(argv)
    a.argv = argv
    # Set by bench/run, which builds the harnesses:
    a.build_dir = os.environ["RAFKA_BENCH_BUILD"]
    a.kafka_classpath = os.environ["RAFKA_BENCH_KAFKA_CLASSPATH"]
    a.python = sys.executable
    p = PROFILES[a.profile]
    a.records = a.records or p["records"]
    a.warmup = p["warmup"] if a.warmup is None else a.warmup
    a.runs = a.runs or p["runs"]
    a.broker_runs = a.broker_runs or a.runs
    a.clients = set(a.clients.split(",")) if a.clients else None
    a.groups = set(a.groups.split(",")) if a.groups else None
    a.workloads = set(a.workloads.split(",")) if a.workloads else None
    env = Env(a)
    suite = Suite(a, env)
    if a.list:
        for w in suite.workloads:
            print(f"{w['group']:12} {w['name']:28} {json.dumps(w['settings'])}")
        for c in suite.clients:
            print(f"{c.name:16} {c.label:40} {c.missing or ''}")
        return
    meta = machine(env, a)
    meta["sink_cpus"], meta["client_cpus"] = suite.sink_cpus, suite.client_cpus
    sinks = a.sinks.split(",")
    sink_stats = {}
    t0 = time.monotonic()
    if "null" in sinks:
        proc, bootstrap = start_nullsink(env, suite.sink_cpus)
        try:
            suite.run_sink("null", bootstrap, lambda name, n: None)
        finally:
            sink_stats["null"] = stop_nullsink(proc)
    if "broker" in sinks:
        bootstrap = start_broker(suite.sink_cpus)
        try:
            suite.warm_broker(bootstrap)
            suite.run_sink("broker", bootstrap, broker_topic)
        finally:
            stop_broker()
    meta["seconds"] = round(time.monotonic() - t0)
    meta["nullsink"] = sink_stats.get("null")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if a.merge and (out / "results.json").exists():
        old = json.loads((out / "results.json").read_text())
        # A client's row of a workload is replaced when it ran that workload again; the others stay.
        def row(r):
            return r["sink"], r["group"], r["workload"], r["client"]

        redone_rows = {row(r) for r in suite.results}
        suite.results = [r for r in old["results"] if row(r) not in redone_rows] + suite.results
        suite.results = refresh_copies(suite.results)
        order = {g: i for i, g in enumerate(GROUPS)}
        suite.results.sort(key=lambda r: result_rank(r, order))
        # The meta describes this invocation (the report states its method once); the rows kept from
        # earlier ones carry their own runs, and the commands that made them are listed here.
        meta["earlier_commands"] = [*old["meta"].get("earlier_commands", []), old["meta"]["command"]]
        meta["nullsink"] = meta.get("nullsink") or old["meta"].get("nullsink")
    (out / "results.json").write_text(json.dumps({"meta": meta, "results": suite.results}, indent=1) + "\n")
    from report import write_report  # bench/report.py
    write_report(out, meta, suite.results)
    print(f"wrote {out / 'REPORT.md'} ({meta['seconds']} s)")


if __name__ == "__main__":
    main()
