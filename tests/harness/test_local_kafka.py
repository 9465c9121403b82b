"""The test foundation proves itself: kcat writes, Kafka's own consumer reads back exactly that.

Nothing here is rafka code yet; these tests pin down that `scripts/kafka` and its consumer
report what a broker really holds, so later producer tests can trust them.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from typing import Optional

import pytest

from localkafka import Cluster, Record, by_partition, kcat_produce

# Values a record may carry: JSON-special characters, multi-byte UTF-8, and bytes that are
# not UTF-8 at all (which the consumer must hand back base64-encoded).
ODD_VALUES = [
    b'quote " and backslash \\ and slash /',
    b"control \x01\x1f chars",
    "umlaut \u00fc, kanji \u65e5\u672c, emoji \U0001F680".encode("utf-8"),
    b"not utf-8 \xff\xfe\x80",
    b"\xc3\x28 broken two-byte sequence",
]


def make_records(seed: int, partitions: int, count: int) -> dict[int, list[tuple[Optional[bytes], bytes]]]:
    """`count` records spread over partitions; about two thirds keyed (with repeated keys)."""
    rng = random.Random(seed)
    per_partition: dict[int, list[tuple[Optional[bytes], bytes]]] = {p: [] for p in range(partitions)}
    for i in range(count):
        p = rng.randrange(partitions)
        key = None if rng.random() < 0.33 else f"key-{rng.randrange(40)}".encode()
        value = f"value-{i}-".encode() + rng.choice(ODD_VALUES) + bytes([rng.randrange(0x20, 0x7f)])
        per_partition[p].append((key, value))
    return per_partition


def assert_read_back_exactly(got: list[Record], written: dict[int, list[tuple[Optional[bytes], bytes]]]) -> None:
    expected_total = sum(len(v) for v in written.values())
    assert len(got) == expected_total, f"wrote {expected_total} records, read {len(got)}"
    assert Counter((r.key, r.value) for r in got) == Counter(kv for recs in written.values() for kv in recs)
    got_by_p = by_partition(got)
    assert set(got_by_p) == {p for p, recs in written.items() if recs}
    for p, recs in written.items():
        records = got_by_p.get(p, [])
        assert [(r.key, r.value) for r in records] == recs, f"partition {p} differs from what kcat wrote"
        assert [r.offset for r in records] == list(range(len(recs))), f"partition {p} offsets not 0..n-1"


def unique_topic(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_records_written_by_kcat_are_read_back_exactly_per_partition(cluster: Cluster, kcat: str) -> None:
    topic = unique_topic("harness-kcat")
    cluster.create_topic(topic, partitions=3)
    try:
        written = make_records(seed=1, partitions=3, count=1000)
        assert all(len(recs) > 250 for recs in written.values())
        for p, recs in written.items():
            # Headers only on partition 2, to see both "no headers" and "headers" read back.
            kcat_produce(cluster.bootstrap, topic, p, recs, headers=["origin=kcat"] if p == 2 else [])

        got = cluster.consume(topic)

        assert_read_back_exactly(got, written)
        for r in got:
            assert r.headers == ((("origin", b"kcat"),) if r.partition == 2 else ())
        assert any(r.key is None for r in got) and any(r.key is not None for r in got)
    finally:
        cluster.delete_topic(topic)


def test_consume_stops_after_max_records(cluster: Cluster, kcat: str) -> None:
    topic = unique_topic("harness-max")
    cluster.create_topic(topic, partitions=1)
    try:
        kcat_produce(cluster.bootstrap, topic, 0, [(None, f"m{i}".encode()) for i in range(20)])
        got = cluster.consume(topic, max_records=5)
        assert [r.value for r in got] == [f"m{i}".encode() for i in range(5)]
    finally:
        cluster.delete_topic(topic)


def test_consume_of_a_missing_topic_fails_with_a_message(cluster: Cluster) -> None:
    proc = cluster.run("consume", unique_topic("harness-missing"), "--timeout", "3",
                       "--bootstrap", cluster.bootstrap, check=False)
    assert proc.returncode != 0
    assert "does not exist" in proc.stderr


# ---- three brokers, one killed ------------------------------------------------------------

ACKS_ALL = ["acks=all", "enable.idempotence=true", "message.timeout.ms=90000"]


@pytest.fixture
def all_three_running(three_brokers: Cluster) -> Cluster:
    """Brings back any broker an earlier test killed, so each test starts from a full cluster."""
    k = three_brokers.kafka
    for node in range(1, 4):
        if k.node_state(node) != "running":
            k.restart(node)
    return three_brokers


def create_replicated_topic(c: Cluster, prefix: str) -> str:
    topic = unique_topic(prefix)
    c.create_topic(topic, partitions=3, replication_factor=3, configs={"min.insync.replicas": "2"})
    return topic


def test_rf3_topic_keeps_every_record_when_its_leader_broker_is_killed(all_three_running: Cluster) -> None:
    c = all_three_running
    topic = create_replicated_topic(c, "harness-rf3-kill")
    written = make_records(seed=2, partitions=3, count=300)
    for p, recs in written.items():
        kcat_produce(c.bootstrap, topic, p, recs, properties=ACKS_ALL)

    victim = c.leaders(topic)[0]
    c.kafka.kill(victim)
    assert c.kafka.node_state(victim) == "down"
    status = c.run("status", check=False)  # the command says so too, and exits 3 for a cluster not fully running
    assert f"node {victim}: down" in status.stdout and status.returncode == 3

    assert_read_back_exactly(c.consume(topic, idle_timeout_s=40), written)
    assert victim not in c.leaders(topic).values()


def test_rf3_topic_accepts_acks_all_writes_with_one_broker_down(all_three_running: Cluster) -> None:
    c = all_three_running
    topic = create_replicated_topic(c, "harness-rf3-down")
    before = make_records(seed=3, partitions=3, count=150)
    for p, recs in before.items():
        kcat_produce(c.bootstrap, topic, p, recs, properties=ACKS_ALL)

    victim = c.leaders(topic)[1]
    c.kafka.kill(victim)
    during = make_records(seed=4, partitions=3, count=150)
    for p, recs in during.items():
        kcat_produce(c.bootstrap, topic, p, recs, properties=ACKS_ALL)

    written = {p: before[p] + during[p] for p in range(3)}
    assert_read_back_exactly(c.consume(topic, idle_timeout_s=40), written)
