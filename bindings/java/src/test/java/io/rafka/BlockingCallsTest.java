package io.rafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Calls that block, run through KafkaProducer and RafkaProducer alike: Thread.interrupt() of a
 * thread blocked in send() (buffer full, waiting for metadata), flush() or a transactional call
 * (initTransactions, commitTransaction, abortTransaction), send() waiting past
 * max.block.ms for metadata, close(Duration.ZERO) from a callback. A broker of the test's own
 * (port 26210), paused with scripts/kafka pause to make sends block.
 */
class BlockingCallsTest {
    static SecureBroker broker;

    @BeforeAll
    static void start() throws Exception {
        broker = SecureBroker.start(System.getProperty("java.io.tmpdir") + "/rafka-kafka-java-blocking", 26210, null);
    }

    @AfterAll
    static void stop() throws Exception {
        if (broker != null) {
            broker.close();
        }
    }

    static final List<Function<Properties, Producer<String, byte[]>>> BOTH = List.of(KafkaProducer::new, RafkaProducer::new);

    static Properties config(long maxBlockMs, long bufferMemory) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.plainBootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, Long.toString(maxBlockMs));
        p.put(ProducerConfig.BUFFER_MEMORY_CONFIG, Long.toString(bufferMemory));
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, "16384");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "120000");
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "60000");
        return p;
    }

    /** What the blocked thread saw: the exception its call threw and its interrupt flag after it. */
    record Outcome(Throwable thrown, boolean flagKept, int callsDone) {}

    /**
     * Runs {@code blocking} on a thread, interrupts it once it has been blocked for a while (the
     * paused broker keeps it blocked: no assertion here depends on the time), and returns what it saw.
     */
    static Outcome interruptWhileBlocked(ThrowingConsumer<AtomicInteger> blocking) throws Exception {
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        AtomicBoolean flag = new AtomicBoolean();
        AtomicInteger done = new AtomicInteger();
        Thread t = new Thread(() -> {
            try {
                blocking.accept(done);
            } catch (Throwable e) {
                thrown.set(e);
                flag.set(Thread.currentThread().isInterrupted());
            }
        });
        t.start();
        // Until the thread stops making progress for a second: it is blocked.
        int last = -1;
        while (done.get() != last) {
            last = done.get();
            Thread.sleep(1000);
        }
        t.interrupt();
        t.join(TimeUnit.SECONDS.toMillis(60));
        assertTrue(!t.isAlive(), "the interrupted thread returned");
        return new Outcome(thrown.get(), flag.get(), done.get());
    }

    @FunctionalInterface
    interface ThrowingConsumer<T> {
        void accept(T t) throws Exception;
    }

    /**
     * For KafkaProducer, then RafkaProducer: makes the producer (asking for the topic's metadata
     * first when {@code metadataFirst}, else with the broker paused already), runs {@code paused}
     * with the broker paused, then resumes the broker and closes the producer.
     */
    static void eachWithBrokerPaused(String topic, long maxBlockMs, long bufferMemory, boolean metadataFirst,
            ThrowingConsumer<Producer<String, byte[]>> paused) throws Exception {
        for (Function<Properties, Producer<String, byte[]>> make : BOTH) {
            Producer<String, byte[]> p;
            if (metadataFirst) {
                p = make.apply(config(maxBlockMs, bufferMemory));
                p.partitionsFor(topic);
                broker.pause();
            } else {
                broker.pause();
                p = make.apply(config(maxBlockMs, bufferMemory));
            }
            try {
                paused.accept(p);
            } finally {
                broker.resume();
                p.close(Duration.ofSeconds(60));
            }
        }
    }

    /** The blocked call threw InterruptException and left the thread's interrupt flag set. */
    static void assertInterrupted(Outcome o, Producer<?, ?> p) {
        String who = p.getClass().getSimpleName();
        assertInstanceOf(InterruptException.class, o.thrown, who);
        assertTrue(o.flagKept, who + ": the interrupt flag is set after InterruptException");
    }

    @Test
    void interruptingASendBlockedOnAFullBufferThrowsInterruptExceptionAndKeepsTheFlag() throws Exception {
        String topic = broker.createTopic("blocking-buffer", 1);
        // Metadata known first: the sends block on buffer memory only.
        eachWithBrokerPaused(topic, 120_000, 256 * 1024, true, p -> {
            Outcome o = interruptWhileBlocked(done -> {
                for (int i = 0; i < 100_000; i++) {
                    p.send(new ProducerRecord<>(topic, new byte[1000]));
                    done.incrementAndGet();
                }
            });
            assertInterrupted(o, p);
            assertTrue(o.callsDone > 0 && o.callsDone < 1000, "sends filled the buffer, then one blocked: " + o.callsDone);
        });
    }

    @Test
    void interruptingASendWaitingForMetadataThrowsInterruptExceptionAndKeepsTheFlag() throws Exception {
        String topic = broker.createTopic("blocking-metadata", 1);
        eachWithBrokerPaused(topic, 120_000, 1024 * 1024, false,
                p -> assertInterrupted(interruptWhileBlocked(done -> p.send(new ProducerRecord<>(topic, new byte[10]))), p));
    }

    @Test
    void interruptingAFlushThrowsInterruptExceptionAndKeepsTheFlag() throws Exception {
        String topic = broker.createTopic("blocking-flush", 1);
        eachWithBrokerPaused(topic, 120_000, 1024 * 1024, true, p -> {
            Future<RecordMetadata> f = p.send(new ProducerRecord<>(topic, new byte[10]));
            Outcome o = interruptWhileBlocked(done -> p.flush());
            assertInterrupted(o, p);
            assertEquals("Flush interrupted.", o.thrown.getMessage());
            broker.resume();
            f.get(60, TimeUnit.SECONDS); // the record is still sent
        });
    }

    /** {@link #config} with a transactional.id of its own per test, client and run. */
    static Properties transactional(String id, Function<Properties, Producer<String, byte[]>> make) {
        Properties p = config(120_000, 1024 * 1024);
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, id + "-" + (make == BOTH.get(0) ? "kafka" : "rafka") + "-" + System.nanoTime());
        return p;
    }

    @Test
    void interruptingInitTransactionsWaitingForTheCoordinatorThrowsInterruptExceptionAndACallAfterItGoesOn() throws Exception {
        for (Function<Properties, Producer<String, byte[]>> make : BOTH) {
            broker.pause();
            Producer<String, byte[]> p = make.apply(transactional("blocking-init", make));
            String who = p.getClass().getSimpleName();
            try {
                Outcome o = interruptWhileBlocked(done -> p.initTransactions());
                assertInterrupted(o, p);
                assertEquals("Received interrupt while awaiting InitProducerId", o.thrown.getMessage(), who);
                broker.resume();
                p.initTransactions(); // waits for the same request, now answered
                p.beginTransaction();
                p.send(new ProducerRecord<>(broker.createTopic("blocking-init-after", 1), new byte[10])).get(60, TimeUnit.SECONDS);
                p.commitTransaction();
            } finally {
                broker.resume();
                p.close(Duration.ofSeconds(60));
            }
        }
    }

    /**
     * For KafkaProducer, then RafkaProducer: a transactional producer with a transaction open and a
     * record sent in it; {@code paused} runs with the broker (the transaction's coordinator and the
     * partition's leader) paused.
     */
    static void eachInTransactionWithBrokerPaused(String topic, ThrowingConsumer<Producer<String, byte[]>> paused) throws Exception {
        for (Function<Properties, Producer<String, byte[]>> make : BOTH) {
            Producer<String, byte[]> p = make.apply(transactional(topic, make));
            try {
                p.initTransactions();
                p.beginTransaction();
                p.send(new ProducerRecord<>(topic, new byte[10])).get(60, TimeUnit.SECONDS);
                p.send(new ProducerRecord<>(topic, new byte[10]));
                broker.pause();
                paused.accept(p);
            } finally {
                broker.resume();
                p.close(Duration.ofSeconds(60));
            }
        }
    }

    @Test
    void interruptingACommitThrowsInterruptExceptionAndACommitAfterItCompletesTheTransaction() throws Exception {
        String topic = broker.createTopic("blocking-commit", 1);
        eachInTransactionWithBrokerPaused(topic, p -> {
            Outcome o = interruptWhileBlocked(done -> p.commitTransaction());
            assertInterrupted(o, p);
            assertEquals("Received interrupt while awaiting EndTxn(true)", o.thrown.getMessage(), p.getClass().getSimpleName());
            broker.resume();
            p.commitTransaction(); // the same commit, now answered
            p.beginTransaction(); // so the transaction ended
            p.abortTransaction();
        });
    }

    @Test
    void interruptingAnAbortThrowsInterruptExceptionAndAnAbortAfterItEndsTheTransaction() throws Exception {
        String topic = broker.createTopic("blocking-abort", 1);
        eachInTransactionWithBrokerPaused(topic, p -> {
            Outcome o = interruptWhileBlocked(done -> p.abortTransaction());
            assertInterrupted(o, p);
            assertEquals("Received interrupt while awaiting EndTxn(false)", o.thrown.getMessage(), p.getClass().getSimpleName());
            broker.resume();
            p.abortTransaction(); // the same abort, now answered
            p.beginTransaction(); // so the transaction ended
            p.send(new ProducerRecord<>(topic, new byte[10])).get(60, TimeUnit.SECONDS);
            p.commitTransaction();
        });
    }

    @Test
    @SuppressWarnings("removal") // ConsumerGroupMetadata made by hand: no consumer here
    void interruptingSendOffsetsToTransactionThrowsInterruptExceptionAndACallAfterItGoesOn() throws Exception {
        String topic = broker.createTopic("blocking-offsets", 1);
        eachInTransactionWithBrokerPaused(topic, p -> {
            java.util.Map<org.apache.kafka.common.TopicPartition, org.apache.kafka.clients.consumer.OffsetAndMetadata> offsets =
                    java.util.Map.of(new org.apache.kafka.common.TopicPartition(topic, 0), new org.apache.kafka.clients.consumer.OffsetAndMetadata(1));
            org.apache.kafka.clients.consumer.ConsumerGroupMetadata group = new org.apache.kafka.clients.consumer.ConsumerGroupMetadata("blocking-offsets-group");
            Outcome o = interruptWhileBlocked(done -> p.sendOffsetsToTransaction(offsets, group));
            assertInterrupted(o, p);
            // KafkaProducer names its request handler (TxnOffsetCommitHandler with transaction
            // version 2, AddOffsetsToTxn before); RafkaProducer says AddOffsetsToTxn.
            assertTrue(o.thrown.getMessage().startsWith("Received interrupt while awaiting "), p.getClass().getSimpleName() + ": " + o.thrown.getMessage());
            broker.resume();
            p.sendOffsetsToTransaction(offsets, group); // the same request, now answered
            p.commitTransaction();
        });
    }

    @Test
    void sendWaitingForMetadataPastMaxBlockMsFailsWithKafkaProducersTimeoutException() throws Exception {
        String topic = broker.createTopic("blocking-max-block", 1);
        eachWithBrokerPaused(topic, 1500, 1024 * 1024, false, p -> {
            String who = p.getClass().getSimpleName();
            Future<RecordMetadata> f = p.send(new ProducerRecord<>(topic, new byte[10]));
            ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(60, TimeUnit.SECONDS), who);
            assertInstanceOf(TimeoutException.class, e.getCause(), who);
            assertEquals("Topic " + topic + " not present in metadata after 1500 ms.", e.getCause().getMessage(), who);
            // A partition the topic does not have (it has one), with the broker answering.
            broker.resume();
            Future<RecordMetadata> g = p.send(new ProducerRecord<>(topic, 5, null, new byte[10]));
            e = assertThrows(ExecutionException.class, () -> g.get(60, TimeUnit.SECONDS), who);
            assertInstanceOf(TimeoutException.class, e.getCause(), who);
            assertEquals("Partition 5 of topic " + topic + " with partition count 1 is not present in metadata after 1500 ms.",
                    e.getCause().getMessage(), who);
        });
    }

    @Test
    void sendToATopicTheBrokerDoesNotHaveFailsAfterMaxBlockMsWithKafkaProducersTimeoutException() throws Exception {
        // The broker answers, but has no such topic (auto.create.topics.enable=false): both clients
        // keep asking until max.block.ms, then fail the record with the same text.
        String topic = "blocking-missing-" + System.nanoTime();
        for (Function<Properties, Producer<String, byte[]>> make : BOTH) {
            try (Producer<String, byte[]> p = make.apply(config(2000, 1024 * 1024))) {
                String who = p.getClass().getSimpleName();
                long start = System.nanoTime();
                Future<RecordMetadata> f = p.send(new ProducerRecord<>(topic, new byte[10]));
                ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(60, TimeUnit.SECONDS), who);
                long waitedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
                assertInstanceOf(TimeoutException.class, e.getCause(), who);
                assertEquals("Topic " + topic + " not present in metadata after 2000 ms.", e.getCause().getMessage(), who);
                assertTrue(waitedMs >= 2000, who + ": waited max.block.ms before failing, not " + waitedMs + " ms");
            }
        }
    }

    @Test
    void closeWithZeroTimeoutFromACallbackFailsThePendingRecordsAtOnceWithKafkaException() throws Exception {
        String topic = broker.createTopic("blocking-close-pending", 1);
        for (Function<Properties, Producer<String, byte[]>> make : BOTH) {
            Producer<String, byte[]> p = make.apply(config(60_000, 1024 * 1024));
            String who = p.getClass().getSimpleName();
            CountDownLatch inCallback = new CountDownLatch(1);
            CountDownLatch othersSent = new CountDownLatch(1);
            AtomicReference<Throwable> failed = new AtomicReference<>();
            p.send(new ProducerRecord<>(topic, new byte[10]), (metadata, exception) -> {
                inCallback.countDown();
                try {
                    othersSent.await();
                    p.close(Duration.ZERO);
                } catch (Throwable t) {
                    failed.set(t);
                }
            });
            try {
                assertTrue(inCallback.await(60, TimeUnit.SECONDS), who + ": the first record was acknowledged");
                // The broker stops answering: the records sent now stay pending (delivery.timeout.ms is 120 s).
                broker.pause();
                List<Future<RecordMetadata>> pending = new java.util.ArrayList<>();
                for (int i = 0; i < 3; i++) {
                    pending.add(p.send(new ProducerRecord<>(topic, new byte[10])));
                }
                othersSent.countDown();
                for (Future<RecordMetadata> f : pending) {
                    ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS),
                            who + ": a pending record fails once close(ZERO) runs, without waiting for the broker");
                    assertEquals(org.apache.kafka.common.KafkaException.class, e.getCause().getClass(), who + ": " + e.getCause());
                }
                assertEquals(null, failed.get(), who);
            } finally {
                othersSent.countDown();
                broker.resume();
                p.close(Duration.ofSeconds(60));
            }
        }
    }

    @Test
    void closeWithZeroTimeoutFromACallbackReturnsAndLaterCallsSeeAClosedProducer() throws Exception {
        String topic = broker.createTopic("blocking-close-callback", 1);
        for (Function<Properties, Producer<String, byte[]>> make : BOTH) {
            Producer<String, byte[]> p = make.apply(config(60_000, 1024 * 1024));
            String who = p.getClass().getSimpleName();
            CountDownLatch closed = new CountDownLatch(1);
            AtomicReference<Throwable> failed = new AtomicReference<>();
            p.send(new ProducerRecord<>(topic, new byte[10]), (metadata, exception) -> {
                try {
                    p.close(Duration.ZERO);
                } catch (Throwable t) {
                    failed.set(t);
                }
                closed.countDown();
            });
            assertTrue(closed.await(60, TimeUnit.SECONDS), who + ": close(ZERO) in the callback returned");
            assertEquals(null, failed.get(), who);
            assertThrows(IllegalStateException.class, () -> p.send(new ProducerRecord<>(topic, new byte[10])), who + ": closed");
            p.close(); // a second close from the application thread returns too
        }
    }
}
