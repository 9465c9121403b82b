package io.rafka;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.kafka.clients.producer.Partitioner;
import org.apache.kafka.clients.producer.ProducerInterceptor;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.Cluster;
import org.apache.kafka.common.PartitionInfo;

/** The plugins of the service-style tests, named by class in the producer settings as a service would. */
final class ServicePlugins {
    private ServicePlugins() {}

    /** What the plugins of one producer (by client.id) saw. */
    static final class Counts {
        final AtomicInteger configured = new AtomicInteger();
        final AtomicInteger onSend = new AtomicInteger();
        final AtomicInteger acked = new AtomicInteger();
        final AtomicInteger failed = new AtomicInteger();
        final AtomicInteger closed = new AtomicInteger();
        final AtomicInteger partitioned = new AtomicInteger();
        final AtomicInteger partitionerClosed = new AtomicInteger();
        /** The partition count the partitioner's Cluster gave for the last topic it saw. */
        volatile int partitionCount = -1;
        volatile String auditSource;
        volatile Exception lastFailure;
    }

    static final Map<String, Counts> COUNTS = new ConcurrentHashMap<>();

    static Counts counts(String clientId) {
        return COUNTS.computeIfAbsent(clientId, x -> new Counts());
    }

    /**
     * A service's routing: keys are "REGION:id"; each region has its partition (modulo the count the
     * Cluster gives); a keyless record goes to the highest partition the Cluster lists as available.
     */
    public static final class RegionPartitioner implements Partitioner {
        private static final List<String> REGIONS = List.of("eu", "us", "ap");
        private Counts counts;

        @Override
        public void configure(Map<String, ?> configs) {
            counts = counts((String) configs.get("client.id"));
        }

        @Override
        public int partition(String topic, Object key, byte[] keyBytes, Object value, byte[] valueBytes, Cluster cluster) {
            counts.partitioned.incrementAndGet();
            int n = cluster.partitionCountForTopic(topic);
            counts.partitionCount = n;
            if (key == null) {
                List<PartitionInfo> available = cluster.availablePartitionsForTopic(topic);
                return available.stream().mapToInt(PartitionInfo::partition).max().orElseThrow();
            }
            String region = key.toString().substring(0, key.toString().indexOf(':'));
            return REGIONS.indexOf(region) % n;
        }

        @Override
        public void close() {
            counts.partitionerClosed.incrementAndGet();
        }
    }

    /**
     * A service's audit interceptor: reads its own setting ("audit.source", unknown to the Java
     * client), stamps each record with a header and an "audited:" value prefix (a new record, as
     * onSend may return), and counts acknowledgements. Records whose value starts with "boom" make
     * onSend throw: the record must go on unchanged, the exception only logged.
     */
    public static final class AuditInterceptor implements ProducerInterceptor<String, String> {
        private Counts counts;
        private String source;

        @Override
        public void configure(Map<String, ?> configs) {
            counts = counts((String) configs.get("client.id"));
            source = (String) configs.get("audit.source");
            counts.auditSource = source;
            counts.configured.incrementAndGet();
        }

        @Override
        public ProducerRecord<String, String> onSend(ProducerRecord<String, String> record) {
            counts.onSend.incrementAndGet();
            if (record.value() != null && record.value().startsWith("boom")) {
                throw new IllegalStateException("the audit interceptor fails on purpose");
            }
            ProducerRecord<String, String> out = new ProducerRecord<>(record.topic(), record.partition(), record.timestamp(), record.key(),
                    "audited:" + record.value(), record.headers());
            out.headers().add("audit-source", source.getBytes(StandardCharsets.UTF_8));
            return out;
        }

        @Override
        public void onAcknowledgement(RecordMetadata metadata, Exception exception) {
            if (exception == null) {
                counts.acked.incrementAndGet();
            } else {
                counts.failed.incrementAndGet();
                counts.lastFailure = exception;
            }
            if (metadata != null && metadata.topic().contains("-throwing-ack")) {
                throw new IllegalStateException("the audit interceptor's onAcknowledgement fails on purpose");
            }
        }

        @Override
        public void close() {
            counts.closed.incrementAndGet();
        }
    }
}
