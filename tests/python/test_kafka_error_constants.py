"""KafkaError has every code constant confluent-kafka's KafkaError has, with librdkafka's numbers,
so code written for confluent-kafka that compares codes (`err.code() == KafkaError._ALL_BROKERS_DOWN`,
or against a literal) keeps working after `import rafka as confluent_kafka`."""
import confluent_kafka

import rafka


def _int_constants(cls):
    return {n: getattr(cls, n) for n in dir(cls) if type(getattr(cls, n)) is int}


def test_every_confluent_kafka_constant_exists_with_the_same_number():
    theirs = _int_constants(confluent_kafka.KafkaError)
    ours = _int_constants(rafka.KafkaError)
    assert len(theirs) > 150, theirs
    missing = sorted(n for n in theirs if n not in ours)
    assert missing == []
    different = {n: (ours[n], v) for n, v in theirs.items() if ours[n] != v}
    assert different == {}


def test_codes_rafka_never_reports_still_have_librdkafkas_names():
    e = rafka.KafkaError(rafka.KafkaError._ALL_BROKERS_DOWN)
    assert e.code() == -187
    assert e.name() == "_ALL_BROKERS_DOWN"
    assert rafka.KafkaError._RESOLVE == -193
    assert rafka.KafkaError._SSL == -181
    assert rafka.KafkaError._AUTHENTICATION == -169
    assert rafka.KafkaError.UNKNOWN_TOPIC_OR_PART == 3


def test_every_code_has_the_name_confluent_kafka_gives_it():
    codes = set(_int_constants(confluent_kafka.KafkaError).values())
    different = {c: (rafka.KafkaError(c).name(), confluent_kafka.KafkaError(c).name()) for c in codes
                 if rafka.KafkaError(c).name() != confluent_kafka.KafkaError(c).name()}
    assert different == {}
