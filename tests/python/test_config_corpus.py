"""Every configuration of tests/config-corpus builds a rafka.Producer (librdkafka, Java and
confluent-kafka forms alike) and, unless it is marked construct-only, sends one record to the test
broker that Kafka's own consumer reads back."""
import json
import os
import subprocess
import uuid

import pytest

import rafka

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests", "config-corpus")
CA_PEM = "/etc/ssl/certs/ca-certificates.crt"
# The Java client's serializer classes: the Java binding's, dropped here (README.md).
JAVA_ONLY_KEYS = {"key.serializer", "value.serializer"}


def load(name):
    """(settings, construct-only reason or None) of one corpus file."""
    text = open(os.path.join(CORPUS, name)).read().replace("@CA_PEM@", CA_PEM)
    if name.endswith(".json"):
        d = json.loads(text)
        return {k: v for k, v in d.items() if not k.startswith("#")}, d.get("#construct-only")
    conf, only = {}, None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("# construct-only:"):
            only = line.split(":", 1)[1].strip()
        if not line or line.startswith("#"):
            continue
        k, v = line.split("=", 1)
        if k.strip() not in JAVA_ONLY_KEYS:
            conf[k.strip()] = v.strip()
    return conf, only


FILES = sorted(f for f in os.listdir(CORPUS) if f.endswith((".properties", ".json"))
               and "# binding: java" not in open(os.path.join(CORPUS, f)).read())


def test_the_corpus_has_each_form():
    assert any(f.endswith("-java.properties") for f in FILES)
    assert any(f.endswith("-librdkafka.properties") for f in FILES)
    assert any(f.endswith(".json") for f in FILES)


@pytest.mark.parametrize("name", FILES)
def test_corpus_configuration_builds_a_producer_that_delivers(name):
    conf, construct_only = load(name)
    b = os.environ.get("RAFKA_BOOTSTRAP")
    if not b:
        pytest.fail("RAFKA_BOOTSTRAP is not set: these tests need a running broker")
    if construct_only:
        p = rafka.Producer(conf)
        assert p.flush(0) == 0
        return
    conf["bootstrap.servers"] = b
    topic = "py-corpus-" + uuid.uuid4().hex[:10]
    subprocess.run([os.path.join(ROOT, "scripts/kafka"), "topic", "create", topic, "--partitions", "1"],
                   check=True, capture_output=True)
    p = rafka.Producer(conf)
    reports = []
    p.produce(topic, value=name.encode(), key=b"k", on_delivery=lambda e, m: reports.append(e))
    assert p.flush(30) == 0
    assert reports == [None]
    out = subprocess.run([os.path.join(ROOT, "scripts/kafka"), "consume", topic, "--max", "1"],
                         check=True, capture_output=True, text=True).stdout
    values = [json.loads(l)["value"] for l in out.splitlines() if l.strip().startswith("{")]
    assert values == [name]
