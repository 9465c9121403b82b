"""confluent-kafka's oauth_cb against a real broker with a SASL_PLAINTEXT listener that takes
unsecured JWTs (scripts/kafka up --security sasl_plaintext, own state dir and port, stopped
after the module); records read back with Kafka's Java consumer."""
import base64
import json
import os
import subprocess
import time
import uuid

import pytest

import rafka

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KAFKA = os.path.join(ROOT, "scripts/kafka")
STATE = {"RAFKA_KAFKA_STATE": "/tmp/rafka-py-sasl"}


@pytest.fixture(scope="module")
def sasl():
    env = dict(os.environ, **STATE)
    subprocess.run([KAFKA, "down"], env=env, capture_output=True)
    out = subprocess.run([KAFKA, "up", "--port", "19782", "--security", "sasl_plaintext"], env=env,
                         capture_output=True, text=True)
    if out.returncode != 0:
        pytest.fail("could not start the SASL broker:\n" + out.stdout + out.stderr)
    secure = [l.split("=", 1)[1] for l in out.stdout.splitlines() if l.startswith("secure.bootstrap.servers=")][0]
    yield env, secure
    subprocess.run([KAFKA, "down"], env=env, capture_output=True)


def jwt(sub):
    """An unsecured JWT (alg none), what Kafka's default OAUTHBEARER validator accepts."""
    b64 = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
    now = int(time.time())
    return b64({"alg": "none"}) + "." + b64({"sub": sub, "iat": now, "exp": now + 3600}) + "."


def topic(env):
    name = "py-oauth-" + uuid.uuid4().hex[:10]
    subprocess.run([KAFKA, "topic", "create", name, "--partitions", "2"], env=env, check=True, capture_output=True)
    return name


def conf(secure, cb, **extra):
    c = {"bootstrap.servers": secure, "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "OAUTHBEARER",
         "oauth_cb": cb, "max.block.ms": 15000}
    c.update(extra)
    return c


def test_a_token_from_oauth_cb_authenticates_and_records_read_back(sasl):
    env, secure = sasl
    t = topic(env)
    seen = []

    def cb(config):
        seen.append(config)
        return jwt("alice"), time.time() + 3600

    p = rafka.Producer(conf(secure, cb, **{"sasl.oauthbearer.config": "scope=produce"}))
    errors = []
    for i in range(10):
        p.produce(t, value=b"v%d" % i, on_delivery=lambda e, m: errors.append(e))
    assert p.flush(30) == 0
    assert errors == [None] * 10
    assert seen and seen[0] == "scope=produce", "the callback gets sasl.oauthbearer.config"
    out = subprocess.run([KAFKA, "consume", t, "--max", "10"], env=env, check=True, capture_output=True, text=True).stdout
    values = sorted(json.loads(l)["value"] for l in out.splitlines() if l.startswith("{"))
    assert values == sorted("v%d" % i for i in range(10))


def test_oauth_cb_is_asked_again_when_the_token_nears_expiry(sasl):
    env, secure = sasl
    calls = []

    def cb(_config):
        calls.append(time.time())
        return jwt("bob"), time.time() + 2.0  # refreshed at 80% of 2 s

    p = rafka.Producer(conf(secure, cb))
    deadline = time.time() + 5
    while time.time() < deadline and len(calls) < 2:
        p.poll(0.2)
    assert len(calls) >= 2, calls
    t = topic(env)
    p.produce(t, value=b"after-refresh")
    assert p.flush(30) == 0


def test_an_oauth_cb_that_raises_fails_records_fast_with_an_authentication_error(sasl):
    env, secure = sasl
    t = topic(env)

    def cb(_config):
        raise RuntimeError("identity provider unreachable")

    p = rafka.Producer(conf(secure, cb))
    started = time.time()
    failures = []
    try:
        p.produce(t, value=b"x", on_delivery=lambda e, m: failures.append(e))
        p.flush(20)
    except rafka.KafkaException as e:
        failures.append(e.args[0])
    assert time.time() - started < 20
    assert len(failures) == 1 and failures[0] is not None, failures
    err = failures[0]
    assert err.code() == 58, err  # SASL_AUTHENTICATION_FAILED
    assert "identity provider unreachable" in err.str(), err.str()


def test_sasl_oauthbearer_config_without_oauth_cb_is_a_configuration_error():
    with pytest.raises(rafka.KafkaException) as e:
        rafka.Producer({"bootstrap.servers": "127.0.0.1:1", "sasl.oauthbearer.config": "principal=alice"})
    assert "oauth_cb" in str(e.value)


def test_set_sasl_credentials_are_used_by_connections_opened_afterwards(sasl):
    """confluent-kafka's set_sasl_credentials(): connections opened after the call (here after
    connections.max.idle.ms closed the old ones) authenticate with the new credentials."""
    env, secure = sasl
    t = topic(env)
    p = rafka.Producer({"bootstrap.servers": secure, "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
                        "sasl.username": "alice", "sasl.password": "alice-secret", "connections.max.idle.ms": 1000,
                        "max.block.ms": 15000})
    reports = []

    def send(value):
        p.produce(t, value=value, partition=0, on_delivery=lambda e, m: reports.append((value, e)))
        p.flush(30)

    send(b"as-alice")
    p.set_sasl_credentials("bob", "bob-secret")
    time.sleep(3.5)
    send(b"as-bob")
    p.set_sasl_credentials("bob", "wrong-password")
    time.sleep(3.5)
    try:
        send(b"refused")
    except rafka.KafkaException as e:
        if len(reports) == 2:  # the fatal error reached flush() before the report
            reports.append((b"refused", e.args[0]))
    assert [(v, e is None) for v, e in reports] == [(b"as-alice", True), (b"as-bob", True), (b"refused", False)]
    assert reports[2][1].code() == 58, reports[2][1]  # SASL_AUTHENTICATION_FAILED
    out = subprocess.run([KAFKA, "consume", t, "--max", "2"], env=env, check=True, capture_output=True, text=True).stdout
    assert [json.loads(l)["value"] for l in out.splitlines() if l.startswith("{")] == ["as-alice", "as-bob"]


def test_set_sasl_credentials_without_sasl_is_refused_naming_why():
    p = rafka.Producer({"bootstrap.servers": "127.0.0.1:1"})
    with pytest.raises(rafka.KafkaException) as e:
        p.set_sasl_credentials("alice", "alice-secret")
    assert e.value.args[0].code() == rafka.KafkaError._INVALID_ARG
    assert "does not authenticate with SASL" in str(e.value)
