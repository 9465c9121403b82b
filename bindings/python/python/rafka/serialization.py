"""confluent-kafka's ``confluent_kafka.serialization`` for producers: the context a serializer is
called with, its errors, and the string, integer and double serializers.

A serializer is any callable ``serializer(obj, ctx) -> bytes or None``. Those written for
confluent-kafka (its Schema Registry serializers too) work unchanged: they read ``ctx.topic``,
``ctx.field`` and ``ctx.headers`` only.
"""
import struct

from rafka._rafka import KafkaError, KafkaException

__all__ = ["DoubleSerializer", "IntegerSerializer", "KeySerializationError", "MessageField", "SerializationContext",
           "SerializationError", "Serializer", "SerializerBuilder", "StringSerializer", "ValueSerializationError"]


class MessageField:
    """Which part of the record a serializer is asked for: plain strings, so they compare equal
    to confluent-kafka's ``MessageField`` members (a ``str`` enum) and concatenate as they do."""

    NONE = "none"
    KEY = "key"
    VALUE = "value"


class SerializationContext:
    """What a serializer is told: the record's topic, the field it serializes, its headers."""

    def __init__(self, topic, field, headers=None):
        self.topic = topic
        self.field = field
        self.headers = headers


class SerializationError(KafkaException):
    """A serializer could not turn its object into bytes."""


class _FieldSerializationError(SerializationError):
    _code = ""

    def __init__(self, exception=None):
        super().__init__(KafkaError(getattr(KafkaError, self._code), str(exception)))
        self.exception = exception
        self.kafka_message = None

    @property
    def code(self):
        return self.args[0].code()

    @property
    def name(self):
        return self.args[0].name()


class KeySerializationError(_FieldSerializationError):
    """``SerializingProducer.produce()``'s key serializer raised ``exception`` (kept in
    ``.exception``); the record was not queued. ``args[0]`` is a ``KafkaError`` with code
    ``_KEY_SERIALIZATION``."""

    _code = "_KEY_SERIALIZATION"


class ValueSerializationError(_FieldSerializationError):
    """As ``KeySerializationError``, for the value (code ``_VALUE_SERIALIZATION``)."""

    _code = "_VALUE_SERIALIZATION"


class Serializer:
    """Base class of serializers: subclasses implement ``__call__(obj, ctx=None)``."""

    __slots__ = []

    def __call__(self, obj, ctx=None):
        raise NotImplementedError

    def set_cluster_id_resolver(self, resolver):
        """Called by ``SerializingProducer`` with a callable returning the cluster's id, for
        serializers that need it; the base class does not."""

    def close(self):
        """Called by ``SerializingProducer.close()`` for serializers it built from a builder."""


class SerializerBuilder:
    """Base class of builders given as ``key.serializer.builder``/``value.serializer.builder``:
    ``build(conf, is_key)`` returns the serializer and the configuration left for the producer."""

    __slots__ = []

    def build(self, conf, is_key):
        raise NotImplementedError


class _Packed(Serializer):
    __slots__ = []
    _format = ""

    def __call__(self, obj, ctx=None):
        if obj is None:
            return None
        try:
            return struct.pack(self._format, obj)
        except struct.error as e:
            raise SerializationError(str(e)) from e


class IntegerSerializer(_Packed):
    """An int as 4 bytes, big-endian, signed (Java's IntegerSerializer); ``None`` stays ``None``."""

    __slots__ = []
    _format = ">i"


class DoubleSerializer(_Packed):
    """A float as 8 bytes, IEEE 754 big-endian (Java's DoubleSerializer); ``None`` stays ``None``."""

    __slots__ = []
    _format = ">d"


class StringSerializer(Serializer):
    """A str encoded with ``codec`` (default UTF-8); ``None`` stays ``None``."""

    __slots__ = ["codec"]

    def __init__(self, codec="utf_8"):
        self.codec = codec

    def __call__(self, obj, ctx=None):
        if obj is None:
            return None
        try:
            return obj.encode(self.codec)
        except (UnicodeError, AttributeError) as e:
            raise SerializationError(str(e)) from e
