package io.rafka.internal;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

import org.apache.kafka.clients.producer.Partitioner;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.Cluster;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.utils.Utils;

/**
 * {@code partitioner.class} naming a {@link Partitioner}: it chooses each record's partition on the
 * sending thread (records with an explicit partition skip it, as in KafkaProducer), and the engine
 * gets the record for that partition. The {@link Cluster} it sees holds the topics sent to so far,
 * each from a broker's metadata (leaders, replicas, in-sync replicas), fetched on the first record
 * for the topic (waiting up to max.block.ms, as KafkaProducer does) and again once it is
 * {@code metadata.max.age.ms} old.
 */
public final class JavaPartitioner implements AutoCloseable {
    private final Partitioner partitioner;
    private final long maxAgeNanos;
    private final Map<String, Long> fetchedAt = new ConcurrentHashMap<>();
    private final Map<String, List<PartitionInfo>> topics = new HashMap<>(); // guarded by this
    private volatile Cluster cluster = Cluster.empty();

    private JavaPartitioner(Partitioner partitioner, long maxAgeMs) {
        this.partitioner = partitioner;
        this.maxAgeNanos = maxAgeMs * 1_000_000L;
    }

    /** The configured partitioner, or null when {@code partitioner.class} is not a Java one. */
    static JavaPartitioner create(Class<?> type, Map<String, Object> configs) {
        if (type == null) {
            return null;
        }
        Object age = configs.get(ProducerConfig.METADATA_MAX_AGE_CONFIG);
        long maxAgeMs = age == null ? 300_000L : Long.parseLong(ProducerSettings.asString(ProducerConfig.METADATA_MAX_AGE_CONFIG, age));
        Partitioner p = (Partitioner) Utils.newInstance(type);
        try {
            p.configure(configs);
        } catch (RuntimeException | Error e) {
            Utils.closeQuietly(p, "partitioner");
            throw e;
        }
        return new JavaPartitioner(p, maxAgeMs);
    }

    /**
     * The partition for a record without one. {@code fetch} gives the topic's partitions from a
     * broker (RafkaProducer.partitionsFor). A negative answer is an IllegalArgumentException, as
     * in KafkaProducer.
     */
    public int partition(String topic, Object key, byte[] keyBytes, Object value, byte[] valueBytes, Function<String, List<PartitionInfo>> fetch) {
        int p = partitioner.partition(topic, key, keyBytes, value, valueBytes, clusterWith(topic, fetch));
        if (p < 0) {
            throw new IllegalArgumentException(String.format(
                    "The partitioner generated an invalid partition number: %d. Partition number should always be non-negative.", p));
        }
        return p;
    }

    private Cluster clusterWith(String topic, Function<String, List<PartitionInfo>> fetch) {
        Long at = fetchedAt.get(topic);
        long now = System.nanoTime();
        if (at != null && now - at < maxAgeNanos) {
            return cluster;
        }
        List<PartitionInfo> infos = fetch.apply(topic);
        synchronized (this) {
            topics.put(topic, infos);
            Map<Integer, Node> nodes = new HashMap<>();
            List<PartitionInfo> all = new ArrayList<>();
            for (List<PartitionInfo> t : topics.values()) {
                for (PartitionInfo p : t) {
                    all.add(p);
                    addNode(nodes, p.leader());
                    for (Node n : p.replicas()) {
                        addNode(nodes, n);
                    }
                }
            }
            Set<String> none = new HashSet<>();
            cluster = new Cluster(null, nodes.values(), all, none, none);
            fetchedAt.put(topic, now);
            return cluster;
        }
    }

    private static void addNode(Map<Integer, Node> nodes, Node n) {
        if (n != null && !n.isEmpty()) {
            nodes.putIfAbsent(n.id(), n);
        }
    }

    @Override
    public void close() {
        Utils.closeQuietly(partitioner, "partitioner");
    }
}
