// One producer loop through a kafka-clients Producer, for bench/run: Kafka's own KafkaProducer,
// or rafka's JNI wrapper (io.rafka.RafkaProducer implements the same interface), chosen by class
// name so that both run the very same loop.
//
// usage: java -cp KAFKA_CLASSPATH[:RAFKA_JAR] ProducerBench.java --producer-class C
//            --bootstrap B --topic T --records N --size S [--threads T] [--keys K] [--warmup W]
//            [--set key=value]... [--throughput R]
//
// Payload and keys are made before timing; W warm-up records are sent and flushed first; then T
// threads send N records between them, and the clock stops after flush(). Only acknowledged
// records count. Latency: System.nanoTime() at send() to the callback, in a log-linear histogram.
// --throughput R: at most R records/s in all (R/T per thread); a thread 1 ms or more ahead of its
// schedule sleeps until due, as bench/c/producer_bench.c does (which polls instead: here the
// callbacks run on the producer's I/O thread).
// Prints one JSON line; a setting the producer rejects prints {"unavailable": ...} and exits 3.

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;

public class ProducerBench {
    static final int SUB_BITS = 7;
    static final AtomicLong acked = new AtomicLong(), failed = new AtomicLong();
    static final AtomicLongArray hist = new AtomicLongArray(64 << SUB_BITS);
    static final AtomicReference<String> firstError = new AtomicReference<>("");

    static int bucketOf(long us) {
        if (us < (1 << SUB_BITS)) return (int) Math.max(us, 0);
        int msb = 63 - Long.numberOfLeadingZeros(us);
        return ((msb - SUB_BITS + 1) << SUB_BITS) + (int) ((us >>> (msb - SUB_BITS)) & ((1 << SUB_BITS) - 1));
    }

    static double bucketValue(int b) {
        if (b < (1 << SUB_BITS)) return b;
        int e = (b >> SUB_BITS) - 1, sub = b & ((1 << SUB_BITS) - 1);
        return (double) (((1L << SUB_BITS) + sub) << e);
    }

    static double percentileMs(double p) {
        long total = 0, seen = 0;
        for (int b = 0; b < hist.length(); b++) total += hist.get(b);
        if (total == 0) return 0;
        long target = Math.max(1, Math.round(p * total));
        for (int b = 0; b < hist.length(); b++) {
            seen += hist.get(b);
            if (seen >= target) return bucketValue(b) / 1000.0;
        }
        return 0;
    }

    static void unavailable(String client, Throwable e) {
        String why = String.valueOf(e.getCause() != null ? e.getCause().getMessage() : e.getMessage());
        System.out.println("{\"client\": \"" + client + "\", \"unavailable\": \"" + why.replace('"', '\'').replace('\n', ' ') + "\"}");
        System.exit(3);
    }

    public static void main(String[] args) throws Exception {
        String cls = null, bootstrap = null, topic = null;
        long records = 0, warmup = 0;
        double throughput = 0;
        int size = 100, threads = 1, nkeys = 0;
        Properties props = new Properties();
        for (int a = 0; a + 1 < args.length; a += 2) {
            String v = args[a + 1];
            switch (args[a]) {
                case "--producer-class": cls = v; break;
                case "--bootstrap": bootstrap = v; break;
                case "--topic": topic = v; break;
                case "--records": records = Long.parseLong(v); break;
                case "--size": size = Integer.parseInt(v); break;
                case "--threads": threads = Integer.parseInt(v); break;
                case "--keys": nkeys = Integer.parseInt(v); break;
                case "--warmup": warmup = Long.parseLong(v); break;
                case "--throughput": throughput = Double.parseDouble(v); break;
                case "--set": { int eq = v.indexOf('='); props.put(v.substring(0, eq), v.substring(eq + 1)); break; }
                default: throw new IllegalArgumentException("unknown argument " + args[a]);
            }
        }
        if (throughput < 0 || Double.isNaN(throughput)) throw new IllegalArgumentException("--throughput must be >= 0, not " + throughput);
        props.put("bootstrap.servers", bootstrap);
        props.put("key.serializer", "org.apache.kafka.common.serialization.ByteArraySerializer");
        props.put("value.serializer", "org.apache.kafka.common.serialization.ByteArraySerializer");
        String client = cls.endsWith("RafkaProducer") ? "rafka-jni" : "java";
        Producer<byte[], byte[]> producer;
        try {
            @SuppressWarnings("unchecked")
            Producer<byte[], byte[]> p = (Producer<byte[], byte[]>) Class.forName(cls).getConstructor(Properties.class).newInstance(props);
            producer = p;
        } catch (ReflectiveOperationException | RuntimeException e) {
            unavailable(client, e);
            return;
        }
        byte[] value = new byte[size];
        for (int i = 0; i < size; i++) value[i] = (byte) ('A' + i % 26);
        byte[][] keys = new byte[Math.max(nkeys, 1)][];
        for (int i = 0; i < nkeys; i++) keys[i] = ("key-" + i).getBytes(StandardCharsets.UTF_8);

        final String t = topic;
        final Producer<byte[], byte[]> prod = producer;
        if (warmup > 0) {
            send(prod, t, keys, value, 0, warmup, 0);
            prod.flush();
        }
        acked.set(0);
        failed.set(0);
        for (int b = 0; b < hist.length(); b++) hist.set(b, 0);

        long perThread = records / threads;
        final double perThreadRate = throughput / threads;
        List<Thread> workers = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            long base = i * perThread;
            workers.add(new Thread(() -> send(prod, t, keys, value, base, perThread, perThreadRate)));
        }
        long t0 = System.nanoTime();
        for (Thread w : workers) w.start();
        for (Thread w : workers) w.join();
        prod.flush();
        double seconds = (System.nanoTime() - t0) / 1e9;
        System.out.printf("{\"client\": \"%s\", \"records\": %d, \"acked\": %d, \"failed\": %d, \"seconds\": %.4f, "
                + "\"p50_ms\": %.3f, \"p99_ms\": %.3f, \"first_error\": \"%s\"}%n",
                client, perThread * threads, acked.get(), failed.get(), seconds, percentileMs(0.5), percentileMs(0.99),
                firstError.get().replace('"', '\''));
        System.out.flush();
        prod.close();
        System.exit(failed.get() > 0 ? 1 : 0);
    }

    /** Sends records base..base+n; with rate > 0 (records/s) sleeps while 1 ms or more ahead. */
    static void send(Producer<byte[], byte[]> p, String topic, byte[][] keys, byte[] value, long base, long n, double rate) {
        long start = System.nanoTime();
        for (long i = base; i < base + n; i++) {
            if (rate > 0) {
                long ahead;
                while ((ahead = start + (long) ((i - base) * 1e9 / rate) - System.nanoTime()) >= 1_000_000L)
                    java.util.concurrent.locks.LockSupport.parkNanos(ahead);
            }
            long sent = System.nanoTime();
            p.send(new ProducerRecord<>(topic, keys[(int) (i % keys.length)], value), (md, e) -> {
                if (e == null) {
                    acked.incrementAndGet();
                    hist.incrementAndGet(bucketOf((System.nanoTime() - sent) / 1000));
                } else {
                    failed.incrementAndGet();
                    firstError.compareAndSet("", e.toString());
                }
            });
        }
    }
}
