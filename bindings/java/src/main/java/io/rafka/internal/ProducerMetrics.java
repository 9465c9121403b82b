package io.rafka.internal;

import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.metrics.KafkaMetricsContext;
import org.apache.kafka.common.metrics.Measurable;
import org.apache.kafka.common.metrics.MetricConfig;
import org.apache.kafka.common.metrics.Metrics;
import org.apache.kafka.common.metrics.MetricsReporter;
import org.apache.kafka.common.metrics.Sensor;
import org.apache.kafka.common.metrics.stats.Meter;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.common.utils.Utils;

/**
 * The producer's metrics under KafkaProducer's names (groups {@code producer-metrics} and
 * {@code producer-topic-metrics}), in a kafka-clients {@link Metrics} registry configured as
 * KafkaProducer configures its own ({@code metrics.num.samples}, {@code metrics.sample.window.ms},
 * {@code metrics.recording.level}, {@code metric.reporters} with the {@code kafka.producer}
 * context), so JmxReporter and any other reporter see them as they see KafkaProducer's.
 *
 * <p>The values come from the engine's counters ({@link RafkaNative#counters}), taken every
 * second by one shared daemon thread and whenever {@code metrics()} is called: the difference
 * since the previous snapshot is recorded into kafka-clients' sensors (rates and totals), into
 * {@link Window}s (averages and maxima, each over the same sample windows as kafka-clients'
 * {@code Avg} and {@code Max}), and the latest snapshot answers the gauges.
 */
public final class ProducerMetrics implements AutoCloseable {
    static final String CONTEXT_PREFIX = "metrics.context.";
    /** Settings read here, not passed to the engine. */
    static final Set<String> KEYS = Set.of(ProducerConfig.METRICS_NUM_SAMPLES_CONFIG, ProducerConfig.METRICS_SAMPLE_WINDOW_MS_CONFIG,
            ProducerConfig.METRICS_RECORDING_LEVEL_CONFIG);
    static final String GROUP = "producer-metrics";
    static final String TOPIC_GROUP = "producer-topic-metrics";
    private static final long REFRESH_MS = 1000;
    private static final ScheduledExecutorService REFRESHER = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "rafka-metrics");
        t.setDaemon(true);
        return t;
    });

    // Indices into the client array of RafkaNative.counters.
    private static final int BUFFER_TOTAL = 0, BUFFER_USED = 1, BUFFER_WAIT_NS = 2, REQUESTS = 3, REQUEST_RECORDS = 4, LATENCY_COUNT = 5,
            LATENCY_NS_SUM = 6, LATENCY_NS_MAX = 7, BATCHES = 8, BATCH_BYTES_SUM = 9, BATCH_BYTES_MAX = 10, QUEUE_NS_SUM = 11,
            QUEUE_NS_MAX = 12, THROTTLE_COUNT = 13, THROTTLE_MS_SUM = 14, THROTTLE_MS_MAX = 15, TX_BYTES = 16, REQUESTS_IN_FLIGHT = 17,
            CONNECTIONS = 18, RECORDS_IN_FLIGHT = 19, CLIENT_FIELDS = 20;
    // Per topic, twelve values each.
    private static final int T_RECORDS = 0, T_BYTES = 1, T_BATCHES = 2, T_RATIO_SUM = 3, T_RETRIED = 4, T_FAILED = 5, T_PLACED_KEY = 6,
            T_PLACED_STICKY = 7, T_PLACED_EXPLICIT = 8, T_STICKY_SWITCHES = 10, T_UNAVAILABLE_SKIPS = 11, TOPIC_FIELDS = 12;
    /** rafka's own group: the partitioner metrics per topic (neither KafkaProducer nor librdkafka has them). */
    static final String PARTITIONER_GROUP = "rafka-partitioner-metrics";

    private final Metrics metrics;
    private final Map<String, String> tags;
    private final Supplier<Object[]> source;
    private final Sensor recordsSent;
    private final Sensor recordErrors;
    private final Sensor recordRetries;
    private final Sensor bytesOut;
    private final Sensor bufferWait;
    private final Window latency = new Window();
    private final Window batchSize = new Window();
    private final Window recordsPerRequest = new Window();
    private final Window queueTime = new Window();
    private final Window compression = new Window();
    private final Window throttle = new Window();
    private final Map<String, TopicMetrics> topics = new HashMap<>();
    /** The latest snapshot (gauges) and the one before (deltas); guarded by {@code this}. */
    private double[] client = new double[CLIENT_FIELDS];
    /** Compression ratios and batches over every topic at the previous snapshot. */
    private double compressionRatios, compressionBatches;
    private final Map<String, double[]> topicValues = new HashMap<>();
    private ScheduledFuture<?> refresher;

    private ProducerMetrics(Metrics metrics, String clientId, Supplier<Object[]> source) {
        this.metrics = metrics;
        this.tags = Map.of("client-id", clientId);
        this.source = source;
        recordsSent = meter("record-send", "records sent to brokers (every attempt)");
        recordErrors = meter("record-error", "records whose send failed");
        recordRetries = meter("record-retry", "records of batches sent again");
        bytesOut = meter("outgoing-byte", "bytes written to every broker");
        bufferWait = metrics.sensor("bufferpool-wait-time");
        bufferWait.add(new Meter(TimeUnit.NANOSECONDS, name("bufferpool-wait-ratio", "The fraction of time send() calls waited for buffer.memory."),
                name("bufferpool-wait-time-ns-total", "Nanoseconds send() calls waited for buffer.memory, summed.")));
        window(latency, "request-latency", "Produce request latency in ms (from writing the request to reading its response)");
        window(batchSize, "batch-size", "bytes per batch as sent");
        window(queueTime, "record-queue-time", "ms from a batch's oldest record's send() to the batch being sent");
        window(throttle, "produce-throttle-time", "throttle time in ms the brokers asked for in Produce responses");
        metrics.addMetric(name("records-per-request-avg", "The average number of records per Produce request."), (Measurable) recordsPerRequest::avg);
        metrics.addMetric(name("compression-rate-avg", "The average of the batches' compressed size / uncompressed size."), (Measurable) compression::avg);
        gauge("buffer-total-bytes", "buffer.memory, the most bytes the producer buffers.", c -> c[BUFFER_TOTAL]);
        gauge("buffer-available-bytes", "The part of buffer.memory not in use.", c -> c[BUFFER_TOTAL] - c[BUFFER_USED]);
        gauge("requests-in-flight", "Requests written and not answered yet.", c -> c[REQUESTS_IN_FLIGHT]);
        gauge("connection-count", "Open broker connections.", c -> c[CONNECTIONS]);
        gauge("records-in-flight", "Records sent and not yet reported (rafka).", c -> c[RECORDS_IN_FLIGHT]);
    }

    /**
     * The registry, its reporters started (made and configured with {@code configs}, given the
     * context, as KafkaProducer's registry does). {@code source} gives the engine's counters, or
     * null once the producer is closed; it must not hold the producer strongly (see {@link #start}).
     */
    static ProducerMetrics create(Map<String, Object> originals, List<Class<?>> reporterClasses, Map<String, Object> pluginConfigs, String clientId,
            Supplier<Object[]> source) {
        MetricConfig config = new MetricConfig()
                .samples(intSetting(originals, ProducerConfig.METRICS_NUM_SAMPLES_CONFIG, 2, 1))
                .timeWindow(intSetting(originals, ProducerConfig.METRICS_SAMPLE_WINDOW_MS_CONFIG, 30_000, 0), TimeUnit.MILLISECONDS)
                .recordLevel(recordingLevel(originals))
                .tags(Map.of("client-id", clientId));
        Map<String, Object> labels = new HashMap<>();
        originals.forEach((k, v) -> {
            if (k.startsWith(CONTEXT_PREFIX) && v != null) {
                labels.put(k.substring(CONTEXT_PREFIX.length()), v);
            }
        });
        List<MetricsReporter> reporters = new ArrayList<>();
        try {
            for (Class<?> c : reporterClasses) {
                MetricsReporter r = (MetricsReporter) Utils.newInstance(c);
                reporters.add(r);
                r.configure(pluginConfigs);
            }
            Metrics metrics = new Metrics(config, reporters, Time.SYSTEM, new KafkaMetricsContext("kafka.producer", labels));
            try {
                return new ProducerMetrics(metrics, clientId, source);
            } catch (RuntimeException | Error e) {
                metrics.close();
                throw e;
            }
        } catch (RuntimeException | Error e) {
            reporters.forEach(r -> Utils.closeQuietly(r, "metrics reporter"));
            throw e;
        }
    }

    private static int intSetting(Map<String, Object> originals, String key, int defaultValue, int min) {
        Object v = originals.get(key);
        if (v == null) {
            return defaultValue;
        }
        long n;
        try {
            n = v instanceof Number ? ((Number) v).longValue() : Long.parseLong(v.toString().trim());
        } catch (NumberFormatException e) {
            throw new ConfigException(key, v, "not a number");
        }
        if (n < min || n > Integer.MAX_VALUE) {
            throw new ConfigException(key, v, "Value must be at least " + min);
        }
        return (int) n;
    }

    private static Sensor.RecordingLevel recordingLevel(Map<String, Object> originals) {
        Object v = originals.get(ProducerConfig.METRICS_RECORDING_LEVEL_CONFIG);
        if (v == null) {
            return Sensor.RecordingLevel.INFO;
        }
        try {
            return Sensor.RecordingLevel.forName(v.toString().trim());
        } catch (IllegalArgumentException e) {
            throw new ConfigException(ProducerConfig.METRICS_RECORDING_LEVEL_CONFIG, v, "String must be one of: INFO, DEBUG, TRACE");
        }
    }

    /**
     * Takes the first snapshot, then one every second. The task holds {@code owner} weakly: once the producer is
     * collected (dropped without close) the task stops and the registry is closed, so a
     * forgotten producer's MBeans do not stay registered for ever.
     */
    public void start(Object owner) {
        try {
            refresh(); // the gauges (buffer-total-bytes, ...) have their values from the start
        } catch (RuntimeException e) {
            // The engine did not answer in time: the first scheduled refresh fills them.
        }
        WeakReference<Object> ref = new WeakReference<>(owner);
        refresher = REFRESHER.scheduleWithFixedDelay(() -> {
            if (ref.get() == null) {
                close();
                return;
            }
            try {
                refresh();
            } catch (RuntimeException e) {
                // A closed or busy producer: the values stay as they were.
            }
        }, REFRESH_MS, REFRESH_MS, TimeUnit.MILLISECONDS);
    }

    /** The registry's metrics (KafkaProducer's {@code metrics()} map), refreshed first. */
    public Map<MetricName, ? extends org.apache.kafka.common.Metric> metrics() {
        try {
            refresh();
        } catch (RuntimeException e) {
            // The engine did not answer in time: the values of the previous snapshot.
        }
        return java.util.Collections.unmodifiableMap(metrics.metrics());
    }

    /** Takes the engine's counters and records what changed since the previous snapshot. */
    public synchronized void refresh() {
        Object[] snapshot = source.get();
        if (snapshot == null) {
            return;
        }
        long now = Time.SYSTEM.milliseconds();
        double[] c = (double[]) snapshot[0];
        String[] names = (String[]) snapshot[1];
        double[] perTopic = (double[]) snapshot[2];
        double[] p = client;
        double sent = 0, retried = 0, failed = 0;
        for (int i = 0; i < names.length; i++) {
            double[] t = java.util.Arrays.copyOfRange(perTopic, i * TOPIC_FIELDS, (i + 1) * TOPIC_FIELDS);
            double[] before = topicValues.getOrDefault(names[i], new double[TOPIC_FIELDS]);
            topicValues.put(names[i], t);
            sent += t[T_RECORDS] - before[T_RECORDS];
            retried += t[T_RETRIED] - before[T_RETRIED];
            failed += t[T_FAILED] - before[T_FAILED];
            if (t[T_RECORDS] == 0 && t[T_FAILED] == 0 && t[T_RETRIED] == 0) {
                continue; // nothing sent to it yet: KafkaProducer registers a topic's metrics at its first send
            }
            topics.computeIfAbsent(names[i], TopicMetrics::new).record(t, before, now);
        }
        recordsSent.record(sent, now);
        recordRetries.record(retried, now);
        recordErrors.record(failed, now);
        bytesOut.record(c[TX_BYTES] - p[TX_BYTES], now);
        bufferWait.record(c[BUFFER_WAIT_NS] - p[BUFFER_WAIT_NS], now);
        MetricConfig config = metrics.config();
        latency.record(config, c[LATENCY_NS_SUM] - p[LATENCY_NS_SUM], c[LATENCY_COUNT] - p[LATENCY_COUNT], c[LATENCY_NS_MAX], now, 1e-6);
        batchSize.record(config, c[BATCH_BYTES_SUM] - p[BATCH_BYTES_SUM], c[BATCHES] - p[BATCHES], c[BATCH_BYTES_MAX], now, 1);
        queueTime.record(config, c[QUEUE_NS_SUM] - p[QUEUE_NS_SUM], c[BATCHES] - p[BATCHES], c[QUEUE_NS_MAX], now, 1e-6);
        recordsPerRequest.record(config, c[REQUEST_RECORDS] - p[REQUEST_RECORDS], c[REQUESTS] - p[REQUESTS], 0, now, 1);
        throttle.record(config, c[THROTTLE_MS_SUM] - p[THROTTLE_MS_SUM], c[THROTTLE_COUNT] - p[THROTTLE_COUNT], c[THROTTLE_MS_MAX], now, 1);
        double ratios = 0, batches = 0;
        for (int i = 0; i < names.length; i++) {
            double[] t = topicValues.get(names[i]);
            ratios += t[T_RATIO_SUM];
            batches += t[T_BATCHES];
        }
        compression.record(config, ratios - compressionRatios, batches - compressionBatches, 0, now, 1);
        compressionRatios = ratios;
        compressionBatches = batches;
        client = c;
    }

    private MetricName name(String name, String description) {
        return metrics.metricName(name, GROUP, description, tags);
    }

    /** {@code <prefix>-rate} and {@code <prefix>-total} of a count fed with differences. */
    private Sensor meter(String prefix, String what) {
        Sensor s = metrics.sensor(prefix);
        s.add(new Meter(name(prefix + "-rate", "Per second, " + what + "."), name(prefix + "-total", "In total, " + what + ".")));
        return s;
    }

    private void window(Window w, String prefix, String what) {
        metrics.addMetric(name(prefix + "-avg", "Average " + what + "."), (Measurable) w::avg);
        metrics.addMetric(name(prefix + "-max", "Largest " + what + "."), (Measurable) w::max);
    }

    private void gauge(String name, String description, java.util.function.ToDoubleFunction<double[]> value) {
        metrics.addMetric(name(name, description), (Measurable) (config, now) -> {
            synchronized (this) {
                return value.applyAsDouble(client);
            }
        });
    }

    /** One topic's metrics, registered when something was first sent to it. */
    private final class TopicMetrics {
        private final Sensor records;
        private final Sensor bytes;
        private final Sensor errors;
        private final Sensor retries;
        private final Window compression = new Window();

        TopicMetrics(String topic) {
            Map<String, String> t = Map.of("client-id", tags.get("client-id"), "topic", topic);
            records = topicMeter(topic, "record-send", "records sent to brokers (every attempt)", t);
            bytes = topicMeter(topic, "byte", "bytes of batches sent", t);
            errors = topicMeter(topic, "record-error", "records whose send failed", t);
            retries = topicMeter(topic, "record-retry", "records of batches sent again", t);
            metrics.addMetric(metrics.metricName("compression-rate", TOPIC_GROUP, "The average of the topic's batches' compressed size / uncompressed size.", t),
                    (Measurable) compression::avg);
            partitioner(topic, t, "record-key-placed-total", "records whose partition came from their key's hash", T_PLACED_KEY);
            partitioner(topic, t, "record-sticky-placed-total", "keyless records placed by sticky (or random) partitioning", T_PLACED_STICKY);
            // A partitioner.class's choice reaches the engine as the record's partition: counted here.
            partitioner(topic, t, "record-explicit-placed-total", "records sent with a partition of their own or placed by partitioner.class", T_PLACED_EXPLICIT);
            partitioner(topic, t, "sticky-switch-total", "times sticky partitioning moved keyless records to another partition", T_STICKY_SWITCHES);
            partitioner(topic, t, "unavailable-partition-skip-total",
                    "partitions a sticky switch left out because their leader took no batch for partitioner.availability.timeout.ms", T_UNAVAILABLE_SKIPS);
        }

        /** A count since the producer started, as of the latest snapshot. */
        private void partitioner(String topic, Map<String, String> t, String name, String what, int index) {
            metrics.addMetric(metrics.metricName(name, PARTITIONER_GROUP, "In total, " + what + ".", t), (Measurable) (config, now) -> {
                synchronized (ProducerMetrics.this) {
                    double[] v = topicValues.get(topic);
                    return v == null ? 0 : v[index];
                }
            });
        }

        private Sensor topicMeter(String topic, String prefix, String what, Map<String, String> t) {
            Sensor s = metrics.sensor("topic." + topic + "." + prefix);
            s.add(new Meter(metrics.metricName(prefix + "-rate", TOPIC_GROUP, "Per second, " + what + ".", t),
                    metrics.metricName(prefix + "-total", TOPIC_GROUP, "In total, " + what + ".", t)));
            return s;
        }

        void record(double[] now, double[] before, long ms) {
            records.record(now[T_RECORDS] - before[T_RECORDS], ms);
            bytes.record(now[T_BYTES] - before[T_BYTES], ms);
            errors.record(now[T_FAILED] - before[T_FAILED], ms);
            retries.record(now[T_RETRIED] - before[T_RETRIED], ms);
            compression.record(metrics.config(), now[T_RATIO_SUM] - before[T_RATIO_SUM], now[T_BATCHES] - before[T_BATCHES], 0, ms, 1);
        }
    }

    /**
     * An average and a maximum over sample windows, as kafka-clients' {@code Avg} and {@code Max}
     * keep them ({@code metrics.num.samples} windows of {@code metrics.sample.window.ms}; a window
     * older than all of them together no longer counts; NaN with nothing in the windows), fed with
     * sums and counts of values rather than one value at a time.
     */
    static final class Window {
        private long[] start = new long[0];
        private double[] sum = new double[0];
        private double[] count = new double[0];
        private double[] max = new double[0];
        private int current;

        /** {@code sum} of {@code count} values, the largest {@code max}; each multiplied by {@code scale}. */
        synchronized void record(MetricConfig config, double sum, double count, double max, long now, double scale) {
            if (count <= 0) {
                return;
            }
            int n = config.samples();
            if (start.length != n) {
                start = new long[n];
                this.sum = new double[n];
                this.count = new double[n];
                this.max = new double[n];
                java.util.Arrays.fill(start, Long.MIN_VALUE / 2);
                current = 0;
                start[0] = now;
            } else if (now - start[current] >= config.timeWindowMs()) {
                current = (current + 1) % n;
                start[current] = now;
                this.sum[current] = 0;
                this.count[current] = 0;
                this.max[current] = 0;
            }
            this.sum[current] += sum * scale;
            this.count[current] += count;
            this.max[current] = Math.max(this.max[current], max * scale);
        }

        synchronized double avg(MetricConfig config, long now) {
            double s = 0, c = 0;
            for (int i = 0; i < start.length; i++) {
                if (live(config, i, now)) {
                    s += sum[i];
                    c += count[i];
                }
            }
            return c == 0 ? Double.NaN : s / c;
        }

        synchronized double max(MetricConfig config, long now) {
            double m = Double.NEGATIVE_INFINITY;
            boolean any = false;
            for (int i = 0; i < start.length; i++) {
                if (live(config, i, now) && count[i] > 0) {
                    m = Math.max(m, max[i]);
                    any = true;
                }
            }
            return any ? m : Double.NaN;
        }

        private boolean live(MetricConfig config, int i, long now) {
            return now - start[i] < (long) config.samples() * config.timeWindowMs();
        }
    }

    @Override
    public void close() {
        if (refresher != null) {
            refresher.cancel(false);
        }
        metrics.close();
    }
}
