package io.rafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.function.Function;

import javax.management.MBeanServer;
import javax.management.ObjectName;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.metrics.KafkaMetric;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/**
 * {@code metrics()} against KafkaProducer's: the same loop through both, the same metric names
 * for the set rafka computes, values in the same range; JMX and {@code metric.reporters}.
 */
class MetricsTest {
    static final int RECORDS = 3000;
    static final long BUFFER = 8_000_000;

    static final List<String> CLIENT_METRICS = List.of("record-send-rate", "record-send-total", "record-error-rate", "record-error-total",
            "record-retry-rate", "record-retry-total", "request-latency-avg", "request-latency-max", "batch-size-avg", "batch-size-max",
            "records-per-request-avg", "record-queue-time-avg", "record-queue-time-max", "compression-rate-avg", "buffer-total-bytes",
            "buffer-available-bytes", "bufferpool-wait-time-ns-total", "bufferpool-wait-ratio", "produce-throttle-time-avg",
            "produce-throttle-time-max", "outgoing-byte-rate", "outgoing-byte-total", "requests-in-flight", "connection-count");
    static final List<String> TOPIC_METRICS = List.of("record-send-rate", "record-send-total", "byte-rate", "byte-total", "record-error-rate",
            "record-error-total", "record-retry-rate", "record-retry-total", "compression-rate");

    static Properties config(String clientId) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, Broker.bootstrap());
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        p.put(ProducerConfig.BUFFER_MEMORY_CONFIG, Long.toString(BUFFER));
        p.put(ProducerConfig.CLIENT_ID_CONFIG, clientId);
        return p;
    }

    /** Sends RECORDS keyed 100-byte records, flushes, and returns the metrics by group and name (topic metrics of {@code topic}). */
    static Map<String, Double> run(Producer<String, byte[]> p, String topic) {
        byte[] value = new byte[100];
        for (int i = 0; i < RECORDS; i++) {
            p.send(new ProducerRecord<>(topic, "key-" + (i % 100), value));
        }
        p.flush();
        return values(p.metrics(), topic);
    }

    static Map<String, Double> values(Map<MetricName, ? extends Metric> metrics, String topic) {
        Map<String, Double> out = new HashMap<>();
        for (Map.Entry<MetricName, ? extends Metric> e : metrics.entrySet()) {
            MetricName n = e.getKey();
            if (!(e.getValue().metricValue() instanceof Double v)) {
                continue;
            }
            if (n.group().equals("producer-metrics")) {
                out.put(n.name(), v);
            } else if (n.group().equals("producer-topic-metrics") && topic.equals(n.tags().get("topic"))) {
                out.put("topic:" + n.name(), v);
            }
        }
        return out;
    }

    static void assertSameRange(Map<String, Double> kafka, Map<String, Double> rafka, String name, double factor) {
        double k = kafka.get(name);
        double r = rafka.get(name);
        assertTrue(k > 0 && r > 0 && r <= k * factor && k <= r * factor, name + ": KafkaProducer " + k + ", RafkaProducer " + r);
    }

    @Test
    void theSameLoopGivesKafkaProducersMetricNamesWithValuesInTheSameRange() throws Exception {
        String topic = Broker.createTopic("metrics", 3);
        // A record acknowledged on each partition before either measured loop: in CI's fresh cluster
        // KafkaProducer's loop on a just-created topic was retried 17,343 times over 120 s and failed
        // 141 records at delivery.timeout.ms (twice, the same figures), which measures the cluster's
        // start, not the metrics.
        try (Producer<String, byte[]> w = new KafkaProducer<>(config("metrics-warm-up"))) {
            for (int partition = 0; partition < 3; partition++) {
                w.send(new ProducerRecord<>(topic, partition, "warm-up", new byte[1])).get(60, java.util.concurrent.TimeUnit.SECONDS);
            }
        }
        Map<String, Double> kafka;
        Map<String, Double> rafka;
        try (Producer<String, byte[]> k = new KafkaProducer<>(config("metrics-kafka"))) {
            kafka = run(k, topic);
        }
        try (Producer<String, byte[]> r = new RafkaProducer<>(config("metrics-rafka"))) {
            rafka = run(r, topic);
            for (MetricName n : r.metrics().keySet()) {
                String id = n.tags().get("client-id");
                assertTrue(n.group().equals("kafka-metrics-count") || "metrics-rafka".equals(id), n + " has the client id tag");
            }
        }
        System.out.println("KafkaProducer " + new java.util.TreeMap<>(kafka) + "\nRafkaProducer " + new java.util.TreeMap<>(rafka));
        Set<String> missing = new TreeSet<>();
        for (String n : CLIENT_METRICS) {
            assertTrue(kafka.containsKey(n), "KafkaProducer has " + n);
            if (!rafka.containsKey(n)) {
                missing.add(n);
            }
        }
        for (String n : TOPIC_METRICS) {
            assertTrue(kafka.containsKey("topic:" + n), "KafkaProducer has topic " + n);
            if (!rafka.containsKey("topic:" + n)) {
                missing.add("topic:" + n);
            }
        }
        assertEquals(Set.of(), missing, "metrics KafkaProducer lists and RafkaProducer does not");

        for (Map<String, Double> m : List.of(kafka, rafka)) {
            String who = m == kafka ? "KafkaProducer" : "RafkaProducer";
            // Every attempt counts: a batch retried (say the new topic's leader was not known yet) is sent again.
            // RafkaProducer counts exactly that. KafkaProducer, on a loaded machine (the loop took 120 s), once
            // counted 17,343 retried records and 20,202 sent, 141 short of 3,000 + 17,343 (its retry count is
            // taken when a batch is re-queued, its send count when a request is written): its send total is
            // held between the records and the records plus retries.
            if (m == rafka) {
                assertEquals(RECORDS + m.get("record-retry-total"), m.get("record-send-total"), who + " record-send-total");
                assertEquals(RECORDS + m.get("topic:record-retry-total"), m.get("topic:record-send-total"), who + " topic record-send-total");
            } else {
                for (String prefix : List.of("", "topic:")) {
                    double sent = m.get(prefix + "record-send-total"), retried = m.get(prefix + "record-retry-total");
                    assertTrue(sent >= RECORDS && sent <= RECORDS + retried, who + " " + prefix + "record-send-total " + sent + ", retries " + retried);
                }
            }
            assertEquals(0.0, m.get("record-error-total"), who);
            assertEquals(0.0, m.get("topic:record-error-total"), who);
            assertEquals((double) BUFFER, m.get("buffer-total-bytes"), who);
            // Everything was reported; KafkaProducer may give a batch's buffer back just after its callbacks ran.
            double inUse = BUFFER - m.get("buffer-available-bytes");
            assertTrue(inUse >= 0 && inUse <= 3 * 16384, who + ": buffer in use after flush: " + inUse);
            assertEquals(0.0, m.get("bufferpool-wait-time-ns-total"), who + ": no send() waited for memory");
            assertEquals(0.0, m.get("produce-throttle-time-max"), who + ": no quota");
            assertEquals(1.0, m.get("compression-rate-avg"), 0.001, who + ": compression.type=none");
            assertEquals(1.0, m.get("topic:compression-rate"), 0.001, who);
            assertTrue(m.get("record-send-rate") > 0 && m.get("topic:record-send-rate") > 0, who + " rates");
            assertTrue(m.get("batch-size-max") >= m.get("batch-size-avg") && m.get("batch-size-max") <= 16384 + 200, who + " batch sizes");
            assertTrue(m.get("records-per-request-avg") >= 1 && m.get("records-per-request-avg") <= RECORDS, who);
            assertTrue(m.get("request-latency-max") >= m.get("request-latency-avg") && m.get("request-latency-avg") >= 0, who + " latency");
            assertTrue(m.get("record-queue-time-max") >= m.get("record-queue-time-avg") && m.get("record-queue-time-avg") >= 0, who + " queue time");
            assertTrue(m.get("connection-count") >= 1, who + " connections");
            assertTrue(m.get("requests-in-flight") >= 0, who);
        }
        // Bytes: both count the same records; headers and framing may differ slightly.
        assertSameRange(kafka, rafka, "outgoing-byte-total", 2);
        assertSameRange(kafka, rafka, "topic:byte-total", 2);
        assertSameRange(kafka, rafka, "batch-size-avg", 4);
        assertSameRange(kafka, rafka, "record-send-rate", 20);
    }

    @Test
    void aRecordTheBrokerRefusesIsAnErrorInBothProducersMetrics() throws Exception {
        String topic = Broker.createTopic("metrics-error", 1);
        List<Map<String, Double>> both = new java.util.ArrayList<>();
        for (Function<Properties, Producer<String, byte[]>> make : List.<Function<Properties, Producer<String, byte[]>>>of(KafkaProducer::new,
                RafkaProducer::new)) {
            Properties c = config("metrics-error");
            c.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, "4000000");
            try (Producer<String, byte[]> p = make.apply(c)) {
                // Over the broker's message.max.bytes (1 MB by default), under max.request.size.
                var f = p.send(new ProducerRecord<>(topic, new byte[1_500_000]));
                ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class, f::get);
                assertInstanceOf(RecordTooLargeException.class, e.getCause());
                both.add(values(p.metrics(), topic));
            }
        }
        for (Map<String, Double> m : both) {
            assertEquals(1.0, m.get("record-error-total"), m.toString());
            assertEquals(1.0, m.get("topic:record-error-total"));
            assertTrue(m.get("record-error-rate") > 0);
        }
    }

    @Test
    void metricsAreRegisteredOverJmxByDefaultAndUnregisteredAtClose() throws Exception {
        String topic = Broker.createTopic("metrics-jmx", 1);
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        ObjectName client = new ObjectName("kafka.producer:type=producer-metrics,client-id=metrics-jmx");
        ObjectName perTopic = new ObjectName("kafka.producer:type=producer-topic-metrics,client-id=metrics-jmx,topic=" + topic);
        try (Producer<String, byte[]> p = new RafkaProducer<>(config("metrics-jmx"))) {
            assertEquals((double) BUFFER, server.getAttribute(client, "buffer-total-bytes"));
            run(p, topic);
            double retried = (Double) server.getAttribute(client, "record-retry-total");
            assertEquals(RECORDS + retried, server.getAttribute(client, "record-send-total"));
            assertEquals(RECORDS + retried, server.getAttribute(perTopic, "record-send-total"));
            assertTrue((Double) server.getAttribute(client, "request-latency-avg") >= 0);
        }
        assertFalse(server.isRegistered(client), "unregistered at close");
        assertFalse(server.isRegistered(perTopic), "unregistered at close");
    }

    static double reported(String clientId, String group, String name) {
        return JavaKeysTest.RecordingReporter.METRICS.get(clientId).stream()
                .filter(m -> m.metricName().group().equals(group) && m.metricName().name().equals(name))
                .mapToDouble(m -> (Double) m.metricValue())
                .findFirst()
                .orElse(Double.NaN);
    }

    @Test
    void aMetricsReporterGetsEveryMetricAndSeesThemMoveWithoutMetricsBeingCalled() throws Exception {
        String topic = Broker.createTopic("metrics-reporter", 2);
        Properties c = config("metrics-reporter");
        c.put(ProducerConfig.METRIC_REPORTER_CLASSES_CONFIG, JavaKeysTest.RecordingReporter.class.getName());
        try (Producer<String, byte[]> p = new RafkaProducer<>(c)) {
            byte[] value = new byte[100];
            for (int i = 0; i < RECORDS; i++) {
                p.send(new ProducerRecord<>(topic, value));
            }
            p.flush();
            // The counters are taken every second: wait for the snapshot after the flush. Every
            // attempt counts: records of a retried batch are sent again.
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (reported("metrics-reporter", "producer-metrics", "record-send-total")
                    != RECORDS + reported("metrics-reporter", "producer-metrics", "record-retry-total") && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            double expected = RECORDS + reported("metrics-reporter", "producer-metrics", "record-retry-total");
            assertEquals(expected, reported("metrics-reporter", "producer-metrics", "record-send-total"));
            assertEquals(expected, reported("metrics-reporter", "producer-topic-metrics", "record-send-total"));
            Set<MetricName> given = new java.util.HashSet<>();
            JavaKeysTest.RecordingReporter.METRICS.get("metrics-reporter").forEach(m -> given.add(m.metricName()));
            assertEquals(p.metrics().keySet(), given, "the reporter was given every metric");
        }
    }

    @Test
    void metricsSettingsShapeTheWindowsAsKafkaProducers() {
        Properties c = config("metrics-settings");
        c.put(ProducerConfig.METRICS_NUM_SAMPLES_CONFIG, "3");
        c.put(ProducerConfig.METRICS_SAMPLE_WINDOW_MS_CONFIG, "5000");
        try (Producer<String, byte[]> p = new RafkaProducer<>(c)) {
            KafkaMetric m = (KafkaMetric) p.metrics().entrySet().stream().filter(e -> e.getKey().name().equals("record-send-rate")).findFirst().orElseThrow().getValue();
            assertEquals(3, m.config().samples());
            assertEquals(5000, m.config().timeWindowMs());
        }
        c.put(ProducerConfig.METRICS_NUM_SAMPLES_CONFIG, "0");
        org.junit.jupiter.api.Assertions.assertThrows(org.apache.kafka.common.config.ConfigException.class, () -> new RafkaProducer<String, byte[]>(c).close());
    }

    @Test
    void partitionerMetricsCountRecordsPlacedByKeyStickyChoiceAndExplicitPartition() throws Exception {
        String topic = Broker.createTopic("metrics-placed", 4);
        Properties c = config("metrics-placed");
        c.put(ProducerConfig.BATCH_SIZE_CONFIG, "200"); // ~110-byte keyless records: a sticky switch every second one
        try (Producer<String, byte[]> p = new RafkaProducer<>(c)) {
            byte[] value = new byte[100];
            for (int i = 0; i < 30; i++) {
                p.send(new ProducerRecord<>(topic, "key-" + i, value));
            }
            for (int i = 0; i < 20; i++) {
                p.send(new ProducerRecord<>(topic, 2, null, value));
            }
            for (int i = 0; i < 50; i++) {
                p.send(new ProducerRecord<>(topic, null, value));
            }
            p.flush();
            Map<String, Double> m = new HashMap<>();
            for (Map.Entry<MetricName, ? extends Metric> e : p.metrics().entrySet()) {
                MetricName n = e.getKey();
                if (n.group().equals("rafka-partitioner-metrics") && topic.equals(n.tags().get("topic"))) {
                    m.put(n.name(), (Double) e.getValue().metricValue());
                }
            }
            assertEquals(Map.of("record-key-placed-total", 30.0, "record-explicit-placed-total", 20.0, "record-sticky-placed-total", 50.0,
                    "sticky-switch-total", 25.0, "unavailable-partition-skip-total", 0.0), m);
        }
    }
}
