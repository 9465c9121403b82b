package io.rafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/**
 * {@link SpoolRecoveredCallback}: the records an earlier producer left in {@code spool.dir} are
 * reported to it once each, with the partition and offset Kafka's consumer reads back.
 *
 * <p>The earlier producer is not pointed at a bootstrap where nothing listens, as the other
 * bindings' tests do: RafkaProducer's {@code send()}, like KafkaProducer's, waits up to
 * max.block.ms for the topic's metadata and then fails (and the record is not kept). So it learns
 * the topic's partitions from the shared broker, the topic is deleted, and its records are sent to
 * a topic that is gone: UNKNOWN_TOPIC_OR_PARTITION, retried (nothing is stored) until
 * {@code close(timeout)} ends it: every record's report is {@code _DESTROY} and it stays in the
 * spool. The topic is created again, and the next producer on the directory stores them there.
 * (A topic with min.insync.replicas above its replica count does not refuse: Kafka 4 caps it.)
 */
class SpoolRecoveredTest {
    private static final int N = 10;

    /** What a callback heard: record number ("k<i>") to (partition, offset); errors apart. */
    static final class Heard implements SpoolRecoveredCallback {
        final Map<Integer, List<long[]>> byRecord = new ConcurrentHashMap<>();
        final List<Exception> errors = new CopyOnWriteArrayList<>();
        final List<String> threads = new CopyOnWriteArrayList<>();

        @Override
        public void onRecovered(ProducerRecord<byte[], byte[]> record, RecordMetadata metadata, Exception exception) {
            threads.add(Thread.currentThread().getName());
            if (exception != null) {
                errors.add(exception);
                return;
            }
            String key = new String(record.key(), StandardCharsets.UTF_8);
            String value = new String(record.value(), StandardCharsets.UTF_8);
            int i = Integer.parseInt(key.substring(1));
            assertEquals("v" + i, value);
            assertEquals(record.topic(), metadata.topic());
            assertEquals("spool-h", new String(record.headers().lastHeader("h").value(), StandardCharsets.UTF_8));
            byRecord.computeIfAbsent(i, x -> new CopyOnWriteArrayList<>()).add(new long[] {metadata.partition(), metadata.offset()});
        }

        int count() {
            return byRecord.values().stream().mapToInt(List::size).sum() + errors.size();
        }
    }

    /** A class named by {@code spool.recovered.callback.class}: reports into a static sink. */
    public static final class NamedCallback implements SpoolRecoveredCallback {
        static final Heard HEARD = new Heard();

        @Override
        public void onRecovered(ProducerRecord<byte[], byte[]> record, RecordMetadata metadata, Exception exception) {
            HEARD.onRecovered(record, metadata, exception);
        }
    }

    private static Admin admin() {
        return Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, Broker.bootstrap()));
    }

    /** Creates {@code topic} again once its deletion is done (until then Kafka says it exists). */
    private static void createAgain(String topic) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        try (Admin admin = admin()) {
            while (true) {
                try {
                    admin.createTopics(List.of(new NewTopic(topic, 2, (short) 1))).all().get();
                    return;
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException) || System.nanoTime() > deadline) {
                        throw e;
                    }
                    Thread.sleep(200);
                }
            }
        }
    }

    private static Map<String, Object> spoolConfig(String dir) {
        Map<String, Object> c = new HashMap<>();
        c.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, Broker.bootstrap());
        c.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        c.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        c.put("spool.dir", dir);
        c.put("spool.when", "always");
        return c;
    }

    /**
     * Makes a topic with 2 partitions and sends N records to it once it is deleted; close(timeout)
     * leaves them in {@code dir}. The topic is then created again, empty.
     */
    private static String leaveRecordsInTheSpool(String dir) throws Exception {
        String topic = Broker.createTopic("spool-java", 2);
        Heard none = new Heard();
        List<Future<RecordMetadata>> futures = new ArrayList<>();
        RafkaProducer<String, String> p = new RafkaProducer<>(spoolConfig(dir), null, null, none);
        assertEquals(2, p.partitionsFor(topic).size());
        try (Admin admin = admin()) {
            admin.deleteTopics(List.of(topic)).all().get();
        }
        for (int i = 0; i < N; i++) {
            ProducerRecord<String, String> r = new ProducerRecord<>(topic, "k" + i, "v" + i);
            r.headers().add("h", "spool-h".getBytes(StandardCharsets.UTF_8));
            futures.add(p.send(r));
        }
        Thread.sleep(500); // refused, and retried
        p.close(Duration.ofMillis(500));
        for (Future<RecordMetadata> f : futures) {
            ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS));
            assertInstanceOf(KafkaException.class, e.getCause());
        }
        assertEquals(0, none.count(), "nothing was recovered by the first producer");
        createAgain(topic);
        return topic;
    }

    private static Map<String, String> readBack(String topic) throws Exception {
        Map<String, String> keyAt = new HashMap<>();
        Pattern p = Pattern.compile("\\{\"partition\":(\\d+),\"offset\":(\\d+),.*\"key\":\"(k\\d+)\"");
        for (String line : Broker.consume(topic, N)) {
            Matcher m = p.matcher(line);
            assertTrue(m.find(), line);
            keyAt.put(m.group(1) + "@" + m.group(2), m.group(3));
        }
        return keyAt;
    }

    private static void checkEachReportedOnceWhereKafkaHasIt(Heard heard, String topic) throws Exception {
        assertTrue(heard.errors.isEmpty(), heard.errors.toString());
        assertEquals(N, heard.byRecord.size(), heard.byRecord.keySet().toString());
        Map<String, String> keyAt = readBack(topic);
        assertEquals(N, keyAt.size());
        for (Map.Entry<Integer, List<long[]>> e : heard.byRecord.entrySet()) {
            assertEquals(1, e.getValue().size(), "record " + e.getKey() + " reported once");
            long[] at = e.getValue().get(0);
            assertEquals("k" + e.getKey(), keyAt.get(at[0] + "@" + at[1]), "Kafka's consumer has record " + e.getKey() + " where it was reported");
        }
        assertTrue(heard.threads.stream().allMatch("rafka-delivery"::equals), heard.threads.toString());
    }

    @Test
    void recordsAnEarlierProducerLeftAreReportedOnceEachToTheCallbackGivenToTheConstructor() throws Exception {
        String dir = Files.createTempDirectory("java-spool-").toString();
        String topic = leaveRecordsInTheSpool(dir);
        Heard heard = new Heard();
        try (RafkaProducer<String, String> p = new RafkaProducer<>(spoolConfig(dir), null, null, heard)) {
            p.flush();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (heard.count() < N && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
        }
        checkEachReportedOnceWhereKafkaHasIt(heard, topic);
        // Everything was acknowledged: the next producer on the directory recovers nothing.
        Heard again = new Heard();
        try (RafkaProducer<String, String> p = new RafkaProducer<>(spoolConfig(dir), null, null, again)) {
            p.flush();
            Thread.sleep(300);
        }
        assertEquals(0, again.count());
    }

    @Test
    void aCallbackClassNamedInTheConfigurationGetsTheRecoveredRecords() throws Exception {
        String dir = Files.createTempDirectory("java-spool-").toString();
        String topic = leaveRecordsInTheSpool(dir);
        Map<String, Object> c = spoolConfig(dir);
        c.put(RafkaProducer.SPOOL_RECOVERED_CALLBACK_CLASS_CONFIG, NamedCallback.class.getName());
        try (RafkaProducer<String, String> p = new RafkaProducer<>(c)) {
            p.flush();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (NamedCallback.HEARD.count() < N && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
        }
        checkEachReportedOnceWhereKafkaHasIt(NamedCallback.HEARD, topic);
    }

    @Test
    void theCallbackIsNotCalledWhenNothingWasRecovered() throws Exception {
        String topic = Broker.createTopic("spool-none", 1);
        String dir = Files.createTempDirectory("java-spool-").toString();
        Heard heard = new Heard();
        try (RafkaProducer<String, String> p = new RafkaProducer<>(spoolConfig(dir), null, null, heard)) {
            List<Future<RecordMetadata>> futures = new ArrayList<>();
            for (int i = 0; i < N; i++) {
                futures.add(p.send(new ProducerRecord<>(topic, "k" + i, "v" + i)));
            }
            p.flush();
            for (Future<RecordMetadata> f : futures) {
                assertNotNull(f.get(10, TimeUnit.SECONDS));
            }
            Thread.sleep(300);
        }
        assertEquals(0, heard.count());
        assertEquals(N, Broker.consume(topic, N).size());
    }

    @Test
    void aCallbackBothGivenAndNamedIsAConfigException() throws Exception {
        Map<String, Object> c = spoolConfig(Files.createTempDirectory("java-spool-").toString());
        c.put(RafkaProducer.SPOOL_RECOVERED_CALLBACK_CLASS_CONFIG, NamedCallback.class);
        ConfigException e = assertThrows(ConfigException.class, () -> new RafkaProducer<String, String>(c, null, null, new Heard()).close());
        assertTrue(e.getMessage().contains("spool.recovered.callback.class"), e.getMessage());
        Map<String, Object> wrong = spoolConfig(Files.createTempDirectory("java-spool-").toString());
        wrong.put(RafkaProducer.SPOOL_RECOVERED_CALLBACK_CLASS_CONFIG, String.class.getName());
        e = assertThrows(ConfigException.class, () -> new RafkaProducer<String, String>(wrong).close());
        assertTrue(e.getMessage().contains(SpoolRecoveredCallback.class.getName()), e.getMessage());
    }
}
