"""rafka: a Kafka producer with confluent-kafka's Producer API.

The native module ``rafka._rafka`` does the work; this package re-exports it and adds the
Pythonic ``send()`` on top of ``produce()``.
"""
import time
from concurrent.futures import Future

from rafka._rafka import ConsumerGroupMetadata, KafkaError, KafkaException, Message, ThrottleEvent, TopicPartition
from rafka._rafka import Producer as _NativeProducer
from rafka.admin import BrokerMetadata, ClusterMetadata, PartitionMetadata, TopicMetadata

__all__ = ["BrokerMetadata", "ClusterMetadata", "ConsumerGroupMetadata", "KafkaError", "KafkaException", "Message",
           "PartitionMetadata", "Producer", "ThrottleEvent", "TopicMetadata", "TopicPartition",
           "TIMESTAMP_NOT_AVAILABLE", "TIMESTAMP_CREATE_TIME", "TIMESTAMP_LOG_APPEND_TIME"]

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
                self.produce(topic, value, key, -1 if partition is None else partition,
                             on_delivery=done, timestamp=timestamp or 0, headers=headers)
                return fut
            except BufferError:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise
                self.poll(min(left, 0.05))
