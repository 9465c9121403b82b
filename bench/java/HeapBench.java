import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

import io.rafka.RafkaProducer;

/**
 * One run of the send loop, in its own JVM: bench/java/run.py starts it once per client and run.
 *
 *   java HeapBench.java kafka|rafka BOOTSTRAP TOPIC RECORDS RECORD_SIZE WARMUP [prepared|service]
 *
 * The loop is the same code for both clients, written against Producer, a callback per record that
 * counts errors, then flush(). "prepared" (the default): keyless records of RECORD_SIZE bytes, the
 * one value array made before timing. "service", as a JVM service sends: a new ProducerRecord per
 * record with a String key from 1,000 (StringSerializer) and a value array of its own per record
 * (RECORD_SIZE bytes, ByteArraySerializer). WARMUP records go first (JIT),
 * then the measured RECORDS. Prints one JSON object: records/s (first send to end of flush), process
 * CPU per record (every thread: the application's, the client's, JIT and GC), heap allocated per
 * record (summed over all Java threads, the native delivery thread included) and peak RSS.
 */
public class HeapBench {
    public static void main(String[] args) throws Exception {
        String client = args[0];
        String bootstrap = args[1];
        String topic = args[2];
        int records = Integer.parseInt(args[3]);
        int size = Integer.parseInt(args[4]);
        int warmup = Integer.parseInt(args[5]);
        boolean service = args.length > 6 && args[6].equals("service");

        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, (service ? StringSerializer.class : ByteArraySerializer.class).getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        Producer<Object, Object> producer = client.equals("rafka") ? new RafkaProducer<>(p) : new KafkaProducer<>(p);

        byte[] value = new byte[size];
        for (int i = 0; i < size; i++) {
            value[i] = (byte) ('a' + i % 26);
        }
        AtomicLong errors = new AtomicLong();
        sendLoop(producer, topic, value, warmup, errors, service);

        var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long heap0 = allocated(threads);
        long cpu0 = os.getProcessCpuTime();
        long t0 = System.nanoTime();
        sendLoop(producer, topic, value, records, errors, service);
        long t1 = System.nanoTime();
        long cpu1 = os.getProcessCpuTime();
        long heap1 = allocated(threads);
        producer.close();

        double seconds = (t1 - t0) / 1e9;
        System.out.printf("{\"client\":\"%s\",\"records\":%d,\"record_size\":%d,\"seconds\":%.3f,\"records_per_s\":%.0f,"
                + "\"cpu_us_per_record\":%.3f,\"heap_bytes_per_record\":%.1f,\"peak_rss_kib\":%d,\"errors\":%d}%n",
                client, records, size, seconds, records / seconds, (cpu1 - cpu0) / 1e3 / records,
                (double) (heap1 - heap0) / records, peakRssKib(), errors.get());
    }

    static final String[] KEYS = new String[1000];

    static {
        for (int i = 0; i < KEYS.length; i++) {
            KEYS[i] = "user-" + i;
        }
    }

    static void sendLoop(Producer<Object, Object> producer, String topic, byte[] value, int n, AtomicLong errors, boolean service) {
        for (int i = 0; i < n; i++) {
            ProducerRecord<Object, Object> record = service
                    ? new ProducerRecord<>(topic, KEYS[i % KEYS.length], value.clone())
                    : new ProducerRecord<>(topic, value);
            producer.send(record, (md, e) -> {
                if (e != null) {
                    errors.incrementAndGet();
                }
            });
        }
        producer.flush();
    }

    static long allocated(com.sun.management.ThreadMXBean threads) {
        long sum = 0;
        for (long b : threads.getThreadAllocatedBytes(threads.getAllThreadIds())) {
            if (b > 0) {
                sum += b;
            }
        }
        return sum;
    }

    static long peakRssKib() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmHWM:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }
}
