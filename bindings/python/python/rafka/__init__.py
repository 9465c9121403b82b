"""rafka: a Kafka producer with confluent-kafka's Producer API.

The native module ``rafka._rafka`` does the work; this package re-exports it and adds the
Pythonic ``send()`` on top of ``produce()``.
"""
import time
from concurrent.futures import Future

from rafka._rafka import ConsumerGroupMetadata, KafkaError, KafkaException, Message, ThrottleEvent, TopicPartition
from rafka._rafka import Producer as _NativeProducer
from rafka._rafka import consistent, fnv1a, libversion, murmur2, version
from rafka.admin import BrokerMetadata, ClusterMetadata, PartitionMetadata, TopicMetadata
from rafka.serialization import (KeySerializationError, MessageField, SerializationContext, SerializationError,
                                 ValueSerializationError)

__all__ = ["BrokerMetadata", "ClusterMetadata", "ConsumerGroupMetadata", "KafkaError", "KafkaException", "Message",
           "PartitionMetadata", "Producer", "SerializingProducer", "ThrottleEvent", "TopicMetadata", "TopicPartition",
           "TIMESTAMP_NOT_AVAILABLE", "TIMESTAMP_CREATE_TIME", "TIMESTAMP_LOG_APPEND_TIME",
           "consistent", "fnv1a", "libversion", "murmur2", "version"]

# The first item of ``Message.timestamp()``, with confluent-kafka's values.
TIMESTAMP_NOT_AVAILABLE = 0
TIMESTAMP_CREATE_TIME = 1
TIMESTAMP_LOG_APPEND_TIME = 2


class Producer(_NativeProducer):
    """confluent-kafka's Producer, plus ``send()`` returning a ``concurrent.futures.Future``."""

    def __init__(self, conf=None, **kwargs):
        conf = dict(conf or {}, **kwargs)
        self._max_block_s = float(conf.get("max.block.ms", 60000)) / 1000.0

    def __bool__(self):
        # True also with nothing queued, as confluent-kafka's Producer is (``__len__`` alone
        # would make ``if producer:`` false whenever no record is in flight).
        return True

    def cluster_id(self, timeout=-1):
        """The cluster's id (confluent-kafka's ``cluster_id()``), from a Metadata request;
        raises ``KafkaException`` (``_TIMED_OUT``) after ``timeout`` seconds (-1: for ever)."""
        return self.list_topics(timeout=timeout).cluster_id

    def send(self, topic, value, key=None, headers=None, partition=None, timestamp=None):
        """Queue one record and return a Future resolved with its ``Message`` (or failed with
        ``KafkaException``). Waits up to ``max.block.ms`` for buffer space, serving delivery
        reports (GIL released) meanwhile. Futures are resolved by ``poll``/``flush``/``close``."""
        fut = Future()
        fut.set_running_or_notify_cancel()

        def done(err, msg):
            if err is None:
                fut.set_result(msg)
            else:
                fut.set_exception(KafkaException(err))

        deadline = time.monotonic() + self._max_block_s
        while True:
            try:
                self.produce(topic, value=value, key=key, partition=-1 if partition is None else partition,
                             on_delivery=done, timestamp=timestamp or 0, headers=headers)
                return fut
            except BufferError:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise
                self.poll(min(left, 0.05))


class SerializingProducer(Producer):
    """confluent-kafka's ``SerializingProducer``: ``produce(topic, key=, value=)`` runs the
    configured ``key.serializer`` and ``value.serializer`` (callables ``(obj,
    SerializationContext) -> bytes``, see ``rafka.serialization``) on the calling thread before
    queueing the record. ``key.serializer.builder``/``value.serializer.builder`` name a builder
    (``build(conf, is_key) -> (serializer, conf left)``) whose serializer the producer owns and
    closes in ``close()``. ``send()`` serializes too."""

    def __new__(cls, conf=None, **kwargs):
        conf = dict(conf or {}, **kwargs)
        serializers, owned, leftovers = [], [], []
        try:
            for prop, is_key in (("key.serializer", True), ("value.serializer", False)):
                ready, builder = conf.pop(prop, None), conf.pop(prop + ".builder", None)
                if ready is not None and builder is not None:
                    raise ValueError(f"{prop} and {prop}.builder are both set; give one of them")
                if builder is not None:
                    ready, left = builder.build(dict(conf), is_key)
                    owned.append(ready)
                    leftovers.append(left)
                if ready is not None and not callable(ready):
                    raise TypeError(f"{prop} must be a callable (obj, SerializationContext) -> bytes, "
                                    f"not {type(ready).__name__}")
                serializers.append(ready)
            # A key a builder took for itself (a Schema Registry URL, say) is not the producer's.
            for left in leftovers:
                conf = {k: v for k, v in conf.items() if k in left}
            self = super().__new__(cls, conf)
        except BaseException:
            _close_all(owned)
            raise
        self._serializers = serializers
        self._owned = owned
        self._closed = False
        for s in serializers:
            resolver = getattr(s, "set_cluster_id_resolver", None)
            if callable(resolver):
                resolver(self._resolve_cluster_id)
        return self

    def _resolve_cluster_id(self):
        try:
            return self.cluster_id(timeout=60)
        except KafkaException as e:
            raise SerializationError(e.args[0]) from e

    def produce(self, topic, key=None, value=None, partition=-1, on_delivery=None, timestamp=0, headers=None,
                **kwargs):
        """Serializes ``key`` and ``value`` (``KeySerializationError``/``ValueSerializationError``
        wrap what a serializer raises; nothing is queued then), then ``Producer.produce()``.
        Checks that the producer is open and ``topic`` a str first, so serializers never run for
        a record that cannot be sent."""
        if self._closed:
            raise RuntimeError("the producer is closed")
        if not isinstance(topic, str):
            raise TypeError(f"topic must be a str, not {type(topic).__name__}")
        key_ser, value_ser = self._serializers
        ctx = SerializationContext(topic, MessageField.KEY, headers)
        if key_ser is not None:
            try:
                key = key_ser(key, ctx)
            except Exception as e:
                raise KeySerializationError(e) from e
        ctx.field = MessageField.VALUE
        if value_ser is not None:
            try:
                value = value_ser(value, ctx)
            except Exception as e:
                raise ValueSerializationError(e) from e
        super().produce(topic, value, key, partition, on_delivery=on_delivery, timestamp=timestamp,
                        headers=headers, **kwargs)

    def close(self, timeout=None):
        """Closes the producer, then the serializers it built from builders (not those given
        ready-made). Once the producer closed; if that fails they are kept for the next call."""
        super().close(timeout)
        self._closed = True
        owned, self._owned = self._owned, []
        _close_all(owned)

    def __exit__(self, *_args):
        self.close()
        return False


def _close_all(serializers):
    for s in serializers:
        close = getattr(s, "close", None)
        if callable(close):
            close()
