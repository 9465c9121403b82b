package io.rafka.internal;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.metrics.Gauge;
import org.apache.kafka.common.metrics.KafkaMetric;
import org.apache.kafka.common.metrics.KafkaMetricsContext;
import org.apache.kafka.common.metrics.MetricConfig;
import org.apache.kafka.common.metrics.MetricsReporter;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.common.utils.Utils;

/**
 * {@code metric.reporters}: each reporter is made and configured with the settings (plus
 * client.id), given KafkaProducer's metrics context (namespace {@code kafka.producer} and the
 * {@code metrics.context.*} settings), then {@code init} and one {@code metricChange} per metric of
 * {@code RafkaProducer.metrics()}, as kafka-clients' Metrics registry does; closed by {@code close()}.
 * So JmxReporter, when listed, registers {@code kafka.producer:type=producer-metrics,client-id=...}.
 */
public final class MetricReporters implements AutoCloseable {
    static final String CONTEXT_PREFIX = "metrics.context.";
    private final List<MetricsReporter> reporters;

    private MetricReporters(List<MetricsReporter> reporters) {
        this.reporters = reporters;
    }

    /** The reporters, made and configured; null when none are listed. On failure the ones made are closed. */
    static MetricReporters create(List<Class<?>> classes, Map<String, Object> configs) {
        if (classes.isEmpty()) {
            return null;
        }
        List<MetricsReporter> made = new ArrayList<>();
        try {
            for (Class<?> c : classes) {
                MetricsReporter r = (MetricsReporter) Utils.newInstance(c);
                made.add(r);
                r.configure(configs);
            }
        } catch (RuntimeException | Error e) {
            made.forEach(r -> Utils.closeQuietly(r, "metrics reporter"));
            throw e;
        }
        return new MetricReporters(List.copyOf(made));
    }

    /**
     * Hands the reporters the producer's metrics. {@code value} reads a metric by name when a
     * reporter asks; it must not hold the producer strongly (the reporters may outlive a producer
     * dropped without close, and must not keep it from its Cleaner).
     */
    public void start(Map<String, Object> originals, List<MetricName> names, Function<MetricName, Object> value) {
        Map<String, Object> labels = new HashMap<>();
        originals.forEach((k, v) -> {
            if (k.startsWith(CONTEXT_PREFIX) && v != null) {
                labels.put(k.substring(CONTEXT_PREFIX.length()), v);
            }
        });
        KafkaMetricsContext context = new KafkaMetricsContext("kafka.producer", labels);
        List<KafkaMetric> metrics = new ArrayList<>();
        Object lock = new Object();
        for (MetricName name : names) {
            Gauge<Object> gauge = (config, now) -> value.apply(name);
            metrics.add(new KafkaMetric(lock, name, gauge, new MetricConfig().tags(name.tags()), Time.SYSTEM));
        }
        for (MetricsReporter r : reporters) {
            r.contextChange(context);
            r.init(new ArrayList<>());
            for (KafkaMetric m : metrics) {
                r.metricChange(m);
            }
        }
    }

    @Override
    public void close() {
        for (MetricsReporter r : reporters) {
            Utils.closeQuietly(r, "metrics reporter");
        }
    }
}
