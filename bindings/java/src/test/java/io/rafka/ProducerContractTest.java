package io.rafka;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReferenceArray;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/** The same code, written against Producer, runs with KafkaProducer and RafkaProducer. */
class ProducerContractTest {
    static final int RECORDS = 300;
    static final int PARTITIONS = 3;

    static Properties config() {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, Broker.bootstrap());
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "contract-test");
        return p;
    }

    /**
     * Keyed records (murmur2 decides the partition), every seventh to an explicit partition, headers
     * (one with a null value), a tombstone. Checks every callback and future completes exactly once
     * and that both agree.
     */
    static void workload(Producer<String, byte[]> producer, String topic) throws Exception {
        AtomicIntegerArray calls = new AtomicIntegerArray(RECORDS);
        AtomicReferenceArray<RecordMetadata> fromCallback = new AtomicReferenceArray<>(RECORDS);
        List<Future<RecordMetadata>> futures = new ArrayList<>();
        for (int i = 0; i < RECORDS; i++) {
            Integer partition = i % 7 == 0 ? i % PARTITIONS : null;
            byte[] value = i == 5 ? null : ("value-" + i).getBytes(StandardCharsets.UTF_8);
            ProducerRecord<String, byte[]> r = new ProducerRecord<>(topic, partition, "key-" + i, value);
            r.headers().add("index", Integer.toString(i).getBytes(StandardCharsets.UTF_8));
            if (i % 3 == 0) {
                r.headers().add("empty", null);
            }
            int n = i;
            futures.add(producer.send(r, (md, e) -> {
                assertNull(e);
                calls.incrementAndGet(n);
                fromCallback.set(n, md);
            }));
        }
        producer.flush();
        for (int i = 0; i < RECORDS; i++) {
            Future<RecordMetadata> f = futures.get(i);
            assertTrue(f.isDone(), "future " + i + " is done after flush");
            RecordMetadata md = f.get();
            assertEquals(1, calls.get(i), "callback " + i + " ran exactly once");
            RecordMetadata cb = fromCallback.get(i);
            assertEquals(topic, md.topic());
            assertEquals(cb.partition(), md.partition());
            assertEquals(cb.offset(), md.offset());
            assertTrue(md.offset() >= 0, "offset of record " + i);
            assertTrue(md.hasTimestamp());
            assertEquals(("key-" + i).length(), md.serializedKeySize());
            assertEquals(i == 5 ? -1 : ("value-" + i).length(), md.serializedValueSize());
            if (i % 7 == 0) {
                assertEquals(i % PARTITIONS, md.partition());
            }
        }
    }

    /** A consumed record without what differs between two runs (offset, timestamp). */
    static List<String> comparable(List<String> consumed) {
        List<String> out = new ArrayList<>();
        for (String line : consumed) {
            out.add(line.replaceAll(",\"offset\":-?\\d+,\"timestamp\":-?\\d+", ""));
        }
        Collections.sort(out);
        return out;
    }

    @Test
    void kafkaProducerAndRafkaProducerWriteTheSameKeysValuesHeadersAndPartitions() throws Exception {
        String javaTopic = Broker.createTopic("java-contract-kafka", PARTITIONS);
        String rafkaTopic = Broker.createTopic("java-contract-rafka", PARTITIONS);
        try (Producer<String, byte[]> p = new KafkaProducer<>(config())) {
            workload(p, javaTopic);
        }
        try (Producer<String, byte[]> p = new RafkaProducer<>(config())) {
            workload(p, rafkaTopic);
        }
        List<String> fromJava = comparable(Broker.consume(javaTopic, RECORDS));
        List<String> fromRafka = comparable(Broker.consume(rafkaTopic, RECORDS));
        assertEquals(RECORDS, fromJava.size());
        assertEquals(fromJava, fromRafka);
    }

    /**
     * Records without headers (which RafkaProducer hands over through a per-thread direct buffer,
     * and above 64 KiB as arrays): null and empty keys and values, sizes around the buffer's
     * growth steps and its limit, from four threads at once; every callback once, and the same
     * records read back as from KafkaProducer.
     */
    static void headerlessWorkload(Producer<String, byte[]> producer, String topic) throws Exception {
        List<Integer> sizes = List.of(-1, 0, 1, 100, 1000, 1024, 1025, 5000, 65_000, 65_536, 70_000, 200_000);
        java.util.concurrent.atomic.AtomicInteger calls = new java.util.concurrent.atomic.AtomicInteger();
        List<Thread> threads = new ArrayList<>();
        List<Throwable> failures = Collections.synchronizedList(new ArrayList<>());
        for (int t = 0; t < 4; t++) {
            int thread = t;
            threads.add(new Thread(() -> {
                for (int round = 0; round < 3; round++) {
                    for (int s = 0; s < sizes.size(); s++) {
                        int size = sizes.get(s);
                        byte[] value = null;
                        if (size >= 0) {
                            value = new byte[size];
                            java.util.Arrays.fill(value, (byte) ('a' + (thread * 7 + s + round) % 26));
                        }
                        String key = s % 4 == 0 ? null : s % 4 == 1 ? "" : "t" + thread + "-r" + round + "-s" + s;
                        producer.send(new ProducerRecord<>(topic, s % PARTITIONS, key, value), (md, e) -> {
                            if (e != null) {
                                failures.add(e);
                            }
                            calls.incrementAndGet();
                        });
                    }
                }
            }));
        }
        for (Thread t : threads) {
            t.start();
        }
        for (Thread t : threads) {
            t.join();
        }
        producer.flush();
        assertEquals(List.of(), failures);
        assertEquals(4 * 3 * sizes.size(), calls.get(), "every callback ran once, before flush() returned");
    }

    @Test
    void recordsWithoutHeadersOfEverySizeAreWrittenAsKafkaProducerWritesThem() throws Exception {
        String javaTopic = Broker.createTopic("java-headerless-kafka", PARTITIONS);
        String rafkaTopic = Broker.createTopic("java-headerless-rafka", PARTITIONS);
        try (Producer<String, byte[]> p = new KafkaProducer<>(config())) {
            headerlessWorkload(p, javaTopic);
        }
        try (Producer<String, byte[]> p = new RafkaProducer<>(config())) {
            headerlessWorkload(p, rafkaTopic);
        }
        int n = 4 * 3 * 12;
        List<String> fromJava = comparable(Broker.consume(javaTopic, n));
        List<String> fromRafka = comparable(Broker.consume(rafkaTopic, n));
        assertEquals(n, fromJava.size());
        assertEquals(fromJava, fromRafka);
    }

    @Test
    void serializersGivenAsInstancesAreUsedAndTheFutureCarriesTheRecordTimestamp() throws Exception {
        String topic = Broker.createTopic("java-instances", 1);
        Properties p = config();
        p.remove(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG);
        p.remove(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG);
        try (Producer<String, String> producer = new RafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            RecordMetadata md = producer.send(new ProducerRecord<>(topic, null, 1_700_000_000_000L, "k", "héllo")).get();
            assertEquals(0, md.partition());
            assertEquals(0, md.offset());
            assertEquals(1_700_000_000_000L, md.timestamp());
            assertEquals("héllo".getBytes(StandardCharsets.UTF_8).length, md.serializedValueSize());
        }
        List<String> consumed = Broker.consume(topic, 1);
        assertTrue(consumed.get(0).contains("\"timestamp\":1700000000000"), consumed.get(0));
        assertTrue(consumed.get(0).contains("\"value\":\"héllo\""), consumed.get(0));
    }

    @Test
    void partitionsForListsEveryPartitionWithTheLeaderAndReplicasKafkaProducerReports() throws Exception {
        String topic = Broker.createTopic("java-partitions", 4);
        List<PartitionInfo> expected;
        try (Producer<String, byte[]> kafka = new KafkaProducer<>(config())) {
            expected = kafka.partitionsFor(topic);
        }
        try (Producer<String, byte[]> p = new RafkaProducer<>(config())) {
            var infos = p.partitionsFor(topic);
            assertEquals(4, infos.size());
            for (int i = 0; i < 4; i++) {
                PartitionInfo got = infos.get(i);
                PartitionInfo want = expected.stream().filter(x -> x.partition() == got.partition()).findFirst().orElseThrow();
                assertEquals(topic, got.topic());
                assertEquals(i, got.partition());
                assertNotNull(got.leader(), "partition " + i + " has a leader");
                assertEquals(want.leader(), got.leader(), "leader (id, host, port) of partition " + i);
                assertArrayEquals(want.replicas(), got.replicas(), "replicas of partition " + i);
                assertArrayEquals(want.inSyncReplicas(), got.inSyncReplicas(), "in-sync replicas of partition " + i);
            }
        }
    }

    @Test
    void metricsReportBufferMemoryAndWhatIsInFlight() throws Exception {
        Properties c = config();
        c.put(ProducerConfig.BUFFER_MEMORY_CONFIG, 8_000_000);
        try (Producer<String, byte[]> p = new RafkaProducer<>(c)) {
            var metrics = p.metrics();
            double total = -1;
            double available = -1;
            double inFlight = -1;
            for (var e : metrics.entrySet()) {
                if (!e.getKey().group().equals("producer-metrics")) {
                    continue;
                }
                assertEquals("contract-test", e.getKey().tags().get("client-id"));
                double v = (Double) e.getValue().metricValue();
                switch (e.getKey().name()) {
                    case "buffer-total-bytes" -> total = v;
                    case "buffer-available-bytes" -> available = v;
                    case "records-in-flight" -> inFlight = v;
                    default -> { }
                }
            }
            assertEquals(8_000_000.0, total);
            assertEquals(8_000_000.0, available);
            assertEquals(0.0, inFlight);
        }
    }
}
