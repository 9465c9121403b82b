"""rafka.SerializingProducer and rafka.serialization against confluent-kafka's (requirements-dev.txt):
the same objects give the same bytes on the broker, read back with Kafka's consumer, and a
serializer's failure queues nothing."""
import confluent_kafka
import confluent_kafka.serialization as ck_ser
import pytest

import rafka
from rafka import KafkaError, KeySerializationError, SerializingProducer, ValueSerializationError
from rafka.serialization import (DoubleSerializer, IntegerSerializer, MessageField, SerializationContext,
                                 SerializationError, StringSerializer)
from test_producer import bootstrap, consume, new_topic, raw

ROWS = [("k-%d" % i, i * 1000 - 7, i / 3.0) for i in range(10)] + [(None, -2**31, float("inf"))]


def send_rows(producer_class, topic, value_serializer, column):
    p = producer_class({"bootstrap.servers": bootstrap(), "key.serializer": StringSerializer(),
                        "value.serializer": value_serializer})
    for row in ROWS:
        p.produce(topic, key=row[0], value=row[column], partition=0)
    assert p.flush(30) == 0
    return [(raw(r, "key"), raw(r, "value")) for r in consume(topic, len(ROWS))]


@pytest.mark.parametrize("column,ours,theirs", [(1, IntegerSerializer, ck_ser.IntegerSerializer),
                                                (2, DoubleSerializer, ck_ser.DoubleSerializer)])
def test_records_on_the_broker_are_the_bytes_confluent_kafkas_serializing_producer_writes(column, ours, theirs):
    got = send_rows(SerializingProducer, new_topic(), ours(), column)
    want = send_rows(confluent_kafka.SerializingProducer, new_topic(), theirs(), column)
    assert got == want
    assert len(got) == len(ROWS) and got[-1][0] is None


def test_serializers_run_with_the_topic_field_and_headers_and_confluent_kafkas_serializers_work_unchanged():
    topic = new_topic()
    seen = []

    def value_ser(obj, ctx):
        seen.append((ctx.topic, ctx.field, ctx.headers))
        return obj.upper().encode()

    p = SerializingProducer({"bootstrap.servers": bootstrap(), "key.serializer": ck_ser.StringSerializer("ascii"),
                             "value.serializer": value_ser})
    p.produce(topic, key="k", value="hello", headers={"h": b"1"})
    assert p.flush(30) == 0
    p.close()
    assert seen == [(topic, MessageField.VALUE, {"h": b"1"})]
    [r] = consume(topic, 1)
    assert (raw(r, "key"), raw(r, "value")) == (b"k", b"HELLO")


def test_a_failing_value_serializer_raises_value_serialization_error_and_queues_nothing():
    topic = new_topic()
    p = SerializingProducer({"bootstrap.servers": bootstrap(), "value.serializer": IntegerSerializer()})
    with pytest.raises(ValueSerializationError) as e:
        p.produce(topic, key=b"k", value=2**40)
    assert isinstance(e.value, SerializationError) and isinstance(e.value, rafka.KafkaException)
    assert e.value.args[0].code() == KafkaError._VALUE_SERIALIZATION == e.value.code
    assert isinstance(e.value.exception, SerializationError)
    assert len(p) == 0
    p.produce(topic, key=b"after", value=5)
    assert p.flush(30) == 0
    assert [raw(r, "key") for r in consume(topic, 2)] == [b"after"]


def test_a_failing_key_serializer_raises_key_serialization_error_before_the_value_serializer_runs():
    ran = []
    p = SerializingProducer({"bootstrap.servers": bootstrap(), "key.serializer": StringSerializer(),
                             "value.serializer": lambda v, ctx: ran.append(v) or b"v"})
    with pytest.raises(KeySerializationError) as e:
        p.produce(new_topic(), key=12, value="x")
    assert e.value.code == KafkaError._KEY_SERIALIZATION and ran == [] and len(p) == 0


def test_send_serializes_and_its_future_gives_the_offset():
    topic = new_topic()
    p = SerializingProducer({"bootstrap.servers": bootstrap(), "key.serializer": StringSerializer(),
                             "value.serializer": IntegerSerializer()})
    fut = p.send(topic, 42, key="answer")
    assert p.flush(30) == 0  # reports, and so futures, are served by poll() and flush()
    msg = fut.result(0)
    p.close()
    assert msg.offset() == 0
    [r] = consume(topic, 1)
    assert (raw(r, "key"), raw(r, "value")) == (b"answer", (42).to_bytes(4, "big"))


class Registry:
    """A builder that takes its own key out of the configuration, as a Schema Registry builder does."""

    def __init__(self):
        self.built = []

    def build(self, conf, is_key):
        conf = dict(conf)
        prefix = conf.pop("example.registry.prefix")
        ser = Prefixing(prefix)
        self.built.append(ser)
        return ser, conf


class Prefixing:
    def __init__(self, prefix):
        self.prefix, self.closed, self.resolver = prefix, 0, None

    def __call__(self, obj, ctx):
        return self.prefix + obj

    def set_cluster_id_resolver(self, resolver):
        self.resolver = resolver

    def close(self):
        self.closed += 1


def test_a_serializer_builder_takes_its_keys_and_the_producer_closes_what_it_built_not_what_it_was_given():
    topic = new_topic()
    builder, given = Registry(), Prefixing(b"given:")
    p = SerializingProducer({"bootstrap.servers": bootstrap(), "example.registry.prefix": b"built:",
                             "value.serializer.builder": builder, "key.serializer": given})
    [built] = builder.built
    assert built.resolver() == p.cluster_id() == given.resolver()
    p.produce(topic, key=b"k", value=b"v")
    p.close()
    assert (built.closed, given.closed) == (1, 0)
    [r] = consume(topic, 1)
    assert (raw(r, "key"), raw(r, "value")) == (b"given:k", b"built:v")
    with pytest.raises(RuntimeError):
        p.produce(topic, value=b"late")


def test_a_key_a_builder_does_not_take_is_refused_as_unknown_by_the_producer():
    with pytest.raises(rafka.KafkaException) as e:
        SerializingProducer({"bootstrap.servers": bootstrap(), "example.registry.prefix": b"x"})
    assert "example.registry.prefix" in str(e.value)


def test_a_serializer_and_its_builder_together_or_a_serializer_not_callable_are_refused():
    with pytest.raises(ValueError, match="value.serializer and value.serializer.builder"):
        SerializingProducer({"bootstrap.servers": bootstrap(), "value.serializer": StringSerializer(),
                             "value.serializer.builder": Registry()})
    with pytest.raises(TypeError, match="key.serializer must be a callable"):
        SerializingProducer({"bootstrap.servers": bootstrap(), "key.serializer": "utf-8"})


def test_the_serializers_give_what_confluent_kafkas_give_for_the_same_objects():
    ctx = SerializationContext("t", MessageField.VALUE)
    cases = [(StringSerializer(), ck_ser.StringSerializer(), ["", "héllo", None]),
             (StringSerializer("latin_1"), ck_ser.StringSerializer("latin_1"), ["héllo"]),
             (IntegerSerializer(), ck_ser.IntegerSerializer(), [0, -1, 2**31 - 1, -2**31, None]),
             (DoubleSerializer(), ck_ser.DoubleSerializer(), [0.0, -1.5, 1e300, None])]
    for ours, theirs, objs in cases:
        for obj in objs:
            assert ours(obj, ctx) == theirs(obj, ctx), (ours, obj)
    for ours, bad in [(IntegerSerializer(), 2**31), (DoubleSerializer(), "x"), (StringSerializer("ascii"), "é")]:
        with pytest.raises(SerializationError):
            ours(bad, ctx)
    assert str(MessageField.KEY) == "key" and MessageField.VALUE == "value"
