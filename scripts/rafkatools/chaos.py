"""scripts/chaos: a soak of every client through the same seeded schedule of broker and network faults,
then a read-back with Kafka's own consumer that counts what each client lost, duplicated or reordered.

One private 3-node cluster (LocalKafka) with the fault proxy (testsupport/faultproxy) in front of it;
clients connect through the proxy, the orchestrator and the read-back go to the brokers directly.
Each client gets its own topic (every topic with the same replica lists) and a worker process
(bench/chaos/worker.py for rafka's and confluent-kafka's Python Producer, bench/chaos/ChaosWorker.java
for RafkaProducer and KafkaProducer, chaos_worker.c and .rs for rafka's C and Rust APIs) that sends
RECORDS numbered records at a steady rate over the schedule's planned length and writes one line per
delivery report. The workers run one after another, each alone through the schedule (--together:
all at once, so every fault strikes every client at the same moment). A thread reads the cluster's leaders and in-sync replicas meanwhile,
to tell the part of a record's latency the cluster imposed from the client's own. docs/chaos.md
describes the schedule, the counts and the output files.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import random
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from rafkatools.bench import RESULTS, ROOT, cpu_model, git_describe
from rafkatools.cluster import KafkaError, LocalKafka, UsageError

STATE = Path("/tmp/rafka-chaos-kafka")
BROKER_PORT = 29101  # brokers 29101-29103, proxy 29111-29113, controllers 29201-29203
PROXY_PORT = 29111
CONTROLLER_PORT = 29201
PARTITIONS = 6
CLIENTS = ("rafka-python", "confluent-kafka", "rafka-java", "kafka-java", "rafka-c", "rafka-rust")
PROXY_FAULTS = ("blackhole", "lost-ack", "latency", "cut", "refuse")
# The planned time a heal takes, to spread the records over the schedule: a restarted broker
# needs a JVM start and its catch-up into every ISR.
HEAL_ESTIMATE_S = {"kill": 30.0, "pause": 1.0, "proxy": 0.5}  # a restart took 27-31 s on 2 busy cores
LEAD_IN_S = 5.0
TAIL_S = 5.0
EXAMPLES = 10  # records of each kind of failure listed in chaos.json


class ChaosError(Exception):
    """A failure of the soak itself (not of a client under test): exit 2 with this message."""


@dataclass
class Fault:
    kind: str  # kill, pause, or one of PROXY_FAULTS
    at_s: float  # planned start, seconds after the client's first record
    hold_s: float
    partition: int  # the fault hits this partition's leader at that moment
    latency_ms: int = 0


@dataclass
class FaultRun:
    """What happened to one fault during one client's run (times in seconds after its start)."""

    kind: str
    broker: int
    partition: int
    start_s: float
    heal_s: float = 0.0
    healed_s: float = 0.0  # the heal finished (a restarted broker is back in sync)
    rule: str = ""


def plan(kills: int, pauses: int, proxy_faults: int, seed: int, gap_s: float, hold_min: float, hold_max: float) -> List[Fault]:
    """The seeded schedule every client goes through: kinds shuffled, holds and targets drawn."""
    rng = random.Random(seed)
    proxy_kinds = rng.sample(PROXY_FAULTS, len(PROXY_FAULTS))  # each kind in turn, so a few faults cover them all
    kinds = ["kill"] * kills + ["pause"] * pauses + [proxy_kinds[i % len(proxy_kinds)] for i in range(proxy_faults)]
    rng.shuffle(kinds)
    faults, t = [], LEAD_IN_S
    for kind in kinds:
        hold = round(rng.uniform(hold_min, hold_max), 1)
        f = Fault(kind, round(t, 1), hold, rng.randrange(PARTITIONS),
                  rng.choice((200, 500, 1000, 2000)) if kind == "latency" else 0)
        faults.append(f)
        t += hold + HEAL_ESTIMATE_S.get(kind, HEAL_ESTIMATE_S["proxy"]) + gap_s
    return faults


def planned_length(faults: List[Fault], gap_s: float) -> float:
    if not faults:
        return LEAD_IN_S + TAIL_S
    last = faults[-1]
    return last.at_s + last.hold_s + HEAL_ESTIMATE_S.get(last.kind, HEAL_ESTIMATE_S["proxy"]) + TAIL_S


# -------------------------------------------------------------------------------------------------
# The fault proxy


class Proxy:
    def __init__(self, binary: Path, state: Path, upstreams: Dict[int, int]):
        self.sock = state / "faultproxy.sock"
        self.log_path = state / "faultproxy.log"
        args = [str(binary), "serve", "--control", str(self.sock)]
        for node, port in upstreams.items():
            args += ["--upstream", f"{node}=127.0.0.1:{port}@{PROXY_PORT + node - 1}"]
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, text=True, stdin=subprocess.DEVNULL)
        self.bootstrap = ""
        for line in self.proc.stdout:
            if line.startswith("bootstrap.servers="):
                self.bootstrap = line.strip().split("=", 1)[1]
                break
        if not self.bootstrap:
            self.proc.wait(5)
            raise ChaosError(f"the fault proxy exited ({self.proc.returncode}) before listening; see {self.log_path}")
        deadline = time.monotonic() + 10
        while not self.sock.exists():
            if time.monotonic() > deadline:
                raise ChaosError(f"the fault proxy did not open its control socket {self.sock}")
            time.sleep(0.05)

    def ctl(self, command: str) -> str:
        if self.proc.poll() is not None:
            raise ChaosError(f"the fault proxy exited ({self.proc.returncode}); see {self.log_path}")
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10)
            s.connect(str(self.sock))
            s.sendall(command.encode() + b"\n")
            data = b""
            while not data.endswith(b"\n.\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        answer = data.decode().removesuffix("\n.\n").strip()
        if answer.startswith("error"):
            raise ChaosError(f"the fault proxy refused '{command}': {answer}")
        return answer

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def proxy_rule(f: Fault, broker: int) -> str:
    return {
        "blackhole": f"blackhole broker={broker} times=unlimited",
        "lost-ack": f"drop-response broker={broker} api=produce times=unlimited",
        "latency": f"latency ms={f.latency_ms} broker={broker} times=unlimited",
        "cut": f"cut broker={broker} times=unlimited",
        "refuse": f"refuse broker={broker} times=unlimited",
    }[f.kind]


# -------------------------------------------------------------------------------------------------
# Running one client


@dataclass
class Client:
    name: str
    cmd: List[str]


_METADATA_CLIENT = None


def leader(bootstrap: str, topic: str, partition: int, timeout_s: float = 120) -> int:
    """The partition's leader, from a Metadata request to the brokers (not through the proxy); waits
    while leadership moves, and while brokers busy with a restart beside every worker do not answer
    (once 30 s was not enough)."""
    from confluent_kafka import KafkaException, Producer  # the orchestrator's own metadata client

    global _METADATA_CLIENT
    if _METADATA_CLIENT is None:  # one client for the whole soak, its connections kept
        # Its connections fail with every kill: quiet (the soak reports what matters).
        _METADATA_CLIENT = Producer({"bootstrap.servers": bootstrap, "log_level": 2})
    p = _METADATA_CLIENT
    deadline = time.monotonic() + timeout_s
    why = ""
    while time.monotonic() < deadline:
        try:
            t = p.list_topics(topic, timeout=5).topics.get(topic)
        except KafkaException as e:
            why = str(e)
            time.sleep(0.5)
            continue
        if t is not None and t.error is None and partition in t.partitions:
            node = t.partitions[partition].leader
            if node >= 1:
                return node
        why = f"{t.error if t else 'no topic'}" if (t is None or t.error) else "no leader"
        time.sleep(0.5)
    raise ChaosError(f"partition {partition} of {topic} has no leader after {timeout_s:.0f} s ({why})")


def wait_all_up(kafka: LocalKafka, what: str) -> None:
    s = kafka.require_cluster()
    down = kafka.any_node_down(s)
    if down is not None:
        kafka.log_tail(down)
        raise ChaosError(f"broker {down} is not running after {what}")


def replicas_of(partition: int) -> List[int]:
    """Every client's topic gets the same replica lists (the first is the preferred leader), so a fault
    at a broker hits the same partitions of every topic."""
    return [(partition + i) % 3 + 1 for i in range(3)]


def create_topic(kafka: LocalKafka, bootstrap: str, topic: str) -> None:
    assignment = ",".join(":".join(str(n) for n in replicas_of(p)) for p in range(PARTITIONS))
    p = kafka.topic_command(["--create", "--topic", topic, "--replica-assignment", assignment,
                             "--config", "min.insync.replicas=2"], bootstrap)
    if p.returncode != 0:
        raise ChaosError(f"creating topic {topic} failed: {(p.stdout or '')[-1000:]}{(p.stderr or '')[-1000:]}")


WARM_UP_TOPIC = "warm-up"


def warm_up(kafka: LocalKafka, bootstrap: str, seconds: float, log) -> None:
    """Sends records as fast as the cluster takes them for `seconds`, acks=all, to a topic of its own
    with the clients' replica lists. Brokers fresh from a start run their produce and replication paths
    slowly until the JVM has compiled them: without this the first client in turn pays for it (in one
    40k run its first two seconds of records waited 0.3-1.4 s)."""
    from confluent_kafka import Producer

    create_topic(kafka, bootstrap, WARM_UP_TOPIC)
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5, "log_level": 2})
    value, n, end = b"w" * 100, 0, time.time() + seconds
    while time.time() < end:
        try:
            p.produce(WARM_UP_TOPIC, value, key=str(n % 1000).encode())
            n += 1
        except BufferError:  # the producer's queue is full: let it drain
            p.poll(0.05)
        if n % 1000 == 0:
            p.poll(0)
    left = p.flush(120)
    if left:
        raise ChaosError(f"warming the cluster up: {left} records not acknowledged within 120 s")
    log(f"warmed the cluster up: {n:,} records in {seconds:.0f} s")


class LeaderWatch:
    """Reads every topic's partition leaders and in-sync replicas from the brokers (not through the
    proxy) every quarter second on a thread of its own, keeping each change with its time: when a
    faulted broker stopped holding up a partition, for the outage floor."""

    def __init__(self, bootstrap: str):
        from confluent_kafka import Producer

        self.p = Producer({"bootstrap.servers": bootstrap, "topic.metadata.refresh.interval.ms": 1000, "log_level": 2})
        self.changes: Dict[tuple, List[tuple]] = {}  # (topic, partition) -> [(time, leader, in-sync replicas)]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                md = self.p.list_topics(timeout=1)
            except Exception:  # no broker answered: try again at the next tick, not at once
                self.stop.wait(0.25)
                continue
            now = time.time()
            for name, t in md.topics.items():
                if not name.startswith("chaos-") or t.error is not None:
                    continue
                for pid, pm in t.partitions.items():
                    seen = self.changes.setdefault((name, pid), [])
                    state = (pm.leader, tuple(sorted(pm.isrs)))
                    if not seen or seen[-1][1:] != state:
                        seen.append((now, *state))
            self.stop.wait(0.25)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)

    def leader_at(self, topic: str, partition: int, t: float) -> Optional[int]:
        leader = None
        for at, node, _ in self.changes.get((topic, partition), []):
            if at > t:
                break
            leader = node
        return leader

    def released_after(self, topic: str, partition: int, broker: int, t: float, as_follower: bool) -> Optional[float]:
        """The first time after `t` the partition had a leader other than `broker` and (when
        `as_follower`: acks=all waits for every in-sync replica) `broker` out of its in-sync replicas."""
        for at, node, isr in self.changes.get((topic, partition), []):
            if at > t and node >= 1 and node != broker and not (as_follower and broker in isr):
                return at
        return None


class Worker:
    """One client's worker process, started and ready to send; `finish` waits for it and reads back."""

    def __init__(self, a, kafka: LocalKafka, proxy: Proxy, client: Client, seconds: float, workdir: Path, log):
        self.client, self.log = client, log
        self.topic = f"chaos-{client.name}-{int(time.time())}"
        create_topic(kafka, a.direct_bootstrap, self.topic)
        self.reports = workdir / f"{client.name}.reports.tsv"
        self.wlog_path = workdir / f"{client.name}.worker.log"
        self.workdir = workdir
        cmd = [*client.cmd, proxy.bootstrap, self.topic, str(a.records), f"{seconds:.1f}", a.acks,
               "0" if a.no_idempotence else "1", str(a.record_size), str(self.reports)]
        log(f"== {client.name}: topic {self.topic}, {a.records} records over {seconds:.0f} s")
        log(f"   {shlex.join(cmd)}")
        self.wlog = open(self.wlog_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.wlog, text=True,
                                     stdin=subprocess.DEVNULL, cwd=ROOT)
        # Its stdout is read on a thread all along, so a worker that logs there never blocks on a full pipe.
        self.ready, self.stdout_lines = threading.Event(), []
        self.reader = threading.Thread(target=self.drain, daemon=True)
        self.reader.start()

    def drain(self) -> None:
        for line in self.proc.stdout:
            self.stdout_lines.append(line)
            if line.strip() == "ready":
                self.ready.set()

    def wait_ready(self, deadline: float) -> None:
        while not self.ready.wait(0.2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                what = f"exited ({self.proc.returncode})" if self.proc.poll() is not None else "was not ready within 180 s"
                self.kill()
                raise ChaosError(f"the {self.client.name} worker {what} before sending; see {self.wlog_path}:\n"
                                 + self.wlog_path.read_text(errors="replace")[-2000:] + "".join(self.stdout_lines)[-500:])

    def check(self, when: str) -> None:
        if self.proc.poll() is not None and self.proc.returncode != 0:
            raise ChaosError(f"the {self.client.name} worker exited ({self.proc.returncode}) {when}; see {self.wlog_path}:\n"
                             + self.wlog_path.read_text(errors="replace")[-2000:])

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def finish(self, a, kafka: LocalKafka, t0: float, runs: List[FaultRun], seconds: float,
               watch: Optional[LeaderWatch], wait_s: float) -> dict:
        name = self.client.name
        try:
            self.proc.wait(timeout=max(1.0, wait_s))
            self.reader.join(10)
            out = "".join(self.stdout_lines)
        except subprocess.TimeoutExpired:
            self.kill()
            raise ChaosError(f"the {name} worker did not finish within {a.flush_timeout} s after the schedule; "
                             f"see {self.wlog_path}")
        end_s = time.time() - t0
        if self.proc.returncode != 0:
            raise ChaosError(f"the {name} worker exited ({self.proc.returncode}) at the end; see {self.wlog_path}:\n"
                             + self.wlog_path.read_text(errors="replace")[-2000:] + out[-500:])
        self.log(f"   {name}: worker done at {end_s:.1f} s; reading {self.topic} back")
        log_path = self.workdir / f"{name}.log.jsonl"
        s = kafka.require_cluster()
        with open(log_path, "w") as lf:
            p = subprocess.run(kafka.tool_cmd(s.version, kafka.state, "consume", a.direct_bootstrap, self.topic, "-1", "30",
                                              "read_uncommitted"), stdout=lf, stderr=subprocess.PIPE, text=True,
                               stdin=subprocess.DEVNULL)
        if p.returncode != 0 or "no new records" in p.stderr:
            raise ChaosError(f"reading {self.topic} back failed or stopped before the end offsets ({p.returncode}): "
                             f"{p.stderr[-2000:]}")
        outages = outage_windows(self.topic, runs, t0, watch, a.acks) if watch is not None else None
        struck = leader_losses(self.topic, runs, t0, watch) if watch is not None else None
        result = analyse(a.records, self.reports, log_path, t0, outages, struck)
        if watch is not None:  # the cluster as the orchestrator saw it, for the outage windows
            result["cluster_changes"] = [[round(at - t0, 2), part, node, list(isr)] for part in range(PARTITIONS)
                                         for at, node, isr in watch.changes.get((self.topic, part), [])]
        result.update(client=name, topic=self.topic, faults=[asdict(r) for r in runs], sending_s=seconds, t0=t0,
                      finished_s=round(end_s, 1),
                      faults_after_sending=sum(1 for r in runs if r.start_s > seconds))
        return result


# Proxy faults that stop a connected client's records at a leader until the heal (refused new
# connections and added latency do not).
PROXY_OUTAGES = ("blackhole", "lost-ack", "cut")


def outage_windows(topic: str, runs: List[FaultRun], t0: float, watch: LeaderWatch, acks: str) -> Dict[int, List[tuple]]:
    """Per partition of `topic`, the (from, to) times (epoch seconds) in which no client could have
    had its records acknowledged, as LeaderWatch saw the cluster:
    - a kill or a pause of a broker: every partition it leads, and with acks=all every partition it
      is an in-sync follower of, from the fault's start until the partition has another leader and
      (acks=all) the broker is out of its in-sync replicas, or the fault is healed (a killed broker
      restarted and back in sync);
    - a blackhole, a lost acknowledgement or a cut at the proxy: the partitions the broker leads,
      from the fault's start to its heal."""
    windows: Dict[int, List[tuple]] = {p: [] for p in range(PARTITIONS)}
    for r in runs:
        broker_fault = r.kind in ("kill", "pause")
        if not broker_fault and r.kind not in PROXY_OUTAGES:
            continue
        start = t0 + r.start_s
        back = t0 + (r.healed_s if r.kind == "kill" else r.heal_s)
        for p in range(PARTITIONS):
            leads = watch.leader_at(topic, p, start) == r.broker
            if not leads and not (broker_fault and acks == "all"):
                continue
            released = watch.released_after(topic, p, r.broker, start, broker_fault and acks == "all") if broker_fault else None
            windows[p].append((start, min(back, released) if released is not None else back))
    for p, spans in windows.items():  # merged, so no second of a wait counts twice
        merged: List[list] = []
        for lo, hi in sorted(spans):
            if merged and lo <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        windows[p] = [(lo, hi) for lo, hi in merged]
    return windows


def run_schedule(a, kafka: LocalKafka, proxy: Proxy, workers: List[Worker], faults: List[Fault], seconds: float,
                 t0: float, log) -> List[FaultRun]:
    """Runs the fault schedule while `workers` send: each fault hits the current leader of its
    partition in the first worker's topic (every topic has the same replica lists)."""
    topic = workers[0].topic
    runs: List[FaultRun] = []
    paused: Optional[int] = None
    rule_id: Optional[str] = None

    def sleep_until(t: float) -> None:
        while time.time() < t:
            for w in workers:
                w.check("during the schedule")
            time.sleep(min(0.2, max(0.0, t - time.time())))

    healed = t0
    try:
        for i, f in enumerate(faults):
            sleep_until(max(t0 + f.at_s, healed + a.gap))
            broker = leader(a.direct_bootstrap, topic, f.partition)
            run = FaultRun(f.kind, broker, f.partition, time.time() - t0)
            if f.kind == "kill":
                kafka.kill(broker)
            elif f.kind == "pause":
                kafka.pause(broker)
                paused = broker
            else:
                run.rule = proxy_rule(f, broker)
                rule_id = proxy.ctl("add " + run.rule).split()[-1]
            log(f"   {run.start_s:6.1f} s  fault {i + 1}/{len(faults)}: {f.kind} broker {broker} (leader of {f.partition})"
                f"{' ' + run.rule if run.rule else ''}, {f.hold_s} s")
            sleep_until(time.time() + f.hold_s)
            run.heal_s = time.time() - t0
            if f.kind == "kill":
                try:
                    kafka.restart(broker)
                except KafkaError as e:
                    raise ChaosError(f"broker {broker} did not come back after fault {i + 1} (kill): {e}")
            elif f.kind == "pause":
                kafka.resume(broker)
                paused = None
            else:
                proxy.ctl(f"remove {rule_id}")
                rule_id = None
            healed = time.time()
            run.healed_s = healed - t0
            wait_all_up(kafka, f"fault {i + 1} ({f.kind} of broker {broker})")
            runs.append(run)
        sleep_until(t0 + seconds)
    except BaseException:
        for w in workers:
            w.kill()
        raise
    finally:
        if paused is not None:
            kafka.resume(paused)
        if rule_id is not None:
            proxy.ctl(f"remove {rule_id}")
    return runs


def run_clients(a, kafka: LocalKafka, proxy: Proxy, clients: List[Client], faults: List[Fault], seconds: float,
                workdir: Path, log) -> List[dict]:
    """`clients`' workers through one run of the schedule, at once, each on its own topic (every
    fault strikes each of them at the same moment); main() passes one client at a time unless
    --together."""
    watch = LeaderWatch(a.direct_bootstrap)
    workers: List[Worker] = []
    try:
        for c in clients:
            workers.append(Worker(a, kafka, proxy, c, seconds, workdir, log))
        deadline = time.monotonic() + 180
        for w in workers:
            w.wait_ready(deadline)
        t0 = time.time()
        log(f"   all {len(workers)} worker(s) sending; {len(faults)} faults over {seconds:.0f} s")
        runs = run_schedule(a, kafka, proxy, workers, faults, seconds, t0, log)
        results = []
        end = time.time() + a.flush_timeout
        for w in workers:
            results.append(w.finish(a, kafka, t0, runs, seconds, watch, end - time.time()))
        return results
    except BaseException:
        for w in workers:
            w.kill()
        raise
    finally:
        watch.close()


# -------------------------------------------------------------------------------------------------
# Counting


def percentile(sorted_values: List[float], q: float) -> Optional[float]:
    if not sorted_values:
        return None
    i = min(len(sorted_values) - 1, max(0, int(round(q * len(sorted_values) + 0.5)) - 1))
    return sorted_values[i]


def leader_losses(topic: str, runs: List[FaultRun], t0: float, watch: LeaderWatch) -> Dict[int, List[tuple]]:
    """Per partition of `topic`, the kills and pauses that struck the broker leading it, as (kind,
    start, heal) in epoch seconds: the moments its leader could lose records it had acknowledged."""
    struck: Dict[int, List[tuple]] = {p: [] for p in range(PARTITIONS)}
    for r in runs:
        if r.kind in ("kill", "pause"):
            start = t0 + r.start_s
            for p in range(PARTITIONS):
                if watch.leader_at(topic, p, start) == r.broker:
                    struck[p].append((r.kind, start, t0 + r.heal_s))
    return struck


# How close to a fault an acknowledgement must be to be placed against it, in seconds.
LOSS_WINDOW_S = 5.0


def place_losses(acked_at: Dict[int, tuple], lost: List[int], struck: Dict[int, List[tuple]]) -> dict:
    """Where each lost record's acknowledgement lies against the kills and pauses of its partition's
    leader. With acks=1 a leader acknowledges what its followers may not have copied yet, and loses it
    when another replica takes over. Two ways seen: acknowledged just before the leader was killed or
    paused (the followers' lag), and acknowledged by a leader just back from a pause (it appends the
    requests that waited in its socket, acknowledges them, and then learns that the controller fenced
    it during the pause and truncates them)."""
    before: List[float] = []  # ms from the acknowledgement to the fault
    after_pause: List[float] = []  # ms from the pause's end to the acknowledgement
    unplaced = 0
    for s in lost:
        p, got = acked_at[s]
        faults = struck.get(p, ())
        resumed = [got - heal for kind, _, heal in faults if kind == "pause" and heal - 0.5 <= got <= heal + LOSS_WINDOW_S]
        ahead = [start - got for _, start, _ in faults if -0.5 <= start - got <= LOSS_WINDOW_S]
        if resumed:
            after_pause.append(min(resumed) * 1e3)
        elif ahead:
            before.append(min(ahead) * 1e3)
        else:
            unplaced += 1

    def spread_ms(v: List[float]) -> dict:
        v.sort()
        return {"p50": round(percentile(v, 0.5), 1) if v else None, "max": round(v[-1], 1) if v else None}

    return {"acked_after_a_pause": len(after_pause), "pause_end_to_ack_ms": spread_ms(after_pause),
            "acked_before_a_fault": len(before), "ack_to_fault_ms": spread_ms(before), "unplaced": unplaced}


def analyse(records: int, reports_path: Path, log_path: Path, t0: float,
            outages: Optional[Dict[int, List[tuple]]] = None, struck: Optional[Dict[int, List[tuple]]] = None) -> dict:
    """Counts one client's run. `outages`: per partition, the (from, to) epoch seconds in which no
    broker could acknowledge its records (outage_windows, not overlapping); a record's latency beyond
    the outages is its latency less the part of its wait that fell in one. `struck`: per partition,
    when a kill or pause struck its leader (leader_losses), to place each lost record."""
    report_count = [0] * records
    acked_at: Dict[int, tuple] = {}  # seq -> (partition, report time in epoch seconds)
    beyond_ms: List[float] = []
    in_outage = 0
    acked: Dict[int, tuple] = {}  # seq -> (partition, offset) of a report without an error
    failed: Dict[int, str] = {}
    latency_ms: List[float] = []
    series: List[tuple] = []  # (send time after t0 in s, latency ms)
    bad_lines = 0
    with open(reports_path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            try:
                seq, part, off, err, sent, got = int(parts[0]), int(parts[1]), int(parts[2]), parts[3], int(parts[4]), int(parts[5])
            except (ValueError, IndexError):
                bad_lines += 1
                continue
            if not 0 <= seq < records:
                bad_lines += 1
                continue
            report_count[seq] += 1
            if report_count[seq] > 1:
                continue
            ms = (got - sent) / 1e6
            latency_ms.append(ms)
            if outages is not None:
                t_sent, t_got = sent / 1e9, got / 1e9
                inside = sum(max(0.0, min(hi, t_got) - max(lo, t_sent)) for lo, hi in outages.get(part, ()))
                in_outage += inside > 0
                beyond_ms.append(max(0.0, ms - inside * 1e3))
            series.append((sent / 1e9 - t0, ms))
            if err:
                failed[seq] = err
            else:
                acked[seq] = (part, off)
                acked_at[seq] = (part, got / 1e9)
    in_log: Dict[int, List[tuple]] = {}
    foreign = 0
    reordered = 0
    reordered_examples: List[dict] = []
    last_seq: Dict[int, int] = {}
    with open(log_path) as f:
        for line in f:
            r = json.loads(line)
            try:
                seq = int(r["value"].split(".", 1)[0])
            except (AttributeError, ValueError):
                foreign += 1
                continue
            p = r["partition"]
            copies = in_log.setdefault(seq, [])
            copies.append((p, r["offset"]))
            if len(copies) == 1 and p in last_seq and seq < last_seq[p]:  # a duplicate counts once, as duplicated
                reordered += 1
                if len(reordered_examples) < EXAMPLES:
                    reordered_examples.append({"seq": seq, "partition": p, "offset": r["offset"], "after_seq": last_seq[p]})
            last_seq[p] = max(seq, last_seq.get(p, -1))
    lost_seqs = [s for s in acked if s not in in_log]
    lost_acked = len(lost_seqs)
    offset_mismatch = sum(1 for s, po in acked.items() if s in in_log and po not in in_log[s])
    no_report = [s for s in range(records) if report_count[s] == 0]
    by_error: Dict[str, int] = {}
    for e in failed.values():
        by_error[e] = by_error.get(e, 0) + 1
    latency_ms.sort()
    beyond_ms.sort()
    # Latency over time, thinned for the figure: the highest and the median per half second.
    buckets: Dict[int, List[float]] = {}
    for t, ms in series:
        buckets.setdefault(int(t * 2), []).append(ms)
    timeline = [(b / 2, max(v), sorted(v)[len(v) // 2]) for b, v in sorted(buckets.items())]
    # Evidence for a bug report: the first few records of each kind, with their report and log positions.
    def report_of(s: int) -> dict:
        return {"acked_at": acked.get(s), "error": failed.get(s)}

    examples = {
        "lost": [{"seq": s, **report_of(s)} for s in sorted(s for s in acked if s not in in_log)[:EXAMPLES]],
        "duplicated": [{"seq": s, "in_log_at": v, **report_of(s)}
                       for s, v in sorted(in_log.items()) if len(v) > 1][:EXAMPLES],
        "reordered": reordered_examples,
        "no_report": [{"seq": s, "in_log_at": in_log.get(s)} for s in no_report[:EXAMPLES]],
        "two_reports": [s for s in range(records) if report_count[s] > 1][:EXAMPLES],
        "offset_mismatch": [{"seq": s, "acked_at": po, "in_log_at": in_log[s]} for s, po in sorted(acked.items())
                            if s in in_log and po not in in_log[s]][:EXAMPLES],
    }
    return {
        "examples": {k: v for k, v in examples.items() if v},
        "sent": records,
        "acknowledged": len(acked),
        "failed": len(failed),
        "failed_by_error": by_error,
        "lost": lost_acked,
        "lost_when": place_losses(acked_at, lost_seqs, struck) if struck is not None and lost_seqs else None,
        "failed_not_in_log": sum(1 for s in failed if s not in in_log),
        "failed_but_in_log": sum(1 for s in failed if s in in_log),
        "no_report": len(no_report),
        "no_report_not_in_log": sum(1 for s in no_report if s not in in_log),
        "two_reports": sum(1 for c in report_count if c > 1),
        "duplicated": sum(1 for v in in_log.values() if len(v) > 1),
        "reordered": reordered,
        "offset_mismatch": offset_mismatch,
        "in_log": sum(len(v) for v in in_log.values()),
        "unreadable_report_lines": bad_lines,
        "foreign_log_records": foreign,
        "latency_ms": {k: (round(v, 1) if v is not None else None) for k, v in
                       (("p50", percentile(latency_ms, 0.5)), ("p99", percentile(latency_ms, 0.99)),
                        ("p99.9", percentile(latency_ms, 0.999)), ("max", latency_ms[-1] if latency_ms else None))},
        "beyond_outage_ms": {k: (round(v, 1) if v is not None else None) for k, v in
                             (("p50", percentile(beyond_ms, 0.5)), ("p99", percentile(beyond_ms, 0.99)),
                              ("p99.9", percentile(beyond_ms, 0.999)), ("max", beyond_ms[-1] if beyond_ms else None))},
        "waited_in_outage": in_outage if outages is not None else None,
        "timeline": timeline,
    }


def lost_when_text(w: Optional[dict]) -> str:
    if not w:
        return ""
    parts = []
    if w["acked_after_a_pause"]:
        parts.append(f"{w['acked_after_a_pause']:,} acknowledged by their leader just back from a pause (from the pause's "
                     f"end: median {w['pause_end_to_ack_ms']['p50']} ms, at most {w['pause_end_to_ack_ms']['max']} ms)")
    if w["acked_before_a_fault"]:
        parts.append(f"{w['acked_before_a_fault']:,} acknowledged just before their leader was killed or paused "
                     f"(median {w['ack_to_fault_ms']['p50']} ms before, at most {w['ack_to_fault_ms']['max']} ms)")
    parts.append(f"{w['unplaced']:,} near no kill or pause of their leader")
    return " Lost records: " + "; ".join(parts) + "."


def broken(r: dict) -> List[str]:
    """What makes the default (acks=all, idempotent) mode fail."""
    keys = ("lost", "duplicated", "reordered", "no_report", "two_reports", "offset_mismatch", "unreadable_report_lines")
    return [f"{k}={r[k]}" for k in keys if r[k]]


# -------------------------------------------------------------------------------------------------
# Reporting


def figure(results: List[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"kill": "tab:red", "pause": "tab:orange", "blackhole": "tab:gray", "lost-ack": "tab:purple",
              "latency": "tab:olive", "cut": "tab:brown", "refuse": "tab:pink"}
    fig, axes = plt.subplots(len(results), 1, figsize=(11, 2.4 * len(results) + 0.6), sharex=True, squeeze=False)
    for ax, r in zip(axes[:, 0], results):
        tl = r["timeline"]
        ax.plot([t for t, _, _ in tl], [mx for _, mx, _ in tl], lw=0.8, color="tab:blue", label="max per 0.5 s")
        ax.plot([t for t, _, _ in tl], [med for _, _, med in tl], lw=0.8, color="tab:green", label="median per 0.5 s")
        for f in r["faults"]:
            ax.axvspan(f["start_s"], f["heal_s"], color=colors.get(f["kind"], "k"), alpha=0.25, lw=0)
            if f["healed_s"] - f["heal_s"] > 0.5:  # a killed broker restarting
                ax.axvspan(f["heal_s"], f["healed_s"], color=colors.get(f["kind"], "k"), alpha=0.08, lw=0)
        ax.set_yscale("log")
        ax.set_ylabel("latency ms")
        ax.set_title(f"{r['client']}: p99 {r['latency_ms']['p99']} ms, max {r['latency_ms']['max']} ms", fontsize=9)
    fig.legend(handles=[*axes[0, 0].get_lines(),
                        *[plt.Rectangle((0, 0), 1, 1, color=c, alpha=0.25, label=k) for k, c in colors.items()]],
               fontsize=7, ncol=9, loc="upper center")
    axes[-1, 0].set_xlabel("send time, s after the start (shaded: a fault from start to heal; "
                           "light: a killed broker restarting)")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))
    buf = io.BytesIO()
    fig.savefig(buf, dpi=110)
    plt.close(fig)
    from PIL import Image  # matplotlib's own dependency: 256 colours make the file 2.5 times smaller

    Image.open(buf).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def markdown(meta: dict, results: List[dict], default_mode: bool) -> List[str]:
    lines = [
        "# Chaos soak (scripts/chaos)",
        "",
        f"Command: `{meta['command']}`  ",
        f"Date {meta['date']} UTC, commit {meta['commit']}, {meta['cpu']} ({meta['cores']} cores), "
        f"load average {meta['load_before']} before, {meta['load_after']} after.  ",
        f"Scale{'' if (meta['records'], meta['kills'], meta['pauses'], meta['proxy_faults']) == (1_000_000, 20, 20, 20) else ' (reduced, not the defaults)'}: "
        f"{meta['records']:,} records per client (default 1,000,000), {meta['kills']} leader kills, "
        f"{meta['pauses']} leader pauses, {meta['proxy_faults']} proxy faults (defaults 20 + 20 + 20), seed {meta['seed']}, "
        f"acks={meta['acks']}, idempotence {'off' if meta['no_idempotence'] else 'on'}.",
        "",
        f"Clients: {'one after another, each alone through the schedule' if meta.get('in_turn') else 'all at once, each on its own topic with the same replica lists, so every fault strikes every client at the same moment'}"
        + (f"; before the first, {meta['warm_up_s']:.0f} s of records warmed the fresh cluster up." if meta.get("warm_up_s") else "; the fresh cluster was not warmed up."),
        "",
        "| client | sent | acked | failed | lost | dup | reordered | no report | 2 reports | offset ≠ | "
        "p50 ms | p99 ms | p99.9 ms | max ms | waited in an outage | beyond the outages p99 ms | p99.9 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lat, bey = r["latency_ms"], r.get("beyond_outage_ms") or {}
        lines.append(f"| {r['client']} | {r['sent']:,} | {r['acknowledged']:,} | {r['failed']:,} | {r['lost']:,} | "
                     f"{r['duplicated']:,} | {r['reordered']:,} | {r['no_report']:,} | {r['two_reports']:,} | "
                     f"{r['offset_mismatch']:,} | {lat['p50']} | {lat['p99']} | {lat['p99.9']} | {lat['max']} | "
                     f"{r.get('waited_in_outage') or 0:,} | {bey.get('p99')} | {bey.get('p99.9')} | {bey.get('max')} |")
    by = {r["client"]: r for r in results}
    ratios = []
    for x in ("rafka-rust", "rafka-c", "rafka-python", "rafka-java"):
        for y in ("confluent-kafka", "kafka-java"):
            if x in by and y in by and by[y]["latency_ms"]["p99"]:
                beyond = ""
                if (by[y].get("beyond_outage_ms") or {}).get("p99"):
                    beyond = f" (beyond the outages {by[x]['beyond_outage_ms']['p99'] / by[y]['beyond_outage_ms']['p99']:.2f})"
                ratios.append(f"{x} / {y} = {by[x]['latency_ms']['p99'] / by[y]['latency_ms']['p99']:.2f}{beyond}")
    if ratios:
        lines += ["", "p99 latency against the peers in the same run (issue 22 asks for at most 0.5): "
                  + "; ".join(ratios) + "."]
    lines += ["", "Failed records by error, and the rest of each client's counts:", ""]
    for r in results:
        errs = ", ".join(f"{k} {v:,}" for k, v in sorted(r["failed_by_error"].items())) or "none"
        lines.append(f"- {r['client']}: failed by error: {errs}; failed and not in the log {r['failed_not_in_log']:,}, "
                     f"failed but in the log {r['failed_but_in_log']:,}; no report and not in the log "
                     f"{r['no_report_not_in_log']:,}; records in the log {r['in_log']:,}; faults started after the "
                     f"last send {r['faults_after_sending']}; sending took {r['sending_s']:.0f} s, the worker "
                     f"finished at {r['finished_s']} s." + lost_when_text(r.get("lost_when")))
    lines += ["", ("Faults (the same seeded schedule for every client; the broker is the partition's leader at that "
               "moment, so it can differ between clients):") if meta.get("in_turn") else
              "Faults (the broker is the partition's leader in the first client's topic at that moment):", ""]
    for i, f in enumerate(meta["schedule"]):
        extra = f" {f['latency_ms']} ms" if f["kind"] == "latency" else ""
        lines.append(f"{i + 1}. {f['kind']}{extra} of partition {f['partition']}'s leader at {f['at_s']} s, held {f['hold_s']} s")
    lines += [
        "",
        "What each figure counts (records are numbered; the read-back is Kafka's own consumer over every "
        "partition, from the beginning to the end offsets):",
        "",
        "- sent: records handed to the producer. acked: first report without an error. failed: first report "
        "with an error (Java: the callback's exception class, or the exception send() threw).",
        "- lost: acknowledged but not in the log. no report: sent and never reported (at the end of a flush "
        "that waited for every report). 2 reports: reported more than once. Each lost record is placed against "
        f"the kills and pauses of its partition's leader: acknowledged by the leader within {LOSS_WINDOW_S:.0f} s after a "
        "pause of it ended (it appended what waited in its socket, then learnt it had been replaced and truncated "
        f"it), or within {LOSS_WINDOW_S:.0f} s before it was killed or paused (what its followers had not copied yet).",
        "- dup: in the log more than once. reordered: in a partition's log after a higher number from the same "
        "producer (first copies only). offset ≠: acknowledged with a partition and offset where the log does "
        "not hold it.",
        "- latency: report time minus the time just before send()/produce() was called, over every record's "
        "first report (failed ones included), on this machine's clock; the figure shows its median and maximum "
        "per half second of send time.",
        "- waited in an outage, beyond the outages: an outage of a partition is a time in which no client could have its "
        "records acknowledged, as the orchestrator saw the cluster (it reads every topic's leaders and in-sync "
        "replicas from the brokers every 0.25 s). A kill or a pause of a broker is one for every partition it leads "
        "and, with acks=all, every partition it is an in-sync follower of (the leader waits for it), from the fault's "
        "start until the partition has another leader and the broker is out of its in-sync replicas, or the fault is "
        "healed (a killed broker: restarted and back in sync). A blackhole, lost acknowledgement or cut at the proxy is "
        "one for the partitions the broker leads, from start to heal; refused new connections and added latency are "
        "not. A record whose wait (from send to report) overlapped an outage of its partition counts as waited in an "
        "outage; its latency beyond the outages is its latency less that overlap (every other record's is its whole "
        "latency): the part of the delay a client's own timeouts, backoffs and metadata refreshes decide.",
        "",
        f"The JSON file lists, per client, the first {EXAMPLES} records of each of these kinds (number, the report's "
        "partition and offset or error, where the log holds it); the workers' report lines and the read-back stay in "
        "the state dir's run/ folder until the next run.",
        "",
        f"Pass criterion ({'applied' if default_mode else 'not applied: acks=1 / no idempotence measures loss'}): "
        "lost, dup, reordered, no report, 2 reports and offset ≠ all 0 for every client.",
        "",
        "![latency over time](chaos-latency.png)",
    ]
    return lines


# -------------------------------------------------------------------------------------------------
# Command line


def parse_args(argv: List[str]):
    ap = argparse.ArgumentParser(prog="scripts/chaos", description=(
        "A soak of each client through one seeded schedule of leader kills, leader pauses and fault-proxy faults "
        "on a private 3-node cluster, then a read-back with Kafka's consumer. Writes bench/results/chaos.md, "
        "chaos.json and chaos-latency.png. Exit 1: a client lost, duplicated or reordered records or missed or "
        "doubled a report (acks=all with idempotence only); exit 2: the soak itself failed."))
    ap.add_argument("--records", type=int, default=1_000_000, help="records per client (default 1,000,000)")
    ap.add_argument("--kills", type=int, default=20, help="leader SIGKILLs, each followed by a restart (default 20)")
    ap.add_argument("--pauses", type=int, default=20, help="leader SIGSTOPs, each followed by SIGCONT (default 20)")
    ap.add_argument("--proxy-faults", type=int, default=20,
                    help=f"fault-proxy faults at a leader, drawn from {', '.join(PROXY_FAULTS)} (default 20)")
    ap.add_argument("--seed", type=int, default=22)
    ap.add_argument("--gap", type=float, default=4.0, help="seconds from one fault's heal to the next fault (default 4)")
    ap.add_argument("--hold", default="3-8", help="a fault lasts MIN-MAX seconds, drawn per fault (default 3-8)")
    ap.add_argument("--clients", default=",".join(CLIENTS), help=f"comma-separated (default {','.join(CLIENTS)})")
    ap.add_argument("--together", action="store_true",
                    help="run every client at once, each on its own topic, so every fault strikes every client at "
                         "the same moment (default: one after another, each alone through the schedule). Six clients "
                         "at the default rate overload a 2-core machine: use it with fewer records")
    ap.add_argument("--acks", default="all", choices=("all", "1", "0"))
    ap.add_argument("--no-idempotence", action="store_true")
    ap.add_argument("--record-size", type=int, default=100)
    ap.add_argument("--warm-up", type=float, default=20.0,
                    help="seconds of records sent to the fresh cluster before the first client, so it does not pay "
                         "for the brokers' cold JVMs (default 20; 0: none)")
    ap.add_argument("--flush-timeout", type=int, default=900, help="seconds a worker may take after the schedule")
    ap.add_argument("--python", default=sys.executable, help="the Python with rafka and confluent_kafka (default: this one)")
    ap.add_argument("--proxy", help="a built rafka-faultproxy binary (default: cargo build --release -p rafka-faultproxy)")
    ap.add_argument("--jar", help="the rafka jar (default: bindings/java/target/rafka-*.jar, built with Maven if missing)")
    ap.add_argument("--out", default=str(RESULTS / "chaos"), help="OUT.md, OUT.json, OUT-latency.png (default bench/results/chaos)")
    ap.add_argument("--state", default=str(STATE), help=f"the cluster's state dir and the run's files (default {STATE})")
    a = ap.parse_args(argv)
    try:
        lo, hi = (float(x) for x in a.hold.split("-"))
    except ValueError:
        raise UsageError(f"--hold takes MIN-MAX seconds, got '{a.hold}'")
    a.hold_range = (lo, hi)
    a.client_names = [c for c in a.clients.split(",") if c]
    for c in a.client_names:
        if c not in CLIENTS:
            raise UsageError(f"unknown client '{c}' (known: {', '.join(CLIENTS)})")
    if a.acks != "all" and not a.no_idempotence:
        raise UsageError("idempotence needs acks=all: add --no-idempotence")
    return a


def build(a, kafka: LocalKafka, log) -> Dict[str, Client]:
    """The proxy binary and every worker command, checked before the cluster starts."""
    clients: Dict[str, Client] = {}
    wanted = set(a.client_names)
    py = [a.python, str(ROOT / "bench" / "chaos" / "worker.py")]
    for name, module in (("rafka-python", "rafka"), ("confluent-kafka", "confluent_kafka")):
        if name in wanted:
            p = subprocess.run([a.python, "-c", f"import {module}"], capture_output=True, text=True)
            if p.returncode != 0:
                raise ChaosError(f"{a.python} cannot import {module} (for {name}): {p.stderr.strip().splitlines()[-1:]}; "
                                 "install it (rafka: PYTHON=... scripts/python-wheel; confluent-kafka: "
                                 "pip install -r bench/requirements.txt) or pass --python")
            clients[name] = Client(name, [*py, "rafka" if module == "rafka" else "confluent"])
    if wanted & {"rafka-java", "kafka-java"}:
        s = kafka.load_state()
        version = s.version if s else "4.3.1"
        if a.jar:
            jar = Path(a.jar)
        else:
            jars = sorted((ROOT / "bindings" / "java" / "target").glob("rafka-[0-9]*.jar"))
            if not jars:
                log("building bindings/java (mvn package) ...")
                p = subprocess.run(["nice", "-n", "10", "mvn", "-q", "-B", "-DskipTests", "package"],
                                   cwd=ROOT / "bindings" / "java", stdin=subprocess.DEVNULL)
                jars = sorted((ROOT / "bindings" / "java" / "target").glob("rafka-[0-9]*.jar"))
                if p.returncode != 0 or not jars:
                    raise ChaosError("building bindings/java failed (see Maven's output above)")
            jar = jars[-1]
        if not jar.is_file():
            raise ChaosError(f"no rafka jar at {jar}")
        kafka.check_java(version)
        kafka.fetch(version)
        java = [kafka.java, "-Xmx1g", "-cp", f"{jar}:{kafka.classpath(version)}", str(ROOT / "bench" / "chaos" / "ChaosWorker.java")]
        for name, which in (("rafka-java", "rafka"), ("kafka-java", "kafka")):
            if name in wanted:
                clients[name] = Client(name, [*java, which])
    release = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target") / "release"
    if "rafka-c" in wanted:
        log("building librafka (cargo build --release -p rafka) and bench/chaos/chaos_worker.c ...")
        cargo(["build", "--release", "--quiet", "-p", "rafka"], "librafka")
        exe = release / "chaos" / "chaos_worker"
        exe.parent.mkdir(parents=True, exist_ok=True)
        link = exe.parent / "librafka.so.0"  # the library's soname, as bench/c links it
        link.unlink(missing_ok=True)
        link.symlink_to(release / "librafka.so")
        p = subprocess.run(["nice", "-n", "10", os.environ.get("CC", "cc"), "-O2", "-std=c11", "-Wall", "-Wextra",
                            "-Werror", f"-I{ROOT / 'include'}", str(ROOT / "bench" / "chaos" / "chaos_worker.c"), "-o",
                            str(exe), f"-L{release}", "-lrafka", f"-Wl,-rpath,{exe.parent}"], stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            raise ChaosError("compiling bench/chaos/chaos_worker.c failed (see above)")
        clients["rafka-c"] = Client("rafka-c", [str(exe)])
    if "rafka-rust" in wanted:
        log("building the Rust worker (cargo build --release -p rafka-examples --bin chaos_worker) ...")
        cargo(["build", "--release", "--quiet", "-p", "rafka-examples", "--bin", "chaos_worker"], "the Rust worker")
        clients["rafka-rust"] = Client("rafka-rust", [str(release / "chaos_worker")])
    return {n: clients[n] for n in a.client_names}


def cargo(args: List[str], what: str) -> None:
    if subprocess.run(["nice", "-n", "10", "cargo", *args], cwd=ROOT, stdin=subprocess.DEVNULL).returncode != 0:
        raise ChaosError(f"building {what} failed (see cargo's output above)")


def proxy_binary(a, log) -> Path:
    if a.proxy:
        if not Path(a.proxy).is_file():
            raise ChaosError(f"no fault proxy binary at {a.proxy}")
        return Path(a.proxy)
    target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target") / "release" / "rafka-faultproxy"
    log("building the fault proxy (cargo build --release -p rafka-faultproxy) ...")
    p = subprocess.run(["nice", "-n", "10", "cargo", "build", "--release", "--quiet", "-p", "rafka-faultproxy"], cwd=ROOT,
                       stdin=subprocess.DEVNULL)
    if p.returncode != 0 or not target.is_file():
        raise ChaosError("building the fault proxy failed (see cargo's output above)")
    return target


def main(argv: List[str]) -> int:
    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        a = parse_args(argv)
    except UsageError as e:
        log(f"scripts/chaos: {e}")
        return 2
    def terminate(signum, frame):
        raise KeyboardInterrupt  # the same cleanup as Ctrl-C: workers, proxy and cluster stopped

    signal.signal(signal.SIGTERM, terminate)
    state = Path(a.state)
    # A killed broker restarts beside every client's worker and two live brokers: on 2 cores that
    # took more than scripts/kafka's 90 s readiness wait once, so the soak waits up to 240 s.
    env = {**os.environ, "RAFKA_KAFKA_HEAP": os.environ.get("RAFKA_KAFKA_HEAP", "768m"),
           "RAFKA_KAFKA_TIMEOUT": os.environ.get("RAFKA_KAFKA_TIMEOUT", "240")}
    kafka = LocalKafka(state=state, env=env, log=log)
    a.direct_bootstrap = ",".join(f"127.0.0.1:{BROKER_PORT + i}" for i in range(3))
    faults = plan(a.kills, a.pauses, a.proxy_faults, a.seed, a.gap, *a.hold_range)
    seconds = planned_length(faults, a.gap)
    default_mode = a.acks == "all" and not a.no_idempotence
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    commit = git_describe()  # the code that runs, before anyone commits during a long soak
    started = time.time()
    proxy: Optional[Proxy] = None
    results: List[dict] = []
    ours = False  # the cluster is ours to stop
    try:
        for module in ("confluent_kafka", "matplotlib"):
            try:
                __import__(module)
            except ImportError:
                raise ChaosError(f"{sys.executable} has no {module}: run scripts/chaos with a Python that has "
                                 "bench/requirements.txt installed (python -m venv .venv && .venv/bin/pip install "
                                 "-r bench/requirements.txt; .venv/bin/python scripts/chaos)")
        binary = proxy_binary(a, log)
        clients = build(a, kafka, log)
        if kafka.load_state() is not None and kafka.pids():
            raise ChaosError(f"a cluster is already running from {state}: stop it with "
                             f"RAFKA_KAFKA_STATE={state} scripts/kafka down, or pass another --state")
        ours = True
        kafka.up(brokers=3, port=BROKER_PORT, controller_port=CONTROLLER_PORT)
        proxy = Proxy(binary, state, {n: BROKER_PORT + n - 1 for n in (1, 2, 3)})
        log(f"fault proxy: bootstrap.servers={proxy.bootstrap}; schedule {len(faults)} faults over {seconds:.0f} s per client")
        if a.warm_up > 0:
            warm_up(kafka, a.direct_bootstrap, a.warm_up, log)
        workdir = state / "run"
        workdir.mkdir(exist_ok=True)
        groups = [list(clients.values())] if a.together else [[c] for c in clients.values()]
        for group in groups:
            for r in run_clients(a, kafka, proxy, group, faults, seconds, workdir, log):
                results.append(r)
                log(f"   {r['client']}: acked {r['acknowledged']}, failed {r['failed']}, lost {r['lost']}, "
                    f"dup {r['duplicated']}, reordered {r['reordered']}, no report {r['no_report']}, "
                    f"p99 {r['latency_ms']['p99']} ms, beyond the outages {r['beyond_outage_ms']['p99']} ms")
    except (ChaosError, KafkaError) as e:
        log(f"scripts/chaos: FAILED: {e}")
        log("no report written (the soak did not finish)")
        return 2
    except KeyboardInterrupt:
        log("scripts/chaos: interrupted (Ctrl-C or SIGTERM); no report written")
        return 2
    finally:
        if proxy is not None:
            proxy.stop()
        try:
            if ours and kafka.load_state() is not None:
                for n in (1, 2, 3):
                    if kafka.node_state(n) == "paused":
                        kafka.resume(n)
                kafka.down()
        except KafkaError as e:
            log(f"scripts/chaos: stopping the cluster failed: {e}")

    meta = {
        "command": shlex.join(["scripts/chaos", *argv]),
        "date": time.strftime("%Y-%m-%d %H:%M", time.gmtime(started)),
        "commit": commit,
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "load_before": load_before,
        "load_after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "records": a.records, "kills": a.kills, "pauses": a.pauses, "proxy_faults": a.proxy_faults, "seed": a.seed,
        "acks": a.acks, "no_idempotence": a.no_idempotence, "in_turn": not a.together, "warm_up_s": a.warm_up,
        "schedule": [asdict(f) for f in faults],
    }
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure(results, Path(f"{out}-latency.png"))
    lines = markdown(meta, results, default_mode)
    lines[-1] = f"![latency over time]({out.name}-latency.png)"
    Path(f"{out}.md").write_text("\n".join(lines) + "\n")
    Path(f"{out}.json").write_text(json.dumps(
        {"meta": meta, "results": [{k: v for k, v in r.items() if k != "timeline"} for r in results]}, indent=1) + "\n")
    print("\n".join(lines[:next(i for i, l in enumerate(lines) if l.startswith("Faults ("))]))
    log(f"wrote {out}.md, {out}.json, {out}-latency.png")
    bad = {r["client"]: broken(r) for r in results if broken(r)}
    if default_mode and bad:
        for c, what in bad.items():
            log(f"scripts/chaos: {c}: {', '.join(what)}")
        return 1
    return 0
