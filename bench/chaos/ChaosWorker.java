// scripts/chaos's Java worker: the same send loop with Kafka's KafkaProducer or rafka's
// RafkaProducer (both implement org.apache.kafka.clients.producer.Producer), launched from source:
//
//   java -cp RAFKA_JAR:KAFKA_LIBS/* ChaosWorker.java kafka|rafka BOOTSTRAP TOPIC RECORDS SECONDS ACKS IDEMPOTENCE(0|1) RECORD_SIZE OUT
//
// Records, pacing and the OUT line format are those of worker.py. A send() that throws counts as
// the record's report, with the exception's class as its error. Prints "ready", then "done" at the end.

import io.rafka.RafkaProducer;
import java.io.BufferedWriter;
import java.io.FileWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class ChaosWorker {
    private static final long WALL0 = System.currentTimeMillis() * 1_000_000L;
    private static final long NANO0 = System.nanoTime();

    /** Nanoseconds since the epoch, with nanoTime's resolution. */
    static long now() {
        return WALL0 + (System.nanoTime() - NANO0);
    }

    public static void main(String[] args) throws Exception {
        String client = args[0], bootstrap = args[1], topic = args[2];
        int records = Integer.parseInt(args[3]);
        double seconds = Double.parseDouble(args[4]);
        String acks = args[5];
        boolean idempotence = args[6].equals("1");
        int size = Integer.parseInt(args[7]);
        BufferedWriter out = new BufferedWriter(new FileWriter(args[8], StandardCharsets.UTF_8), 1 << 20);

        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("acks", acks);
        p.put("enable.idempotence", String.valueOf(idempotence));
        ByteArraySerializer ser = new ByteArraySerializer();
        Producer<byte[], byte[]> producer = client.equals("rafka")
                ? new RafkaProducer<>(p, ser, ser)
                : new KafkaProducer<>(p, ser, ser);
        long[] sent = new long[records];
        System.out.println("ready");
        System.out.flush();

        long start = System.nanoTime();
        double rate = seconds > 0 ? records / seconds : Double.POSITIVE_INFINITY;
        int seq = 0;
        while (seq < records) {
            long due = Math.min(records, (long) ((System.nanoTime() - start) / 1e9 * rate) + 1);
            while (seq < due) {
                final int s = seq;
                byte[] head = (s + ".").getBytes(StandardCharsets.US_ASCII);
                byte[] value = Arrays.copyOf(head, Math.max(size, head.length));
                Arrays.fill(value, head.length, value.length, (byte) 'x');
                byte[] key = ("k" + (s % 1000)).getBytes(StandardCharsets.US_ASCII);
                sent[s] = now();
                try {
                    producer.send(new ProducerRecord<>(topic, key, value), (md, e) -> {
                        long t = now();
                        String line = s + "\t" + (md != null ? md.partition() : -1) + "\t"
                                + (md != null && md.hasOffset() ? md.offset() : -1) + "\t"
                                + (e == null ? "" : e.getClass().getSimpleName()) + "\t" + sent[s] + "\t" + t + "\n";
                        write(out, line);
                    });
                } catch (Exception e) {
                    write(out, s + "\t-1\t-1\tsend-threw-" + e.getClass().getSimpleName() + "\t" + sent[s] + "\t" + now() + "\n");
                }
                seq++;
            }
            Thread.sleep(2);
        }
        producer.flush();
        producer.close(Duration.ofSeconds(60));
        synchronized (out) {
            out.close();
        }
        System.out.println("done");
    }

    static void write(BufferedWriter out, String line) {
        synchronized (out) {
            try {
                out.write(line);
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        }
    }
}
