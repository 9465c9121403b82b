package io.rafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Transactions: the same code, written against {@link Producer}, runs with KafkaProducer and
 * RafkaProducer, and Kafka's own consumer (read_committed and read_uncommitted) reads back what each
 * wrote. Misuse must throw the same exception types (and, for the state errors, the same messages).
 */
class TransactionsTest {
    static final String KAFKA = "KafkaProducer";
    static final String RAFKA = "RafkaProducer";

    static Properties config(String transactionalId) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, Broker.bootstrap());
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
        p.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, "30000");
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        return p;
    }

    static Producer<String, String> producer(String kind, Properties p) {
        return kind.equals(RAFKA) ? new RafkaProducer<>(p) : new KafkaProducer<>(p);
    }

    static String txnId(String kind, String what) {
        return what + "-" + kind + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    /**
     * Every record of {@code topic} that a consumer with {@code isolation} reads, as "key=value",
     * read until its position is at the log end of every partition (so every transaction marker is
     * behind it: what it has not returned by then it never will).
     */
    static List<String> readAll(String topic, String isolation) {
        Properties c = consumerConfig(isolation);
        List<String> out = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(c)) {
            List<TopicPartition> parts = new ArrayList<>();
            for (PartitionInfo pi : consumer.partitionsFor(topic)) {
                parts.add(new TopicPartition(topic, pi.partition()));
            }
            consumer.assign(parts);
            consumer.seekToBeginning(parts);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
            while (true) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    out.add(r.key() + "=" + r.value());
                }
                // endOffsets under read_committed is the last stable offset: equal to the log end
                // once no transaction is open on the partition any more.
                Map<TopicPartition, Long> ends = logEnds(parts);
                boolean done = true;
                for (TopicPartition tp : parts) {
                    if (consumer.position(tp) < ends.get(tp)) {
                        done = false;
                    }
                }
                if (done) {
                    return out;
                }
                if (System.nanoTime() > deadline) {
                    fail("the " + isolation + " consumer did not reach the log end of " + topic + " within 90 s; read " + out);
                }
            }
        }
    }

    /** The partitions' log end offsets (read_uncommitted's end). */
    static Map<TopicPartition, Long> logEnds(List<TopicPartition> parts) {
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerConfig("read_uncommitted"))) {
            return consumer.endOffsets(parts);
        }
    }

    /** A String consumer that commits nothing itself. */
    static Properties consumerConfig(String isolation) {
        Properties c = new Properties();
        c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, Broker.bootstrap());
        c.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        c.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        return c;
    }

    static List<String> sorted(List<String> in) {
        List<String> out = new ArrayList<>(in);
        out.sort(null);
        return out;
    }

    static List<String> expected(String prefix, int n) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add("k" + i + "=" + prefix + i);
        }
        return out;
    }

    static void sendAll(Producer<String, String> p, String topic, String prefix, int n) throws Exception {
        List<Future<RecordMetadata>> fs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            fs.add(p.send(new ProducerRecord<>(topic, "k" + i, prefix + i)));
        }
        p.flush();
        for (Future<RecordMetadata> f : fs) {
            f.get();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {KAFKA, RAFKA})
    void committedRecordsAreReadCommittedAndAbortedOnesOnlyReadUncommitted(String kind) throws Exception {
        String topic = Broker.createTopic("txn-visibility", 3);
        try (Producer<String, String> p = producer(kind, config(txnId(kind, "visibility")))) {
            p.initTransactions();
            p.beginTransaction();
            sendAll(p, topic, "committed-", 20);
            p.commitTransaction();

            p.beginTransaction();
            sendAll(p, topic, "aborted-", 20); // written to the log, then aborted
            p.abortTransaction();

            p.beginTransaction();
            for (int i = 0; i < 5; i++) {
                p.send(new ProducerRecord<>(topic, "k" + i, "second-" + i)); // commit flushes them
            }
            p.commitTransaction();
        }
        List<String> want = new ArrayList<>(expected("committed-", 20));
        want.addAll(expected("second-", 5));
        assertEquals(sorted(want), sorted(readAll(topic, "read_committed")), kind + ": read_committed sees both committed transactions and nothing else");
        List<String> all = new ArrayList<>(want);
        all.addAll(expected("aborted-", 20));
        assertEquals(sorted(all), sorted(readAll(topic, "read_uncommitted")), kind + ": read_uncommitted sees the aborted records too");
    }

    @ParameterizedTest
    @ValueSource(strings = {KAFKA, RAFKA})
    void aSecondProducerWithTheSameTransactionalIdFencesTheFirst(String kind) throws Exception {
        String topic = Broker.createTopic("txn-fencing", 2);
        String id = txnId(kind, "fencing");
        Producer<String, String> zombie = producer(kind, config(id));
        try {
            zombie.initTransactions();
            zombie.beginTransaction();
            sendAll(zombie, topic, "zombie-", 5);
            try (Producer<String, String> successor = producer(kind, config(id))) {
                successor.initTransactions(); // fences the zombie and aborts its open transaction

                assertThrows(ProducerFencedException.class, zombie::commitTransaction, kind + ": the zombie's commit");
                // Fatal: every later call fails the same way, and nothing the zombie sends is written.
                assertThrows(ProducerFencedException.class, zombie::beginTransaction, kind + ": begin after fencing");
                Future<RecordMetadata> late = null;
                try {
                    late = zombie.send(new ProducerRecord<>(topic, "late", "zombie-late"));
                } catch (ProducerFencedException thrown) {
                    // acceptable: refused at once
                }
                if (late != null) {
                    Future<RecordMetadata> f = late;
                    ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS), kind + ": a send after fencing fails");
                    assertInstanceOf(ProducerFencedException.class, e.getCause(), kind + ": a send after fencing fails with ProducerFencedException");
                }
                assertThrows(ProducerFencedException.class, zombie::commitTransaction, kind + ": a second commit after fencing");

                successor.beginTransaction();
                sendAll(successor, topic, "successor-", 5);
                successor.commitTransaction();
            }
        } finally {
            zombie.close(Duration.ofSeconds(30)); // close works on a fenced producer
        }
        assertEquals(sorted(expected("successor-", 5)), sorted(readAll(topic, "read_committed")), kind + ": only the successor's records are committed");
    }

    /** The exception type and message of {@code call}, as one string. */
    static String thrown(Runnable call) {
        try {
            call.run();
        } catch (RuntimeException e) {
            return e.getClass().getSimpleName() + ": " + e.getMessage();
        }
        return "nothing thrown";
    }

    @ParameterizedTest
    @ValueSource(strings = {KAFKA, RAFKA})
    void misuseThrowsKafkaProducersExceptionsWithItsWording(String kind) throws Exception {
        String topic = Broker.createTopic("txn-misuse", 1);
        String id = txnId(kind, "misuse");
        String prefix = "IllegalStateException: TransactionalId " + id + ": Invalid transition attempted from state ";
        try (Producer<String, String> p = producer(kind, config(id))) {
            assertEquals(prefix + "UNINITIALIZED to state COMMITTING_TRANSACTION", thrown(p::commitTransaction), kind + ": commit before init");
            assertEquals(prefix + "UNINITIALIZED to state ABORTING_TRANSACTION", thrown(p::abortTransaction), kind + ": abort before init");
            assertEquals(prefix + "UNINITIALIZED to state IN_TRANSACTION", thrown(p::beginTransaction), kind + ": begin before init");
            String sendFirst = thrown(() -> p.send(new ProducerRecord<>(topic, 0, "k", "v")));
            assertTrue(sendFirst.startsWith("IllegalStateException: Cannot add partition " + topic + "-0 to transaction before completing a call to initTransactions"),
                    kind + ": send before init: " + sendFirst);

            p.initTransactions();
            assertEquals(prefix + "READY to state INITIALIZING", thrown(p::initTransactions), kind + ": init twice");
            assertEquals(prefix + "READY to state COMMITTING_TRANSACTION", thrown(p::commitTransaction), kind + ": commit outside a transaction");
            assertEquals("IllegalStateException: Cannot send offsets if a transaction is not in progress (currentState= READY)",
                    thrown(() -> p.sendOffsetsToTransaction(Map.of(new TopicPartition(topic, 0), new OffsetAndMetadata(1)), new ConsumerGroupMetadata("misuse"))),
                    kind + ": offsets outside a transaction");
            String sendOutside = thrown(() -> p.send(new ProducerRecord<>(topic, 0, "k", "v")));
            assertTrue(sendOutside.startsWith("IllegalStateException: Cannot add partition " + topic + "-0 to transaction while in state"), kind + ": send outside a transaction: " + sendOutside);

            p.beginTransaction();
            assertEquals(prefix + "IN_TRANSACTION to state IN_TRANSACTION", thrown(p::beginTransaction), kind + ": begin twice");
            assertEquals("IllegalArgumentException: Consumer group metadata could not be null", thrown(() -> p.sendOffsetsToTransaction(Map.of(), null)), kind);
            p.send(new ProducerRecord<>(topic, 0, "k", "inside")).get();
            p.commitTransaction();
            // Still usable: misuse changed nothing.
            p.beginTransaction();
            p.send(new ProducerRecord<>(topic, 0, "k", "again"));
            p.commitTransaction();
        }
        List<String> committed = readAll(topic, "read_committed");
        if (kind.equals(KAFKA)) {
            // KafkaProducer 4.x appends a record to its buffer before it checks the transaction
            // state, so the sends refused above with IllegalStateException are written anyway,
            // in the next transaction. RafkaProducer writes nothing it refused (docs/java.md).
            committed.removeIf(r -> r.equals("k=v"));
        }
        assertEquals(List.of("k=inside", "k=again"), committed, kind + ": the refused sends wrote nothing");
    }

    @ParameterizedTest
    @ValueSource(strings = {KAFKA, RAFKA})
    void aRecordRefusedInATransactionMakesCommitFailAndAbortRecovers(String kind) throws Exception {
        String topic = Broker.createTopic("txn-abortable", 1);
        Properties c = config(txnId(kind, "abortable"));
        c.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, "10000");
        try (Producer<String, String> p = producer(kind, c)) {
            p.initTransactions();
            p.beginTransaction();
            p.send(new ProducerRecord<>(topic, "k0", "lost-0")).get();
            Future<RecordMetadata> big = p.send(new ProducerRecord<>(topic, "big", "x".repeat(20000)));
            ExecutionException refused = assertThrows(ExecutionException.class, big::get);
            assertInstanceOf(RecordTooLargeException.class, refused.getCause(), kind);

            KafkaException commit = assertThrows(KafkaException.class, p::commitTransaction, kind + ": commit after a failed record");
            assertInstanceOf(RecordTooLargeException.class, commit.getCause(), kind + ": the commit's cause is the failed record's error: " + commit);
            assertThrows(KafkaException.class, () -> p.send(new ProducerRecord<>(topic, "k", "v")), kind + ": send in the abortable state");
            p.abortTransaction();

            p.beginTransaction();
            p.send(new ProducerRecord<>(topic, "k0", "kept-0"));
            p.commitTransaction();
        }
        assertEquals(List.of("k0=kept-0"), readAll(topic, "read_committed"), kind + ": only the transaction after the abort is visible");
    }

    /** No broker listens on this port (from the range given to these tests). */
    static final String NO_BROKER = "127.0.0.1:35199";

    @ParameterizedTest
    @ValueSource(strings = {KAFKA, RAFKA})
    void initTransactionsTimesOutRetriablyAndOtherCallsWaitForIt(String kind) {
        Properties c = config(txnId(kind, "timeout"));
        c.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, NO_BROKER);
        c.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "1500");
        try (Producer<String, String> p = producer(kind, c)) {
            assertThrows(org.apache.kafka.common.errors.TimeoutException.class, p::initTransactions, kind + ": no coordinator within max.block.ms");
            // Retriable: the same call waits for the same request again.
            assertThrows(org.apache.kafka.common.errors.TimeoutException.class, p::initTransactions, kind + ": init again");
            assertEquals("IllegalStateException: Cannot attempt operation `commitTransaction` because the previous call to `initTransactions` timed out and must be retried",
                    thrown(p::commitTransaction), kind + ": commit while init is pending");
        }
    }

    static final int INPUT = 400;
    static final int INPUT_PARTITIONS = 4;

    /**
     * A consume-transform-produce loop: a read_committed KafkaConsumer in a group, without auto
     * commit, and a producer committing the consumer's positions in each transaction. Four times
     * it commits a few batches and then "crashes" (a transaction left open, producer and consumer
     * closed without committing); the fifth run goes to the end. The output, read read_committed,
     * holds every input record exactly once.
     */
    @ParameterizedTest
    @ValueSource(strings = {KAFKA, RAFKA})
    void consumeTransformProduceRestartedFourTimesWritesEveryInputExactlyOnce(String kind) throws Exception {
        String input = Broker.createTopic("ctp-in", INPUT_PARTITIONS);
        String output = Broker.createTopic("ctp-out", 3);
        try (Producer<String, String> plain = new KafkaProducer<>(plainConfig())) {
            for (int i = 0; i < INPUT; i++) {
                plain.send(new ProducerRecord<>(input, "k" + i, "v" + i));
            }
            plain.flush();
        }
        String group = "ctp-" + kind + "-" + UUID.randomUUID().toString().substring(0, 8);
        String id = txnId(kind, "ctp");
        for (int run = 0; run < 5; run++) {
            boolean last = run == 4;
            boolean done = runLoop(kind, id, group, input, output, last ? Integer.MAX_VALUE : run + 1);
            assertEquals(last, done, kind + ": run " + run + " reached the end of the input");
        }
        Map<String, Integer> seen = new TreeMap<>();
        for (String r : readAll(output, "read_committed")) {
            seen.merge(r, 1, Integer::sum);
        }
        // Records that are not in the output exactly once: {record -> times}, 0 for a lost one.
        Map<String, Integer> wrong = new TreeMap<>();
        for (int i = 0; i < INPUT; i++) {
            String want = "k" + i + "=V" + i;
            int n = seen.getOrDefault(want, 0);
            if (n != 1) {
                wrong.put(want, n);
            }
        }
        assertEquals(Map.of(), wrong, kind + ": every input record is in the output exactly once");
        assertEquals(INPUT, seen.values().stream().mapToInt(Integer::intValue).sum(), kind + ": and nothing else is");
        assertTrue(readAll(output, "read_uncommitted").size() > INPUT, kind + ": the crashed runs wrote records that were aborted, so exactly-once was put to the test");
    }

    static Properties plainConfig() {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, Broker.bootstrap());
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        return p;
    }

    /**
     * One run of the loop: commits {@code batches} transactions (each one poll's records, their
     * output and the consumer's positions), then leaves one more open and closes everything
     * without committing, unless the input ends first. True when the input was read to its end.
     */
    static boolean runLoop(String kind, String id, String group, String input, String output, int batches) {
        Properties c = consumerConfig("read_committed");
        c.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        c.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "37");
        Producer<String, String> producer = producer(kind, config(id));
        KafkaConsumer<String, String> consumer = new KafkaConsumer<>(c);
        try {
            producer.initTransactions(); // aborts what the previous run left open
            consumer.subscribe(List.of(input));
            int committed = 0;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (System.nanoTime() < deadline) {
                ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(200));
                if (records.isEmpty()) {
                    if (atEnd(consumer, input)) {
                        return true;
                    }
                    continue;
                }
                producer.beginTransaction();
                Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
                for (ConsumerRecord<String, String> r : records) {
                    producer.send(new ProducerRecord<>(output, r.key(), r.value().toUpperCase()));
                    offsets.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
                }
                if (committed == batches) {
                    producer.flush(); // the crash: written, never committed
                    return false;
                }
                ConsumerGroupMetadata meta = consumer.groupMetadata();
                assertTrue(meta.generationId() > 0, "a group member's metadata: " + meta);
                assertNotEquals("", meta.memberId(), "a group member's metadata: " + meta);
                producer.sendOffsetsToTransaction(offsets, meta);
                producer.commitTransaction();
                committed++;
            }
            fail(kind + ": the loop did not finish within 120 s");
            return false;
        } finally {
            consumer.close(Duration.ofSeconds(10));
            producer.close(Duration.ofSeconds(10));
        }
    }

    /** The consumer's position is at the end of every partition of {@code topic} it has. */
    static boolean atEnd(KafkaConsumer<String, String> consumer, String topic) {
        if (consumer.assignment().size() < INPUT_PARTITIONS) {
            return false;
        }
        Map<TopicPartition, Long> ends = consumer.endOffsets(consumer.assignment());
        for (TopicPartition tp : consumer.assignment()) {
            if (consumer.position(tp) < ends.get(tp)) {
                return false;
            }
        }
        return true;
    }

    /**
     * KIP-447: the group coordinator checks the generation and member id that come with the
     * offsets. A real consumer's metadata commits; the same member with a generation it no longer
     * has is refused (CommitFailedException), which makes the transaction abortable. So the
     * metadata reaches the broker whole.
     */
    @ParameterizedTest
    @ValueSource(strings = {KAFKA, RAFKA})
    void offsetsWithAStaleGenerationAreRefusedWithCommitFailedException(String kind) throws Exception {
        String input = Broker.createTopic("kip447-in", 1);
        String output = Broker.createTopic("kip447-out", 1);
        TopicPartition tp = new TopicPartition(input, 0);
        Properties c = consumerConfig("read_committed");
        c.put(ConsumerConfig.GROUP_ID_CONFIG, "kip447-" + kind + "-" + UUID.randomUUID().toString().substring(0, 8));
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(c);
                Producer<String, String> p = producer(kind, config(txnId(kind, "kip447")))) {
            consumer.subscribe(List.of(input));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (consumer.assignment().isEmpty()) {
                consumer.poll(Duration.ofMillis(100));
                assertTrue(System.nanoTime() < deadline, "the consumer joined its group within 60 s");
            }
            ConsumerGroupMetadata meta = consumer.groupMetadata();
            p.initTransactions();

            p.beginTransaction();
            p.send(new ProducerRecord<>(output, "k", "stale"));
            ConsumerGroupMetadata stale = new ConsumerGroupMetadata(meta.groupId(), meta.generationId() + 1, meta.memberId(), meta.groupInstanceId());
            assertThrows(org.apache.kafka.clients.consumer.CommitFailedException.class,
                    () -> p.sendOffsetsToTransaction(Map.of(tp, new OffsetAndMetadata(7)), stale), kind + ": a generation the member does not have");
            KafkaException commit = assertThrows(KafkaException.class, p::commitTransaction, kind + ": the transaction cannot commit");
            assertInstanceOf(org.apache.kafka.clients.consumer.CommitFailedException.class, commit.getCause(), kind + ": " + commit);
            p.abortTransaction();

            p.beginTransaction();
            p.send(new ProducerRecord<>(output, "k", "current"));
            p.sendOffsetsToTransaction(Map.of(tp, new OffsetAndMetadata(5)), meta);
            p.commitTransaction();
            assertEquals(5, committedOffset(meta.groupId(), tp), kind + ": the offsets committed with the transaction");
        }
        assertEquals(List.of("k=current"), readAll(output, "read_committed"), kind);
    }

    /**
     * The group's committed offset of {@code tp}, once there is one: the transaction's offsets
     * become visible when the coordinator has written its markers, a moment after the commit.
     */
    static long committedOffset(String group, TopicPartition tp) throws Exception {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, Broker.bootstrap()))) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (true) {
                OffsetAndMetadata o = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get().get(tp);
                if (o != null) {
                    return o.offset();
                }
                assertTrue(System.nanoTime() < deadline, "group " + group + " has a committed offset for " + tp + " within 60 s");
                Thread.sleep(100);
            }
        }
    }

    /** The kafka-clients 3.x overload with a bare group id still commits the offsets. */
    @Test
    @SuppressWarnings("deprecation")
    void theGroupIdOverloadOfSendOffsetsCommitsTheOffsets() throws Exception {
        String topic = Broker.createTopic("txn-groupid", 1);
        String group = "groupid-" + UUID.randomUUID().toString().substring(0, 8);
        TopicPartition tp = new TopicPartition(topic, 0);
        try (RafkaProducer<String, String> p = new RafkaProducer<>(config(txnId(RAFKA, "groupid")))) {
            p.initTransactions();
            p.beginTransaction();
            p.send(new ProducerRecord<>(topic, "k", "v"));
            p.sendOffsetsToTransaction(Map.of(tp, new OffsetAndMetadata(42, "meta")), group);
            p.commitTransaction();
        }
        assertEquals(42, committedOffset(group, tp));
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, Broker.bootstrap()))) {
            assertEquals("meta", admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get().get(tp).metadata());
        }
    }
}
