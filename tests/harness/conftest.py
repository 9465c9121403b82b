"""Fixtures for the harness tests: the shared local cluster and a private 3-broker one."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from localkafka import Cluster, free_port_base, require_bootstrap, require_kcat  # noqa: E402
from rafkatools.cluster import KafkaError  # noqa: E402


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    """The cluster named by RAFKA_BOOTSTRAP; the test fails (never skips) without one."""
    return Cluster(require_bootstrap())


@pytest.fixture(scope="session")
def kcat() -> str:
    return require_kcat()


@pytest.fixture(scope="module")
def three_brokers():
    """A private 3-node cluster with its own state dir and ports, always torn down.

    RAFKA_TEST_CLUSTER3_PORT pins its first broker port; otherwise the first free range
    from 19492 on is taken, so it never collides with the shared cluster on 19092.
    """
    pinned = os.environ.get("RAFKA_TEST_CLUSTER3_PORT")
    base = int(pinned) if pinned else free_port_base(range(19492, 19992, 100))
    state = Path(tempfile.mkdtemp(prefix="rafka-kafka3-"))
    c = Cluster("", state)
    try:
        c.bootstrap = c.kafka.up(brokers=3, port=base).bootstrap
        yield c
    finally:
        try:
            c.kafka.down()
            shutil.rmtree(state, ignore_errors=True)
        except KafkaError as e:
            print(f"stopping the cluster of {state} failed: {e}", file=sys.stderr)
