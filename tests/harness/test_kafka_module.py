"""rafkatools.cluster, the module behind scripts/kafka, on the paths that need no broker: the files
it writes, how it reads its state, and the command's exit codes."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from rafkatools.cluster import ClusterState, KafkaError, LocalKafka, UpResult, server_properties  # noqa: E402

KAFKA = str(ROOT / "scripts" / "kafka")


def run(*args: str, state: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "RAFKA_KAFKA_STATE": str(state)}
    return subprocess.run([KAFKA, *args], capture_output=True, text=True, env=env, timeout=60)


def three_nodes(security: str = "") -> ClusterState:
    return ClusterState(3, "4.3.1", 19092, 20092, "id", "127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094", security)


def test_up_prints_the_secured_bootstrap_before_the_plaintext_one_which_stays_last():
    assert UpResult("127.0.0.1:19092", "localhost:19192").lines() == [
        "secure.bootstrap.servers=localhost:19192", "bootstrap.servers=127.0.0.1:19092"]
    assert UpResult("127.0.0.1:19092", None).lines() == ["bootstrap.servers=127.0.0.1:19092"]


def test_a_tls_listener_is_advertised_as_localhost_the_name_in_the_test_certificate():
    assert three_nodes("sasl_ssl").secure_bootstrap == "localhost:19192,localhost:19193,localhost:19194"
    assert three_nodes("sasl_plaintext").secure_bootstrap == "127.0.0.1:19192,127.0.0.1:19193,127.0.0.1:19194"


def test_server_properties_of_node_2_name_its_ports_all_voters_and_replication_for_three(tmp_path):
    text = server_properties(three_nodes(), 2, tmp_path, ["log.segment.bytes=1048576"])
    assert "node.id=2\n" in text
    assert "controller.quorum.voters=1@127.0.0.1:20092,2@127.0.0.1:20093,3@127.0.0.1:20094\n" in text
    assert "listeners=PLAINTEXT://127.0.0.1:19093,CONTROLLER://127.0.0.1:20093\n" in text
    assert f"log.dirs={tmp_path}/node-2/data\n" in text
    assert "default.replication.factor=3\n" in text and "transaction.state.log.min.isr=2\n" in text
    assert text.endswith("\n# Added with up --set\nlog.segment.bytes=1048576\n")


def test_server_properties_with_sasl_ssl_add_a_secure_listener_with_every_mechanism_and_the_pem_stores(tmp_path):
    text = server_properties(three_nodes("sasl_ssl"), 1, tmp_path)
    assert "SECURE://:19192" in text and "SECURE://localhost:19192" in text
    assert "SECURE:SASL_SSL" in text
    assert "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER" in text
    assert 'user_alice="alice-secret" user_bob="bob-secret";' in text
    assert f"listener.name.secure.ssl.truststore.location={tmp_path}/tls/ca.pem" in text


def test_cluster_env_reads_back_what_was_written_and_a_damaged_one_is_named(tmp_path):
    s = three_nodes("ssl")
    assert ClusterState.parse(s.env_text(), tmp_path / "cluster.env") == s
    with pytest.raises(KafkaError, match="cluster.env is damaged"):
        ClusterState.parse("BROKERS=three\n", tmp_path / "cluster.env")


def test_a_pid_file_naming_a_process_that_is_not_this_nodes_broker_is_not_running(tmp_path):
    (tmp_path / "node-1").mkdir()
    (tmp_path / "node-1" / "pid").write_text(f"{os.getpid()}\n")  # pytest: alive, but not a broker of this dir
    assert LocalKafka(tmp_path).node_state(1) == "down"


def test_status_without_a_cluster_exits_3_and_down_without_one_succeeds(tmp_path):
    status = run("status", state=tmp_path)
    assert status.returncode == 3 and status.stdout.strip() == f"no cluster in {tmp_path}"
    down = run("down", state=tmp_path)
    assert down.returncode == 0 and f"nothing to stop: no cluster in {tmp_path}" in down.stderr


@pytest.mark.parametrize("args, message", [
    (("up", "--brokers", "2"), "--brokers must be 1 or 3, got '2'"),
    (("up", "--set", "nokey"), "--set takes key=value without spaces, got 'nokey'"),
    (("up", "--security", "tls"), "--security takes sasl_plaintext, ssl or sasl_ssl, got 'tls'"),
    (("up", "--port", "80"), "port must be a number between 1024 and 64532, got '80'"),
    (("consume", "--max", "many", "t"), "--max must be a number"),
    (("topic", "delete", "t", "--partitions", "3"), "--partitions is for topic create and alter"),
])
def test_bad_usage_exits_2_naming_the_problem_before_touching_anything(tmp_path, args, message):
    r = run(*args, state=tmp_path / "state")
    assert r.returncode == 2, r.stderr
    assert r.stderr.splitlines() == [f"scripts/kafka: {message}", "run 'scripts/kafka help' for usage"]
    assert not (tmp_path / "state").exists()
