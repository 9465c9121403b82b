package io.rafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Partitioner;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.Cluster;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/**
 * interceptor.classes and partitioner.class corner cases against the broker in RAFKA_BOOTSTRAP, each
 * checked with KafkaProducer too where it behaves the same.
 */
class InterceptorPartitionerTest {
    static Map<String, Object> config(String clientId) {
        Map<String, Object> c = new HashMap<>();
        c.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, Broker.bootstrap());
        c.put(ProducerConfig.CLIENT_ID_CONFIG, clientId);
        c.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        c.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        c.put(ProducerConfig.INTERCEPTOR_CLASSES_CONFIG, List.of(ServicePlugins.AuditInterceptor.class));
        c.put(ProducerConfig.PARTITIONER_CLASS_CONFIG, ServicePlugins.RegionPartitioner.class);
        c.put("audit.source", "corner-cases");
        return c;
    }

    /** Serializes "fail" by throwing, as a broken serializer would. */
    public static final class FailingSerializer extends StringSerializer {
        @Override
        public byte[] serialize(String topic, String data) {
            if ("audited:fail".equals(data)) {
                throw new SerializationException("cannot serialize 'fail'");
            }
            return super.serialize(topic, data);
        }
    }

    @Test
    void sendFailuresReachOnAcknowledgementAndThrowingInterceptorsNeverReachTheApplication() throws Exception {
        String topic = Broker.createTopic("java-intercept-throwing-ack", 3);
        for (boolean rafka : new boolean[] {false, true}) {
            String id = "corner-" + (rafka ? "rafka" : "kafka");
            Map<String, Object> c = config(id);
            c.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, FailingSerializer.class);
            ServicePlugins.Counts counts = ServicePlugins.counts(id);
            AtomicInteger callbacks = new AtomicInteger();
            Producer<String, String> p = rafka ? new RafkaProducer<>(c) : new KafkaProducer<>(c);
            try {
                // onAcknowledgement throws for this topic (its name has -throwing-ack): the callback still runs.
                RecordMetadata md = p.send(new ProducerRecord<>(topic, "us:1", "ok"), (m, e) -> callbacks.incrementAndGet()).get(30, TimeUnit.SECONDS);
                assertEquals(1, md.partition(), "RegionPartitioner: us is partition 1");
                assertEquals(1, callbacks.get());
                // The serializer throws: send throws it, and the interceptors hear of it.
                assertThrows(SerializationException.class, () -> p.send(new ProducerRecord<>(topic, "eu:2", "fail")));
                assertEquals(1, counts.failed.get(), id);
                assertInstanceOf(SerializationException.class, counts.lastFailure);
            } finally {
                p.close();
            }
            // After close: send throws IllegalStateException, and the interceptors hear of that too.
            assertThrows(IllegalStateException.class, () -> p.send(new ProducerRecord<>(topic, "eu:3", "late")));
            assertEquals(2, counts.failed.get(), id);
            assertInstanceOf(IllegalStateException.class, counts.lastFailure);
            assertEquals(3, counts.onSend.get(), id);
            assertEquals(1, counts.acked.get(), id);
        }
    }

    /** Answers -1, which KafkaProducer refuses. */
    public static final class NegativePartitioner implements Partitioner {
        @Override
        public int partition(String topic, Object key, byte[] keyBytes, Object value, byte[] valueBytes, Cluster cluster) {
            return -1;
        }

        @Override
        public void close() {}

        @Override
        public void configure(Map<String, ?> configs) {}
    }

    @Test
    void aNegativePartitionIsAnIllegalArgumentExceptionAsInKafkaProducer() throws Exception {
        String topic = Broker.createTopic("java-partitioner-negative", 2);
        Map<String, Object> c = config("negative");
        c.put(ProducerConfig.PARTITIONER_CLASS_CONFIG, NegativePartitioner.class.getName());
        try (Producer<String, String> p = new RafkaProducer<>(c)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> p.send(new ProducerRecord<>(topic, "k", "v")));
            assertTrue(e.getMessage().contains("invalid partition number: -1"), e.getMessage());
            // An explicit partition skips the partitioner.
            assertEquals(1, p.send(new ProducerRecord<>(topic, 1, "k", "v")).get(30, TimeUnit.SECONDS).partition());
        }
    }

    @Test
    void engineNamedPartitionersStillGoToTheEngineAndNonPartitionerClassesAreRefused() throws Exception {
        Map<String, Object> c = config("engine-partitioner");
        c.remove(ProducerConfig.INTERCEPTOR_CLASSES_CONFIG);
        // With no interceptor to read it, the interceptor's setting is a key nobody knows.
        ConfigException unread = assertThrows(ConfigException.class, () -> new RafkaProducer<String, String>(c).close());
        assertTrue(unread.getMessage().contains("'audit.source'"), unread.getMessage());
        c.remove("audit.source");
        c.put(ProducerConfig.PARTITIONER_CLASS_CONFIG, "murmur2_random");
        new RafkaProducer<String, String>(c).close();
        c.put(ProducerConfig.PARTITIONER_CLASS_CONFIG, String.class);
        ConfigException e = assertThrows(ConfigException.class, () -> new RafkaProducer<String, String>(c).close());
        assertTrue(e.getMessage().contains("is not an instance of org.apache.kafka.clients.producer.Partitioner"), e.getMessage());
        c.put(ProducerConfig.PARTITIONER_CLASS_CONFIG, "com.example.NoSuchPartitioner");
        e = assertThrows(ConfigException.class, () -> new RafkaProducer<String, String>(c).close());
        assertTrue(e.getMessage().contains("com.example.NoSuchPartitioner could not be found"), e.getMessage());
        c.remove(ProducerConfig.PARTITIONER_CLASS_CONFIG);
        c.put(ProducerConfig.INTERCEPTOR_CLASSES_CONFIG, "com.example.NoSuchInterceptor");
        e = assertThrows(ConfigException.class, () -> new RafkaProducer<String, String>(c).close());
        assertTrue(e.getMessage().contains("com.example.NoSuchInterceptor could not be found"), e.getMessage());
    }
}
