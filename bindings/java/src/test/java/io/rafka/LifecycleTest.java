package io.rafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

import io.rafka.internal.RafkaNative;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.junit.jupiter.api.Test;

/** The native producer is freed exactly once, and nothing a send hands to native code stays behind. */
class LifecycleTest {
    /** Runs the GC until {@code done} holds, at most 50 times. */
    static boolean gcUntil(java.util.function.BooleanSupplier done) throws InterruptedException {
        for (int i = 0; i < 50 && !done.getAsBoolean(); i++) {
            System.gc();
            Thread.sleep(100);
        }
        return done.getAsBoolean();
    }

    @Test
    void closeFreesTheNativeProducerOnceAndASecondCloseFreesNothing() {
        long before = RafkaNative.liveProducers();
        Producer<String, String> p = new RafkaProducer<>(MisuseTest.config());
        assertEquals(before + 1, RafkaNative.liveProducers());
        p.close();
        assertEquals(before, RafkaNative.liveProducers());
        p.close();
        assertEquals(before, RafkaNative.liveProducers());
    }

    @Test
    void aProducerDroppedWithoutCloseIsFreedByTheCleaner() throws InterruptedException {
        long before = RafkaNative.liveProducers();
        makeAndForget();
        assertEquals(before + 1, RafkaNative.liveProducers());
        gcUntil(() -> RafkaNative.liveProducers() == before);
        assertEquals(before, RafkaNative.liveProducers());
    }

    private static void makeAndForget() {
        new RafkaProducer<String, String>(MisuseTest.config());
    }

    @Test
    void callbacksRunOnOneDaemonThreadNamedRafkaDelivery() throws Exception {
        String topic = Broker.createTopic("java-delivery-thread", 1);
        List<Thread> seen = java.util.Collections.synchronizedList(new ArrayList<>());
        try (Producer<String, String> p = new RafkaProducer<>(MisuseTest.config())) {
            p.send(new ProducerRecord<>(topic, "a"), (md, e) -> seen.add(Thread.currentThread())).get();
            p.send(new ProducerRecord<>(topic, "b"), (md, e) -> seen.add(Thread.currentThread())).get();
        }
        assertEquals(2, seen.size());
        // The same Thread object: the native thread was attached once, not once per report.
        assertSame(seen.get(0), seen.get(1));
        assertEquals("rafka-delivery", seen.get(0).getName());
        assertTrue(seen.get(0).isDaemon());
    }

    /**
     * A million small records with callbacks: each gets one report, and afterwards the futures are
     * collectable, i.e. the native side deleted every global reference it took. (The suite runs with
     * -Xcheck:jni, which also reports local references piling up on the delivery thread.)
     */
    @Test
    void aMillionSendsReportEachRecordOnceAndReleaseEveryFuture() throws Exception {
        final int n = 1_000_000;
        String topic = Broker.createTopic("java-million", 3);
        Map<String, Object> c = MisuseTest.config();
        c.put(ProducerConfig.ACKS_CONFIG, "1");
        AtomicLong ok = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        List<WeakReference<Future<RecordMetadata>>> sample = new ArrayList<>();
        try (Producer<String, String> p = new RafkaProducer<>(c)) {
            for (int i = 0; i < n; i++) {
                Future<RecordMetadata> f = p.send(new ProducerRecord<>(topic, "k" + (i % 1000), "v"), (md, e) -> {
                    if (e == null) {
                        ok.incrementAndGet();
                    } else {
                        failed.incrementAndGet();
                    }
                });
                if (i % 10_000 == 0) {
                    sample.add(new WeakReference<>(f));
                }
            }
            p.flush();
            assertEquals(n, ok.get());
            assertEquals(0, failed.get());
        }
        gcUntil(() -> sample.stream().allMatch(r -> r.get() == null));
        for (WeakReference<Future<RecordMetadata>> r : sample) {
            assertNull(r.get(), "a future is still referenced after its report");
        }
    }
}
