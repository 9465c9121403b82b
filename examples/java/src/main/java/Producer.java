// examples/java: writes one record per standard-input line and prints each delivery.
//   Producer <bootstrap.servers> <topic>
// RafkaProducer implements kafka-clients' Producer interface: the same code runs with KafkaProducer.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicInteger;

import io.rafka.RafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

public final class Producer {
    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: Producer <bootstrap.servers> <topic>");
            System.exit(1);
        }
        Properties props = new Properties();
        props.put("bootstrap.servers", args[0]);
        props.put("key.serializer", StringSerializer.class.getName());
        props.put("value.serializer", StringSerializer.class.getName());
        AtomicInteger failed = new AtomicInteger();
        try (org.apache.kafka.clients.producer.Producer<String, String> producer = new RafkaProducer<>(props);
             BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                producer.send(new ProducerRecord<>(args[1], line), (md, e) -> {
                    if (e != null) {
                        failed.incrementAndGet();
                        System.err.println("% delivery failed: " + e);
                    } else {
                        System.err.printf("%% delivered %d bytes to %s [%d] at offset %d%n",
                                md.serializedValueSize(), md.topic(), md.partition(), md.offset());
                    }
                });
            }
            producer.flush();
        }
        if (failed.get() > 0) {
            System.err.println("% " + failed.get() + " record(s) failed");
            System.exit(1);
        }
    }
}
