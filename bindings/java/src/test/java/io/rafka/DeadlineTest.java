package io.rafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.errors.TimeoutException;
import org.junit.jupiter.api.Test;

/** {@code RafkaProducer.send(record, timeout, callback)}: a deadline of the record's own. */
class DeadlineTest {

    @Test
    void aRecordStillQueuedAtItsOwnTimeoutFailsThenWhileTheOthersAreDelivered() throws Exception {
        String topic = Broker.createTopic("deadline", 1);
        Map<String, Object> c = MisuseTest.config();
        // Records linger (a minute, a megabyte batch) until flush(): the timed one is still queued at its deadline.
        c.put(ProducerConfig.LINGER_MS_CONFIG, 60000);
        c.put(ProducerConfig.BATCH_SIZE_CONFIG, 1000000);
        try (RafkaProducer<String, String> p = new RafkaProducer<>(c)) {
            p.partitionsFor(topic);
            assertThrows(IllegalArgumentException.class, () -> p.send(new ProducerRecord<>(topic, "bad"), Duration.ofMillis(-1), null));
            long t0 = System.nanoTime();
            Future<RecordMetadata> timed = p.send(new ProducerRecord<>(topic, "timed"), Duration.ofMillis(100), null);
            Future<RecordMetadata> kept = p.send(new ProducerRecord<>(topic, "kept"), null, null);
            ExecutionException e = assertThrows(ExecutionException.class, () -> timed.get(10, TimeUnit.SECONDS));
            double seconds = (System.nanoTime() - t0) / 1e9;
            assertInstanceOf(TimeoutException.class, e.getCause());
            assertTrue(e.getCause().getMessage().contains("own deadline"), e.getCause().getMessage());
            assertTrue(seconds >= 0.09 && seconds < 5, "failed at about its deadline: " + seconds + " s");
            assertFalse(kept.isDone(), "the record without a deadline keeps waiting");
            p.flush();
            assertTrue(kept.get(10, TimeUnit.SECONDS).offset() >= 0);
        }
        List<String> got = Broker.consume(topic, 1);
        assertEquals(1, got.size());
        assertTrue(got.get(0).contains("\"kept\""), got.get(0));
    }
}
