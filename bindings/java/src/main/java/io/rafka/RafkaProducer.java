package io.rafka;

import java.lang.ref.Reference;
import java.lang.ref.WeakReference;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Future;

import io.rafka.internal.DirectRecord;
import io.rafka.internal.ErrorMapping;
import io.rafka.internal.InFlight;
import io.rafka.internal.Interceptors;
import io.rafka.internal.JavaPartitioner;
import io.rafka.internal.NativeException;
import io.rafka.internal.NativeHandle;
import io.rafka.internal.OAuthBearerTokens;
import io.rafka.internal.ProducerMetrics;
import io.rafka.internal.ProducerSettings;
import io.rafka.internal.RafkaNative;
import io.rafka.internal.SendFuture;
import io.rafka.internal.SpoolRecovered;
import io.rafka.internal.Transactions;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.ApiException;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.metrics.KafkaMetric;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.utils.Utils;

/**
 * A {@link Producer} on the rafka engine: replace {@code new KafkaProducer<>(...)} with
 * {@code new RafkaProducer<>(...)}, same arguments. Records are serialized on the calling thread,
 * copied once into the engine, and reported (callback, then future) on the engine's delivery thread.
 * Thread-safe, like KafkaProducer. Differences are listed in docs/java.md.
 */
public class RafkaProducer<K, V> implements Producer<K, V> {
    /**
     * rafka's own setting: a class implementing {@link SpoolRecoveredCallback} (a {@code Class} or
     * its name; made with its no-argument constructor, configured when it is
     * {@link org.apache.kafka.common.Configurable}, closed with the producer when it is
     * {@link AutoCloseable}), which gets the reports of records an earlier producer left in
     * {@code spool.dir}. The constructors taking a {@code SpoolRecoveredCallback} give an instance
     * instead (not both).
     */
    public static final String SPOOL_RECOVERED_CALLBACK_CLASS_CONFIG = "spool.recovered.callback.class";

    private static final byte[][] NO_HEADERS = null;

    private final NativeHandle handle;
    /** Records sent and not yet reported; the engine hands their reports back here in batches. */
    private final InFlight inFlight = new InFlight();
    private final Serializer<K> keySerializer;
    private final Serializer<V> valueSerializer;
    /** {@code interceptor.classes}; null when there are none. */
    private final Interceptors<K, V> interceptors;
    /** {@code partitioner.class} naming a Java Partitioner; null when the engine partitions. */
    private final JavaPartitioner partitioner;
    /** The metrics registry (with {@code metric.reporters}), fed from the engine's counters. */
    private final ProducerMetrics metrics;
    private final String clientId;
    /** transactional.id and the mapping of the engine's transactional errors. */
    private final Transactions transactions;
    /** The recovered-records callback made from {@link #SPOOL_RECOVERED_CALLBACK_CLASS_CONFIG} (closed with the producer), or null. */
    private final SpoolRecoveredCallback madeRecoveredCallback;
    /** The last topic's UTF-8 name: most producers send to one topic. */
    private volatile TopicName lastTopic;

    private record TopicName(String name, byte[] utf8) {}

    public RafkaProducer(Map<String, Object> configs) {
        this(configs, null, null);
    }

    public RafkaProducer(Map<String, Object> configs, Serializer<K> keySerializer, Serializer<V> valueSerializer) {
        this(new ProducerSettings(configs), keySerializer, valueSerializer, null);
    }

    /**
     * A producer (with {@code spool.dir}) whose reports of records an earlier producer left in the
     * spool go to {@code onRecovered}; see {@link SpoolRecoveredCallback}.
     */
    public RafkaProducer(Map<String, Object> configs, Serializer<K> keySerializer, Serializer<V> valueSerializer,
            SpoolRecoveredCallback onRecovered) {
        this(new ProducerSettings(configs), keySerializer, valueSerializer, requireCallback(onRecovered));
    }

    public RafkaProducer(Properties properties) {
        this(properties, null, null);
    }

    public RafkaProducer(Properties properties, Serializer<K> keySerializer, Serializer<V> valueSerializer) {
        this(new ProducerSettings(ProducerSettings.fromProperties(properties)), keySerializer, valueSerializer, null);
    }

    /** {@link #RafkaProducer(Map, Serializer, Serializer, SpoolRecoveredCallback)} with {@code Properties}. */
    public RafkaProducer(Properties properties, Serializer<K> keySerializer, Serializer<V> valueSerializer,
            SpoolRecoveredCallback onRecovered) {
        this(new ProducerSettings(ProducerSettings.fromProperties(properties)), keySerializer, valueSerializer, requireCallback(onRecovered));
    }

    private static SpoolRecoveredCallback requireCallback(SpoolRecoveredCallback cb) {
        if (cb == null) {
            throw new IllegalArgumentException("onRecovered must not be null");
        }
        return cb;
    }

    private RafkaProducer(ProducerSettings settings, Serializer<K> keySerializer, Serializer<V> valueSerializer,
            SpoolRecoveredCallback onRecovered) {
        this.clientId = settings.clientId;
        this.transactions = new Transactions(settings.transactionalId, settings.idempotent);
        JavaPartitioner jp = null;
        Serializer<K> ks = null;
        Serializer<V> vs = null;
        Interceptors<K, V> ic = null;
        OAuthBearerTokens tokens = null;
        SpoolRecoveredCallback made = null;
        NativeHandle h = null;
        ProducerMetrics mr = null;
        try {
            // KafkaProducer's order: metrics (and their reporters), partitioner, serializers,
            // interceptors (all before the engine's settings are taken: a key only a plugin reads
            // is not the engine's).
            mr = settings.metrics(countersReader(new WeakReference<>(this)));
            jp = settings.partitioner();
            ks = settings.serializer(keySerializer, ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, true);
            vs = settings.serializer(valueSerializer, ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, false);
            ic = settings.interceptors();
            tokens = settings.oauthBearerTokens();
            made = settings.spoolRecoveredCallback(onRecovered);
            SpoolRecoveredCallback recovered = onRecovered != null ? onRecovered : made;
            long address;
            try {
                address = RafkaNative.create(settings.engineKeys(), settings.engineValues(), tokens,
                        recovered == null ? null : new SpoolRecovered(recovered), inFlight);
            } catch (NativeException e) {
                throw ErrorMapping.toException(e);
            }
            h = new NativeHandle(this, address, tokens);
        } catch (RuntimeException | Error e) {
            if (h != null) {
                h.closeAndFree(0);
            }
            Utils.closeQuietly(mr, "metrics reporters");
            Utils.closeQuietly(ic, "producer interceptors");
            Utils.closeQuietly(ks, "key serializer");
            Utils.closeQuietly(vs, "value serializer");
            Utils.closeQuietly(jp, "partitioner");
            Utils.closeQuietly(tokens, "OAUTHBEARER token source");
            closeMade(made);
            throw e;
        }
        this.madeRecoveredCallback = made;
        this.handle = h;
        this.metrics = mr;
        mr.start(this);
        this.partitioner = jp;
        this.keySerializer = ks;
        this.valueSerializer = vs;
        this.interceptors = ic;
    }

    @Override
    public Future<RecordMetadata> send(ProducerRecord<K, V> record) {
        return send(record, null);
    }

    /**
     * Serializes and queues the record. Like KafkaProducer: the interceptors' onSend runs first
     * (and may replace the record); a closed producer throws IllegalStateException, a serializer's
     * failure is thrown (a ClassCastException as a SerializationException), and errors of the Kafka
     * API kind (no room in the buffer within max.block.ms, a record too large, ...) go to the
     * callback and the returned future. A thread interrupted while send() waits for buffer space
     * or metadata gets an InterruptException (its flag set). The interceptors' onAcknowledgement
     * sees every outcome.
     */
    @Override
    public Future<RecordMetadata> send(ProducerRecord<K, V> record, Callback callback) {
        return send(record, null, callback);
    }

    /**
     * {@link #send(ProducerRecord, Callback)} with a delivery deadline of the record's own,
     * {@code timeout} from now ({@code null}: none, only {@code delivery.timeout.ms}), for a record
     * worth sending only until then (rafka's own; KafkaProducer has no such overload). A record
     * still unsent when it passes (queued, behind a full in-flight window, waiting for a leader or
     * for its topic's metadata) fails at once with a {@link org.apache.kafka.common.errors.TimeoutException}
     * saying its own deadline passed and where it waited, and its buffer memory is released. A
     * record already sent is not pulled back: under idempotence its sequence number is taken, and
     * leaving it out would be a gap the broker refuses; it completes with the broker's answer, or at
     * {@code delivery.timeout.ms}. Such a record can complete before earlier records of its
     * partition that are in flight.
     */
    public Future<RecordMetadata> send(ProducerRecord<K, V> record, Duration timeout, Callback callback) {
        long timeoutNanos = -1;
        if (timeout != null) {
            if (timeout.isNegative()) {
                throw new IllegalArgumentException("timeout must not be negative: " + timeout);
            }
            timeoutNanos = timeout.compareTo(LONGEST_TIMEOUT) > 0 ? LONGEST_TIMEOUT.toNanos() : timeout.toNanos();
        }
        Interceptors<K, V> ic = interceptors;
        if (ic == null) {
            return doSend(record, callback, null, timeoutNanos);
        }
        return doSend(ic.onSend(record), callback, ic, timeoutNanos);
    }

    /** The longest per-record timeout taken as such (a century); longer ones are capped. */
    private static final Duration LONGEST_TIMEOUT = Duration.ofDays(36500);

    private Future<RecordMetadata> doSend(ProducerRecord<K, V> record, Callback callback, Interceptors<K, V> ic, long timeoutNanos) {
        int partition = -1;
        try {
            long address = handle.acquire();
            try {
                transactions.throwIfSendRefused();
                String topic = record.topic();
                Headers headers = record.headers();
                byte[] key = serialize(keySerializer, topic, headers, record.key(), "key");
                byte[] value = serialize(valueSerializer, topic, headers, record.value(), "value");
                Callback cb = ic == null ? callback : ic.callback(callback, headers);
                SendFuture future = new SendFuture(topic, cb, key == null ? -1 : key.length, value == null ? -1 : value.length);
                partition = record.partition() == null ? -1 : record.partition();
                if (partition < 0 && partitioner != null) {
                    try {
                        partition = partitioner.partition(topic, record.key(), key, record.value(), value, this::partitionsFor);
                    } catch (ApiException e) {
                        // No metadata for the topic within max.block.ms, ...: reported like the engine's errors.
                        transactions.sendRefused(e, address);
                        future.fail(-1, e);
                        return future;
                    }
                }
                if (headers instanceof RecordHeaders) {
                    ((RecordHeaders) headers).setReadOnly();
                }
                long timestamp = record.timestamp() == null ? -1 : record.timestamp();
                int slot = inFlight.add(future);
                boolean queued = false;
                try {
                    byte[] topicUtf8 = topicBytes(topic);
                    Header[] all = headers.toArray();
                    DirectRecord direct = all.length == 0 ? DirectRecord.forThread() : null;
                    long at = direct == null ? 0 : direct.fill(topicUtf8, key, value);
                    if (at != 0) {
                        RafkaNative.sendDirect(address, at, topicUtf8.length, key == null ? -1 : key.length, value == null ? -1 : value.length,
                                partition, timestamp, timeoutNanos, slot);
                        Reference.reachabilityFence(direct);
                    } else {
                        RafkaNative.send(address, topicUtf8, partition, timestamp, key, value, headerArray(all), timeoutNanos, slot);
                    }
                    queued = true;
                } catch (NativeException e) {
                    RuntimeException refused = transactions.sendRefusal(e, topic, partition, address);
                    RuntimeException mapped = refused != null ? refused : ErrorMapping.forSend(e, topic, partition);
                    if (mapped instanceof ApiException) {
                        if (refused == null) {
                            transactions.sendRefused(mapped, address);
                        }
                        future.fail(partition, mapped);
                        return future;
                    }
                    throw mapped;
                } finally {
                    if (!queued) {
                        inFlight.remove(slot); // no report will come for it
                    }
                }
                return future;
            } finally {
                handle.release();
                Reference.reachabilityFence(this);
            }
        } catch (RuntimeException e) {
            // As KafkaProducer: the interceptors hear of a send that throws.
            if (ic != null) {
                ic.onSendError(record, partition, e);
            }
            throw e;
        }
    }

    private static <T> byte[] serialize(Serializer<T> serializer, String topic, Headers headers, T data, String what) {
        try {
            return serializer.serialize(topic, headers, data);
        } catch (ClassCastException e) {
            throw new SerializationException("Can't convert " + what + " of class " + data.getClass().getName() + " to the class of the "
                    + what + " serializer " + serializer.getClass().getName(), e);
        }
    }

    private byte[] topicBytes(String topic) {
        TopicName last = lastTopic;
        if (last != null && last.name.equals(topic)) {
            return last.utf8;
        }
        last = new TopicName(topic, topic.getBytes(StandardCharsets.UTF_8));
        lastTopic = last;
        return last.utf8;
    }

    /** UTF-8 key, value, key, value...; null when there are no headers. */
    private static byte[][] headerArray(Header[] all) {
        if (all.length == 0) {
            return NO_HEADERS;
        }
        byte[][] out = new byte[all.length * 2][];
        for (int i = 0; i < all.length; i++) {
            out[2 * i] = all[i].key().getBytes(StandardCharsets.UTF_8);
            out[2 * i + 1] = all[i].value();
        }
        return out;
    }

    /**
     * Sends everything buffered and waits until every record sent before it is reported; an
     * interrupted thread gets an InterruptException ("Flush interrupted.", its flag set).
     */
    @Override
    public void flush() {
        // From a callback: the reports it would wait for are behind this one (the engine's flush
        // does not wait in its own callbacks either).
        if (handle.isClosed() || inFlight.inCallback()) {
            return;
        }
        try {
            long queued = withNative(handle.acquire(), address -> {
                RafkaNative.flush(address, Long.MAX_VALUE);
                return RafkaNative.reportsQueued(address);
            });
            // The engine has queued every report of the records sent before; wait for their callbacks.
            inFlight.awaitHandedOver(queued);
        } catch (InterruptException e) {
            throw new InterruptException("Flush interrupted.", new InterruptedException(e.getMessage()));
        }
    }

    /**
     * The topic's partitions with their leader, replicas and in-sync replicas as a broker describes
     * them now, fetching the topic's metadata if needed (up to max.block.ms, then a
     * TimeoutException). A partition without a leader has a null leader, as in KafkaProducer.
     */
    @Override
    public List<PartitionInfo> partitionsFor(String topic) {
        // Each native call acquires the handle and releases it when done.
        withNative(handle.acquire(), a -> RafkaNative.partitionCount(a, topic)); // waits for the topic, as KafkaProducer does
        Object[] layout = withNative(handle.acquire(), a -> RafkaNative.partitionLayout(a, topic));
        int[] n = (int[]) layout[0];
        String[] hosts = (String[]) layout[1];
        Map<Integer, Node> nodes = new java.util.HashMap<>();
        int k = 0;
        int brokers = n[k++];
        for (int b = 0; b < brokers; b++) {
            int id = n[k++];
            int port = n[k++];
            nodes.put(id, new Node(id, hosts[b], port));
        }
        int partitions = n[k++];
        PartitionInfo[] out = new PartitionInfo[partitions];
        for (int i = 0; i < partitions; i++) {
            int partition = n[k++];
            int leader = n[k++];
            Node[] replicas = new Node[n[k++]];
            for (int r = 0; r < replicas.length; r++) {
                replicas[r] = nodeOf(nodes, n[k++]);
            }
            Node[] isr = new Node[n[k++]];
            for (int r = 0; r < isr.length; r++) {
                isr[r] = nodeOf(nodes, n[k++]);
            }
            out[i] = new PartitionInfo(topic, partition, leader < 0 ? null : nodeOf(nodes, leader), replicas, isr);
        }
        java.util.Arrays.sort(out, java.util.Comparator.comparingInt(PartitionInfo::partition));
        return List.of(out);
    }

    /** A broker by id; one the response did not list gets an empty host and port -1. */
    private static Node nodeOf(Map<Integer, Node> nodes, int id) {
        return nodes.computeIfAbsent(id, x -> new Node(x, "", -1));
    }

    /**
     * KafkaProducer's metrics, from the engine's counters (groups producer-metrics and
     * producer-topic-metrics; docs/java.md lists them and those rafka leaves out). Rates, averages
     * and maxima are over metrics.num.samples windows of metrics.sample.window.ms, as
     * KafkaProducer's; the counters are taken every second and when this is called.
     */
    @Override
    public Map<MetricName, ? extends Metric> metrics() {
        return metrics.metrics();
    }

    /** Reads the engine's counters for the metrics without keeping the producer from its Cleaner; null once closed. */
    private static java.util.function.Supplier<Object[]> countersReader(WeakReference<RafkaProducer<?, ?>> producer) {
        return () -> {
            RafkaProducer<?, ?> p = producer.get();
            NativeHandle h = p == null ? null : p.handle;
            if (h == null) {
                return null;
            }
            long address;
            try {
                address = h.acquire();
            } catch (IllegalStateException closed) {
                return null;
            }
            return p.withNative(address, RafkaNative::counters);
        };
    }

    /** A native call on an acquired producer address. */
    @FunctionalInterface
    private interface NativeCall<T> {
        T apply(long address);
    }

    /**
     * Runs {@code call} on {@code address} (just acquired from {@link #handle}), maps a
     * {@link NativeException} to the kafka-clients exception, then releases the handle; the fence
     * keeps the Cleaner from freeing the producer while the call is in native code.
     */
    private <T> T withNative(long address, NativeCall<T> call) {
        try {
            return call.apply(address);
        } catch (NativeException e) {
            throw ErrorMapping.forWait(e);
        } finally {
            handle.release();
            Reference.reachabilityFence(this);
        }
    }

    /** Waits until every record is reported, then frees the native producer. A second call does nothing. */
    @Override
    public void close() {
        close(Duration.ofMillis(Long.MAX_VALUE));
    }

    /**
     * Waits up to {@code timeout} for pending records, fails the rest (their callbacks get a
     * KafkaException), stops the engine's threads and frees it. From a callback it does not wait.
     */
    @Override
    public void close(Duration timeout) {
        long ms = timeout.isNegative() ? 0 : (timeout.getSeconds() >= Long.MAX_VALUE / 1000 ? Long.MAX_VALUE : timeout.toMillis());
        if (handle.closeAndFree(ms)) {
            // KafkaProducer's order.
            Utils.closeQuietly(interceptors, "producer interceptors");
            Utils.closeQuietly(metrics, "producer metrics");
            Utils.closeQuietly(keySerializer, "key serializer");
            Utils.closeQuietly(valueSerializer, "value serializer");
            Utils.closeQuietly(partitioner, "partitioner");
            closeMade(madeRecoveredCallback);
        }
    }

    private static void closeMade(SpoolRecoveredCallback cb) {
        if (cb instanceof AutoCloseable) {
            Utils.closeQuietly((AutoCloseable) cb, "spool recovered-records callback");
        }
    }

    /**
     * Registers transactional.id with its coordinator, fencing any older producer with the same
     * id and completing or aborting what it left open. Waits up to max.block.ms; a
     * TimeoutException may be retried (the same request is awaited again). Call once, first.
     */
    @Override
    public void initTransactions() {
        transactional("initTransactions", "INITIALIZING", false, RafkaNative::initTransactions);
    }

    /** Starts a transaction (no request is sent); records sent from now on belong to it. */
    @Override
    public void beginTransaction() {
        transactional("beginTransaction", "IN_TRANSACTION", true, RafkaNative::beginTransaction);
    }

    /**
     * Adds the consumer's positions (the next offset to read, per partition) to the transaction:
     * they are committed if and only if it commits. Pass {@code consumer.groupMetadata()}: its
     * generation and member id let the group coordinator refuse offsets from a consumer that lost
     * its partitions in a rebalance (a CommitFailedException; abort the transaction). Empty
     * offsets do nothing. Waits up to max.block.ms.
     */
    @Override
    public void sendOffsetsToTransaction(Map<TopicPartition, OffsetAndMetadata> offsets, ConsumerGroupMetadata groupMetadata) {
        Transactions.checkGroupMetadata(groupMetadata);
        transactions.requireTransactionManager();
        long address = handle.acquire();
        try {
            if (offsets.isEmpty()) {
                return;
            }
            transactions.requireTransactional();
            transactions.throwIfSendRefused();
            Transactions.sendOffsets(address, offsets, groupMetadata);
        } catch (NativeException e) {
            throw transactions.toException(e, "sendOffsetsToTransaction", "IN_TRANSACTION", address);
        } finally {
            handle.release();
            Reference.reachabilityFence(this);
        }
    }

    /**
     * The kafka-clients 3.x overload, gone from the 4.x {@code Producer} interface: a group id
     * alone (no generation or member id, so the coordinator cannot fence a consumer that lost its
     * partitions). Kept for programs built against kafka-clients 3.x.
     *
     * @deprecated pass {@code consumer.groupMetadata()} to {@link #sendOffsetsToTransaction(Map, ConsumerGroupMetadata)}
     */
    @Deprecated
    @SuppressWarnings("removal")
    public void sendOffsetsToTransaction(Map<TopicPartition, OffsetAndMetadata> offsets, String consumerGroupId) {
        // kafka-clients 4.x marks ConsumerGroupMetadata's constructors for removal (consumers make
        // it); a group id alone is what this overload has.
        sendOffsetsToTransaction(offsets, new ConsumerGroupMetadata(consumerGroupId));
    }

    /**
     * Sends every record of the transaction, waits for their reports, then commits it. Waits up
     * to max.block.ms (a TimeoutException may be retried). A failed record of the transaction
     * fails the commit with a KafkaException whose cause is the first failure: abort then.
     */
    @Override
    public void commitTransaction() {
        transactional("commitTransaction", "COMMITTING_TRANSACTION", true, RafkaNative::commitTransaction);
    }

    /**
     * Aborts the transaction: records not sent yet fail, those in flight are awaited, and
     * read_committed consumers never see any of it. Works after an abortable error. Waits up to
     * max.block.ms.
     */
    @Override
    public void abortTransaction() {
        transactional("abortTransaction", "ABORTING_TRANSACTION", false, RafkaNative::abortTransaction);
        transactions.aborted();
    }

    /**
     * A transactional native call; {@code target} is the state KafkaProducer's call moves to;
     * {@code refusedSendFails}: a record refused by send() fails the call, as KafkaProducer's
     * abortable error state does.
     */
    private void transactional(String operation, String target, boolean refusedSendFails, java.util.function.LongConsumer call) {
        transactions.requireTransactional();
        long address = handle.acquire();
        try {
            if (refusedSendFails) {
                transactions.throwIfSendRefused();
            }
            call.accept(address);
            // commitTransaction and abortTransaction waited for the records' reports: as in
            // KafkaProducer, their callbacks have run when the call returns.
            if (!inFlight.inCallback()) {
                inFlight.awaitHandedOver(RafkaNative.reportsQueued(address));
            }
        } catch (NativeException e) {
            throw transactions.toException(e, operation, target, address);
        } finally {
            handle.release();
            Reference.reachabilityFence(this);
        }
    }

    /** rafka does not push client telemetry (KIP-714), so there is nothing to subscribe to. */
    @Override
    public void registerMetricForSubscription(KafkaMetric metric) {}

    @Override
    public void unregisterMetricFromSubscription(KafkaMetric metric) {}

    /** KafkaProducer throws this too when telemetry is off; rafka has none. */
    @Override
    public Uuid clientInstanceId(Duration timeout) {
        throw new IllegalStateException("rafka does not push client telemetry (KIP-714): there is no client instance id");
    }
}
