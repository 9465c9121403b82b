"""scripts/kafka's bad-use paths end with a message naming the problem and what to do."""
from __future__ import annotations

import os
import socket
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KAFKA = str(ROOT / "scripts" / "kafka")


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([KAFKA, *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=120)


def test_unknown_command_names_it_and_points_to_help():
    r = run("frobnicate")
    assert r.returncode == 2
    assert "unknown command 'frobnicate'" in r.stderr and "scripts/kafka help" in r.stderr


def test_topic_create_without_partitions_says_what_is_missing():
    r = run("topic", "create", "some-topic")
    assert r.returncode != 0
    assert "--partitions" in r.stderr


def test_up_on_a_taken_port_names_the_port_and_the_way_out():
    with tempfile.TemporaryDirectory() as state, socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = run("up", "--port", str(port), env={"RAFKA_KAFKA_STATE": state})
        assert r.returncode != 0
        assert f"port {port} is already in use" in r.stderr
        assert "--port" in r.stderr


def test_missing_java_is_named_with_how_to_install_it():
    with tempfile.TemporaryDirectory() as state:
        r = run("up", env={"RAFKA_KAFKA_STATE": state, "JAVA": "/nonexistent/java"})
        assert r.returncode != 0
        assert "java not found" in r.stderr and "openjdk-17" in r.stderr


def test_fault_commands_on_a_stopped_cluster_say_it_is_not_running():
    with tempfile.TemporaryDirectory() as state:
        r = run("kill", "1", env={"RAFKA_KAFKA_STATE": state})
        assert r.returncode != 0
        assert f"no cluster in {state}" in r.stderr and "scripts/kafka up" in r.stderr


def test_a_kafka_version_maven_cannot_fetch_is_named_with_what_to_check():
    with tempfile.TemporaryDirectory() as cache:
        r = run("fetch", "--version", "9.9.9", env={"RAFKA_CACHE": cache})
    assert r.returncode != 0
    assert "could not fetch Kafka 9.9.9" in r.stderr and "Maven Central" in r.stderr
