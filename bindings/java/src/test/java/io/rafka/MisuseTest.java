package io.rafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/** What KafkaProducer does when it is misused, RafkaProducer does too. */
class MisuseTest {
    static Map<String, Object> config() {
        Map<String, Object> c = new HashMap<>();
        c.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, Broker.bootstrap());
        c.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        c.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        return c;
    }

    @Test
    void closingTwiceIsHarmless() {
        Producer<String, String> p = new RafkaProducer<>(config());
        p.close();
        p.close();
        p.close(Duration.ofSeconds(1));
    }

    @Test
    void sendAfterCloseThrowsIllegalStateExceptionAndFlushDoesNothing() {
        Producer<String, String> p = new RafkaProducer<>(config());
        p.close();
        assertThrows(IllegalStateException.class, () -> p.send(new ProducerRecord<>("t", "v")));
        assertThrows(IllegalStateException.class, () -> p.partitionsFor("t"));
        p.flush();
    }

    /** Fails for the value "bad", serializes anything else as UTF-8. */
    static final class PickySerializer implements Serializer<String> {
        @Override
        public byte[] serialize(String topic, String data) {
            if ("bad".equals(data)) {
                throw new SerializationException("cannot serialize 'bad'");
            }
            return data.getBytes(StandardCharsets.UTF_8);
        }
    }

    @Test
    void aSerializerThatThrowsFailsThatSendOnlyAndNoCallbackRuns() throws Exception {
        String topic = Broker.createTopic("java-serializer", 1);
        AtomicInteger callbacks = new AtomicInteger();
        try (Producer<String, String> p = new RafkaProducer<>(config(), new StringSerializer(), new PickySerializer())) {
            assertThrows(SerializationException.class, () -> p.send(new ProducerRecord<>(topic, "k", "bad"), (md, e) -> callbacks.incrementAndGet()));
            RecordMetadata md = p.send(new ProducerRecord<>(topic, "k", "good"), (m, e) -> callbacks.incrementAndGet()).get();
            assertEquals(0, md.offset());
        }
        assertEquals(1, callbacks.get());
    }

    @Test
    @SuppressWarnings({"unchecked", "rawtypes"})
    void aValueOfTheWrongClassIsASerializationException() {
        try (Producer raw = new RafkaProducer<>(config())) {
            assertThrows(SerializationException.class, () -> raw.send(new ProducerRecord("t", "k", 42)));
        }
    }

    @Test
    void aCallbackThatThrowsDoesNotStopLaterReports() throws Exception {
        String topic = Broker.createTopic("java-callback-throws", 1);
        AtomicInteger later = new AtomicInteger();
        try (Producer<String, String> p = new RafkaProducer<>(config())) {
            Future<RecordMetadata> first = p.send(new ProducerRecord<>(topic, "k", "v0"), (md, e) -> {
                throw new RuntimeException("thrown by the application's callback");
            });
            assertEquals(0, first.get().offset());
            for (int i = 1; i <= 10; i++) {
                p.send(new ProducerRecord<>(topic, "k", "v" + i), (md, e) -> later.incrementAndGet());
            }
            p.flush();
            assertEquals(10, later.get());
        }
        assertEquals(11, Broker.consume(topic, 11).size());
    }

    @Test
    void aRecordLargerThanMaxRequestSizeFailsItsCallbackAndFutureWithRecordTooLargeException() throws Exception {
        Map<String, Object> c = config();
        c.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 2000);
        AtomicReference<Exception> seen = new AtomicReference<>();
        AtomicInteger calls = new AtomicInteger();
        try (Producer<String, String> p = new RafkaProducer<>(c)) {
            Future<RecordMetadata> f = p.send(new ProducerRecord<>("java-too-large", "x".repeat(5000)), (md, e) -> {
                calls.incrementAndGet();
                seen.set(e);
            });
            ExecutionException e = assertThrows(ExecutionException.class, f::get);
            assertInstanceOf(RecordTooLargeException.class, e.getCause());
            assertInstanceOf(RecordTooLargeException.class, seen.get());
            assertEquals(1, calls.get());
        }
    }

    @Test
    void sendWithNoReachableBrokerFailsFastWithTimeoutExceptionNamingThePort() throws Exception {
        // Nothing listens there: the send fails once the refusal is seen twice, not after max.block.ms.
        Map<String, Object> c = config();
        c.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, "127.0.0.1:1");
        c.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 20000);
        try (Producer<String, String> p = new RafkaProducer<>(c)) {
            long t0 = System.nanoTime();
            Future<RecordMetadata> f = p.send(new ProducerRecord<>("nowhere", "v"));
            ExecutionException e = assertThrows(ExecutionException.class, f::get);
            assertTrue(System.nanoTime() - t0 < 5_000_000_000L, "failed after " + (System.nanoTime() - t0) / 1_000_000 + " ms");
            // KafkaProducer's class for a send that cannot get metadata, with rafka's diagnosis.
            assertInstanceOf(org.apache.kafka.common.errors.TimeoutException.class, e.getCause());
            assertTrue(e.getCause().getMessage().contains("nothing listens on 127.0.0.1:1"), e.getCause().getMessage());
        }
    }

    @Test
    void closeFromACallbackDoesNotDeadlockAndLaterSendsThrow() throws Exception {
        String topic = Broker.createTopic("java-close-in-callback", 1);
        Producer<String, String> p = new RafkaProducer<>(config());
        CountDownLatch closed = new CountDownLatch(1);
        p.send(new ProducerRecord<>(topic, "v"), (md, e) -> {
            p.close();
            closed.countDown();
        });
        assertTrue(closed.await(60, TimeUnit.SECONDS), "close() returned inside the callback");
        assertThrows(IllegalStateException.class, () -> p.send(new ProducerRecord<>(topic, "v")));
        p.close();
    }

    /**
     * The callback of r0 closes the producer while another thread is inside flush(), waiting for r1,
     * whose report the same delivery thread must serve next: close must not wait for that flush.
     */
    @Test
    void closeFromACallbackWhileAnotherThreadFlushesDoesNotDeadlock() throws Exception {
        String topic = Broker.createTopic("java-close-while-flushing", 1);
        Producer<String, String> p = new RafkaProducer<>(config());
        p.partitionsFor(topic);
        CountDownLatch flushing = new CountDownLatch(1);
        AtomicInteger r1Reports = new AtomicInteger();
        p.send(new ProducerRecord<>(topic, "r0"), (md, e) -> {
            try {
                flushing.await();
                Thread.sleep(200); // let the other thread get into flush()
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
            }
            p.close();
        });
        Thread flusher = new Thread(() -> {
            p.send(new ProducerRecord<>(topic, "r1"), (md, e) -> r1Reports.incrementAndGet());
            flushing.countDown();
            p.flush();
        });
        flusher.setDaemon(true);
        flusher.start();
        flusher.join(TimeUnit.SECONDS.toMillis(60));
        assertTrue(!flusher.isAlive(), "flush() returned after the callback closed the producer");
        assertEquals(1, r1Reports.get());
    }

    /**
     * With linger.ms at a minute the record is still queued when close(0) runs; close reports it
     * before returning (normally failed with a KafkaException; the I/O thread may also have sent it
     * in the meantime, which is a success), and exactly once.
     */
    @Test
    void closeWithZeroTimeoutReportsAPendingRecordExactlyOnceBeforeReturning() throws Exception {
        Map<String, Object> c = config();
        c.put(ProducerConfig.LINGER_MS_CONFIG, 60_000);
        c.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 120_000);
        String topic = Broker.createTopic("java-close-zero", 1);
        AtomicInteger calls = new AtomicInteger();
        Producer<String, String> p = new RafkaProducer<>(c);
        p.partitionsFor(topic);
        Future<RecordMetadata> f = p.send(new ProducerRecord<>(topic, "v"), (md, e) -> calls.incrementAndGet());
        p.close(Duration.ZERO);
        assertTrue(f.isDone());
        try {
            assertEquals(0, f.get().offset());
        } catch (ExecutionException e) {
            assertInstanceOf(KafkaException.class, e.getCause());
        }
        assertEquals(1, calls.get());
    }

    @Test
    void unknownAndInvalidSettingsAreConfigExceptions() {
        Map<String, Object> unknown = config();
        unknown.put("no.such.setting", "1");
        ConfigException e = assertThrows(ConfigException.class, () -> new RafkaProducer<>(unknown));
        assertTrue(e.getMessage().contains("no.such.setting"), e.getMessage());

        Map<String, Object> invalid = config();
        invalid.put(ProducerConfig.ACKS_CONFIG, "2");
        assertThrows(ConfigException.class, () -> new RafkaProducer<>(invalid));

        Map<String, Object> noSerializer = config();
        noSerializer.remove(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG);
        assertThrows(ConfigException.class, () -> new RafkaProducer<>(noSerializer));
    }

    @Test
    void settingsOfTheJavaClientsMetricsAreAcceptedAndValuesMayBeNumbersAndLists() {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, List.of(Broker.bootstrap()));
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 10);
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.METRICS_NUM_SAMPLES_CONFIG, "2");
        p.put(ProducerConfig.METRIC_REPORTER_CLASSES_CONFIG, "");
        p.put(ProducerConfig.INTERCEPTOR_CLASSES_CONFIG, List.of());
        new RafkaProducer<String, String>(p).close();
        // The same settings are fine for KafkaProducer.
        new KafkaProducer<String, String>(p).close();
    }

    @Test
    void transactionalMethodsWithoutTransactionalIdThrowIllegalStateExceptionAsKafkaProducer() {
        Map<String, Object> notIdempotent = config();
        notIdempotent.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "false");
        Map<Boolean, String> messages = Map.of(true, "Transactional method invoked on a non-transactional producer.", false,
                "Cannot use transactional methods without enabling transactions by setting the transactional.id configuration property");
        for (int i = 0; i < 4; i++) {
            boolean rafka = i % 2 == 0;
            boolean idempotent = i < 2;
            Map<String, Object> c = idempotent ? config() : notIdempotent;
            try (Producer<String, String> p = rafka ? new RafkaProducer<>(c) : new KafkaProducer<>(c)) {
                IllegalStateException e = assertThrows(IllegalStateException.class, p::initTransactions);
                assertEquals(messages.get(idempotent), e.getMessage(), rafka ? "RafkaProducer" : "KafkaProducer");
                assertThrows(IllegalStateException.class, p::beginTransaction);
                assertThrows(IllegalStateException.class, p::commitTransaction);
                assertThrows(IllegalStateException.class, p::abortTransaction);
                assertThrows(IllegalStateException.class,
                        () -> p.sendOffsetsToTransaction(Map.of(new TopicPartition("t", 0), new OffsetAndMetadata(1)), new ConsumerGroupMetadata("g")));
                if (idempotent) {
                    p.sendOffsetsToTransaction(Map.of(), new ConsumerGroupMetadata("g")); // nothing to send: KafkaProducer does nothing
                } else {
                    assertThrows(IllegalStateException.class, () -> p.sendOffsetsToTransaction(Map.of(), new ConsumerGroupMetadata("g")));
                }
                assertThrows(IllegalArgumentException.class, () -> p.sendOffsetsToTransaction(Map.of(), null));
            }
        }
    }
}
