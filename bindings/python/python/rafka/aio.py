"""rafka.aio: an asyncio producer on the rafka engine, shaped like confluent-kafka's AIOProducer.

``await producer.produce(...)`` returns the delivered ``Message``. The engine's delivery thread
queues each report without the GIL and wakes the event loop once per batch of reports (one
``call_soon_threadsafe``); the loop then resolves the futures. No thread per call, no polling.
docs/python.md ("asyncio") tells the whole story, cancellation included.
"""
import asyncio
import atexit
import weakref

from rafka._rafka import KafkaError, KafkaException, _AioProducer, _aio_exiting

__all__ = ["AIOProducer"]

# Producers not closed yet: closed at interpreter exit so that records in flight are not lost.
_open: "weakref.WeakSet[AIOProducer]" = weakref.WeakSet()


class AIOProducer:
    """An asyncio Kafka producer. ``conf`` is the configuration dict of ``rafka.Producer``
    (``on_delivery``, ``error_cb``, ``spool_recovered_cb`` and ``logger`` included;
    ``on_delivery(err, msg)`` gets every report on the loop, also the reports of records whose
    ``produce()`` was cancelled; ``spool_recovered_cb(err, msg)``, with ``spool.dir``, gets on the
    loop the report of each record an earlier producer left in the spool, which has no future).

    It resolves its futures on the event loop running when it is created, or else on the first
    one it is used from; after that loop is closed it moves to the next one it is used from.
    """

    def __init__(self, conf=None, **kwargs):
        self._core = _AioProducer(conf, **kwargs)
        self._loop = None
        try:
            self._bind(asyncio.get_running_loop())
        except RuntimeError:
            pass
        _open.add(self)

    def _bind(self, loop):
        self._core.bind(loop)
        self._loop = loop

    def _running_loop(self):
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            if self._loop is not None and not self._loop.is_closed() and not self._core.closed and len(self._core):
                raise RuntimeError("AIOProducer has records in flight on another event loop")
            self._bind(loop)
        return loop

    async def produce(self, topic, value=None, key=None, partition=None, timestamp=None, headers=None):
        """Queue one record and return its delivered ``Message``; raises ``KafkaException`` when
        it fails. A full buffer waits for room up to ``max.block.ms``, then raises BufferError.
        Cancelled while waiting for room: nothing is queued. Cancelled once queued: the record
        is still sent; its report goes to ``on_delivery`` (a failure is logged when there is
        none)."""
        if asyncio.get_running_loop() is not self._loop:
            self._running_loop()
        try:
            fut = self._core.produce(topic, value, key, partition, timestamp, headers)
        except BufferError:
            fut = await self._when_room(self._core.produce, topic, value, key, partition, timestamp, headers)
        return await fut

    def produce_nowait(self, topic, value=None, key=None, partition=None, timestamp=None, headers=None):
        """Queue one record without waiting; returns an ``asyncio.Future`` of its ``Message``.
        Raises BufferError at once when the buffer is full. Call it from a coroutine (or a
        callback) of the loop."""
        self._running_loop()
        return self._core.produce(topic, value, key, partition, timestamp, headers)

    async def produce_batch(self, topic, messages, partition=-1):
        """Queue ``messages`` (values, ``(key, value)`` tuples or dicts with ``value``, ``key``,
        ``partition``, ``timestamp``, ``headers``) in order, waiting for buffer room as
        ``produce()`` does; returns one ``asyncio.Future`` per message, resolved with its
        ``Message`` or failed with its ``KafkaException``. Cancelled while waiting for room,
        the messages before that point are queued (their reports go to ``on_delivery``)."""
        self._running_loop()
        futures = []
        n = len(messages)
        try:
            i = self._core.produce_batch(topic, messages, futures, 0, partition)
        except BufferError:
            i = await self._when_room(self._core.produce_batch, topic, messages, futures, 0, partition)
        while i < n:
            try:
                i = self._core.produce_batch(topic, messages, futures, i, partition)
            except BufferError:
                i = await self._when_room(self._core.produce_batch, topic, messages, futures, i, partition)
        return futures

    async def _when_room(self, send, *args):
        """Calls ``send(*args)`` each time the engine has released buffer memory, until it no
        longer raises BufferError or ``max.block.ms`` has passed (then it raises the last)."""
        loop = self._loop
        deadline = loop.time() + self._core.max_block
        while True:
            left = deadline - loop.time()
            if left > 0:
                try:
                    # Shielded: a cancelled waiter must not cancel the future others share.
                    await asyncio.wait_for(asyncio.shield(self._core.room()), left)
                except asyncio.TimeoutError:
                    pass
            try:
                return send(*args)
            except BufferError:
                if loop.time() >= deadline:
                    raise

    async def flush(self, timeout=None):
        """Send everything now and wait (up to ``timeout`` s, None: for ever) until every record
        is reported and its future resolved; returns how many are still unreported. The wait
        runs on a thread of the loop's default executor."""
        loop = self._running_loop()
        left = await loop.run_in_executor(None, self._core.flush_blocking, timeout)
        self._core.serve_ready()
        return left

    async def list_topics(self, topic=None, timeout=-1):
        """The cluster's metadata (``rafka.admin.ClusterMetadata``), as ``Producer.list_topics``
        returns it; raises ``KafkaException`` (``_TIMED_OUT``) after ``timeout`` s."""
        loop = self._running_loop()
        return await loop.run_in_executor(None, self._core.list_topics_blocking, topic, timeout)

    async def cluster_id(self, timeout=-1):
        """The cluster's id, as confluent-kafka's ``AIOProducer.cluster_id()`` returns it."""
        return (await self.list_topics(timeout=timeout)).cluster_id

    async def partitions_for(self, topic, timeout=-1):
        """The set of ``topic``'s partition ids, as aiokafka's ``partitions_for()`` returns it,
        from one Metadata request. A topic the brokers do not have raises ``KafkaException``
        with their error (``UNKNOWN_TOPIC_OR_PART``); nothing is created."""
        md = (await self.list_topics(topic, timeout)).topics.get(topic)
        if md is None:
            raise KafkaException(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART, "no metadata for topic " + topic))
        if md.error is not None:
            raise KafkaException(md.error)
        return set(md.partitions)

    async def purge(self):
        """Fail every record not sent yet with ``_PURGE_QUEUE`` (their futures raise
        ``KafkaException``); records already sent are still reported as they complete."""
        loop = self._running_loop()
        await loop.run_in_executor(None, self._core.purge_blocking)

    async def close(self, timeout=None):
        """Flush (up to ``timeout`` s) and close; records not reported by then fail with
        ``_DESTROY``. Every future is resolved when it returns. Calling it again does nothing."""
        if self._core.closed:
            return
        loop = self._running_loop()
        await loop.run_in_executor(None, self._core.close_blocking, timeout)
        self._core.serve_ready()

    def __len__(self):
        return len(self._core)

    async def __aenter__(self):
        self._running_loop()
        return self

    async def __aexit__(self, *exc):
        await self.close()
        return False


@atexit.register
def _close_at_exit():
    # Records still in flight are sent (each up to its delivery.timeout.ms); their reports, with
    # no loop left to take them, go to on_delivery and are counted in a warning.
    for p in list(_open):
        if not p._core.closed:
            p._core.close_blocking(None)
    _aio_exiting()
