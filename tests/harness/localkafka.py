"""Helpers for tests that run against a real local Kafka started by scripts/kafka.

The cluster under test is named by RAFKA_BOOTSTRAP (exported by ./scripts/test). Records are
written with kcat (librdkafka) and read back with Kafka's own Java consumer through
`scripts/kafka consume`, so neither side is code of ours.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

import pytest

REPO = Path(__file__).resolve().parents[2]
KAFKA_SCRIPT = REPO / "scripts" / "kafka"
sys.path.insert(0, str(REPO / "scripts"))

from rafkatools.cluster import CONTROLLER_OFFSET, LocalKafka  # noqa: E402

HOW_TO_START = (
    "start a broker with `scripts/kafka up` and export RAFKA_BOOTSTRAP=<its last line without "
    "'bootstrap.servers='>, or run every suite with `./scripts/test`, which does both"
)


def require_bootstrap() -> str:
    """RAFKA_BOOTSTRAP, checked to accept connections; fails the test (never skips) otherwise."""
    bootstrap = os.environ.get("RAFKA_BOOTSTRAP", "").strip()
    if not bootstrap:
        pytest.fail(f"RAFKA_BOOTSTRAP is not set: {HOW_TO_START}", pytrace=False)
    errors = []
    for hostport in bootstrap.split(","):
        host, _, port = hostport.rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=3):
                return bootstrap
        except (OSError, ValueError) as e:
            errors.append(f"{hostport}: {e}")
    pytest.fail(
        f"no broker of RAFKA_BOOTSTRAP={bootstrap} accepts connections ({'; '.join(errors)}): {HOW_TO_START}",
        pytrace=False,
    )


def require_kcat() -> str:
    path = shutil.which("kcat")
    if path is None:
        pytest.fail("kcat is not installed: apt-get install kcat (.ci/run installs it)", pytrace=False)
    return path


@dataclass(frozen=True)
class Record:
    """One record as Kafka's Java consumer saw it; key and value are bytes or None."""

    partition: int
    offset: int
    key: Optional[bytes]
    value: Optional[bytes]
    headers: tuple[tuple[str, Optional[bytes]], ...]


def _field_bytes(obj: dict, name: str) -> Optional[bytes]:
    text = obj[name]
    if text is None:
        return None
    if obj.get(f"{name}_encoding") == "base64":
        return base64.b64decode(text)
    return text.encode("utf-8")


def parse_consume_output(stdout: str) -> list[Record]:
    records = []
    for line in stdout.splitlines():
        obj = json.loads(line)
        headers = tuple((h["key"], _field_bytes(h, "value")) for h in obj["headers"])
        records.append(
            Record(obj["partition"], obj["offset"], _field_bytes(obj, "key"), _field_bytes(obj, "value"), headers)
        )
    return records


class Cluster:
    """A local cluster driven through rafkatools.cluster (the module behind scripts/kafka).

    `state_dir` None means "only the bootstrap": data commands go to `bootstrap`, as
    `scripts/kafka ... --bootstrap` does. Failures raise rafkatools.cluster.KafkaError with the
    tool's message.
    """

    def __init__(self, bootstrap: str, state_dir: Optional[Path] = None):
        self.bootstrap = bootstrap
        self.state_dir = state_dir
        self.kafka = LocalKafka(state_dir)

    def run(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        """The `scripts/kafka` command itself, for tests of its command line."""
        env = dict(os.environ)
        if self.state_dir is not None:
            env["RAFKA_KAFKA_STATE"] = str(self.state_dir)
        proc = subprocess.run(
            [str(KAFKA_SCRIPT), *args], env=env, capture_output=True, text=True, timeout=timeout
        )
        if check and proc.returncode != 0:
            pytest.fail(
                f"scripts/kafka {' '.join(args)} exited {proc.returncode}\n"
                f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}",
                pytrace=False,
            )
        return proc

    def create_topic(self, name: str, partitions: int, replication_factor: Optional[int] = None,
                     configs: Optional[dict[str, str]] = None) -> None:
        self.kafka.create_topic(name, partitions, replication_factor, configs, bootstrap=self.bootstrap)

    def delete_topic(self, name: str) -> None:
        self.kafka.delete_topic(name, bootstrap=self.bootstrap)

    def leaders(self, topic: str) -> dict[int, int]:
        """partition -> leader node id, from Kafka's TopicCommand --describe."""
        out = self.kafka.describe_topic(topic, bootstrap=self.bootstrap)
        found = {int(p): int(l) for p, l in re.findall(r"Partition:\s*(\d+)\s+Leader:\s*(-?\d+)", out)}
        assert found, f"no partitions in describe output:\n{out}"
        return found

    def consume(self, topic: str, max_records: Optional[int] = None, idle_timeout_s: int = 20) -> list[Record]:
        proc = self.kafka.consume(topic, max_records, idle_timeout_s, bootstrap=self.bootstrap,
                                  run_timeout=idle_timeout_s + 120)
        if proc.returncode != 0:
            pytest.fail(f"consume {topic} exited {proc.returncode}:\n{proc.stderr[-3000:]}", pytrace=False)
        return parse_consume_output(proc.stdout)


def kcat_produce(bootstrap: str, topic: str, partition: int,
                 records: Sequence[tuple[Optional[bytes], bytes]],
                 properties: Iterable[str] = (), headers: Iterable[str] = ()) -> None:
    """Writes records to one partition with kcat, in order.

    A record with a key is sent as `key<TAB>value`; one without as `value`, which kcat sends
    with a null key. Keys and values must not contain newlines, and values of keyless
    records no tab.
    """
    lines = []
    for key, value in records:
        assert b"\n" not in value and (key is None or (b"\n" not in key and b"\t" not in key and key))
        if key is None:
            assert b"\t" not in value
            lines.append(value)
        else:
            lines.append(key + b"\t" + value)
    cmd = [require_kcat(), "-P", "-b", bootstrap, "-t", topic, "-p", str(partition), "-K", "\t"]
    for prop in properties:
        cmd += ["-X", prop]
    for header in headers:
        cmd += ["-H", header]
    proc = subprocess.run(cmd, input=b"\n".join(lines) + b"\n", capture_output=True, timeout=180)
    if proc.returncode != 0:
        pytest.fail(
            f"kcat exited {proc.returncode} writing to {topic}/{partition}:\n"
            f"{proc.stderr.decode('utf-8', 'replace')[-3000:]}",
            pytrace=False,
        )


def by_partition(records: Iterable[Record]) -> dict[int, list[Record]]:
    out: dict[int, list[Record]] = {}
    for r in records:
        out.setdefault(r.partition, []).append(r)
    return out


def free_port_base(candidates: Iterable[int], controller_offset: int = CONTROLLER_OFFSET, nodes: int = 3) -> int:
    """First base port P whose broker ports P.. and controller ports P+offset.. are all free."""
    for base in candidates:
        ports = [base + i for i in range(nodes)] + [base + controller_offset + i for i in range(nodes)]
        if all(_port_free(p) for p in ports):
            return base
    raise RuntimeError("no free port range for a test cluster")


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
