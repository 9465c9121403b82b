package io.rafka.bench;

import java.nio.charset.StandardCharsets;
import java.util.Properties;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The cost of one {@code send()} on the application thread, KafkaProducer beside RafkaProducer,
 * against the null sink ({@code rafka-nullsink}, bootstrap in the system property
 * {@code bootstrap}). Each call builds its record as a service does: a new {@code ProducerRecord}
 * with a key from 1,000 and a 100 B value; {@code serde} picks String key and value with
 * {@code StringSerializer}, or byte[] ones with {@code ByteArraySerializer}. {@code sendWithCallback}
 * passes a callback per record and drops the Future; {@code sendWithFuture} keeps the Future
 * (consumed by the Blackhole) and passes no callback. acks=all, linger.ms=5, topic of 6 partitions.
 *
 * The score is the time per send() with the producer's pipeline running behind it: when the
 * engine or sender cannot keep up, send() waits for buffer space and that shows too. Each
 * iteration ends with flush(), so no backlog carries over. On a machine shared with other work the
 * time is noisy; {@link AppThread} also counts the CPU time of the sending thread itself
 * ({@code cpuNs} / {@code sends} is CPU ns per send on the application thread, which other
 * processes barely move).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class SendBench {
    static final int KEYS = 1000;
    static final int VALUE_SIZE = 100;

    @Param({"kafka", "rafka"})
    public String client;

    @Param({"string", "bytes"})
    public String serde;

    Producer<Object, Object> producer;
    String topic;
    String[] stringKeys;
    byte[][] byteKeys;
    String stringValue;
    byte[] byteValue;
    int next;
    boolean strings;
    final AtomicLong errors = new AtomicLong();
    Callback callback;

    @Setup(Level.Trial)
    public void open() throws Exception {
        String bootstrap = System.getProperty("bootstrap");
        if (bootstrap == null) {
            throw new IllegalStateException("-Dbootstrap=HOST:PORT (the null sink) is required");
        }
        topic = System.getProperty("topic", "jmh-p6");
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        strings = serde.equals("string");
        Class<?> ser = strings ? StringSerializer.class : ByteArraySerializer.class;
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ser.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ser.getName());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        String cls = client.equals("rafka") ? "io.rafka.RafkaProducer" : "org.apache.kafka.clients.producer.KafkaProducer";
        @SuppressWarnings("unchecked")
        Producer<Object, Object> made = (Producer<Object, Object>) Class.forName(cls).getConstructor(Properties.class).newInstance(p);
        producer = made;
        stringKeys = new String[KEYS];
        byteKeys = new byte[KEYS][];
        for (int i = 0; i < KEYS; i++) {
            stringKeys[i] = "key-" + i;
            byteKeys[i] = stringKeys[i].getBytes(StandardCharsets.UTF_8);
        }
        stringValue = "v".repeat(VALUE_SIZE);
        byteValue = new byte[VALUE_SIZE];
        callback = (md, e) -> {
            if (e != null) {
                errors.incrementAndGet();
            }
        };
        producer.partitionsFor(topic); // metadata before the first measured send
    }

    @TearDown(Level.Iteration)
    public void drain() {
        producer.flush();
    }

    @TearDown(Level.Trial)
    public void close() {
        producer.close();
        if (errors.get() > 0) {
            throw new IllegalStateException(errors.get() + " records failed");
        }
    }

    ProducerRecord<Object, Object> record() {
        int k = next++;
        if (next == KEYS) {
            next = 0;
        }
        if (strings) {
            return new ProducerRecord<>(topic, stringKeys[k], stringValue);
        }
        return new ProducerRecord<>(topic, byteKeys[k], byteValue);
    }

    /** CPU time of the benchmark thread and sends, per iteration (JMH sums EVENTS counters). */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class AppThread {
        static final java.lang.management.ThreadMXBean THREADS = java.lang.management.ManagementFactory.getThreadMXBean();
        public long cpuNs;
        public long sends;
        long start;

        @Setup(Level.Iteration)
        public void begin() {
            cpuNs = 0;
            sends = 0;
            start = THREADS.getCurrentThreadCpuTime();
        }

        @TearDown(Level.Iteration)
        public void end() {
            cpuNs = THREADS.getCurrentThreadCpuTime() - start;
        }
    }

    @Benchmark
    public void sendWithCallback(AppThread t) {
        producer.send(record(), callback);
        t.sends++;
    }

    @Benchmark
    public Future<RecordMetadata> sendWithFuture(AppThread t) {
        t.sends++;
        return producer.send(record());
    }
}
