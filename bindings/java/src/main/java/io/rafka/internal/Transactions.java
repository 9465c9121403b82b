package io.rafka.internal;

import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.clients.consumer.CommitFailedException;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.TimeoutException;

/**
 * The Java side of a transactional RafkaProducer: the engine (core/src/producer_txn.rs) keeps the
 * state machine and talks to the coordinators; this class turns its errors into what
 * KafkaProducer's TransactionManager throws for the same cause, with its wording where a program
 * might look at it:
 * <ul>
 * <li>fatal (fenced, not authorized): {@link ProducerFencedException},
 * {@link InvalidProducerEpochException}, {@code TransactionalIdAuthorizationException}, ... from
 * this call and every later one;</li>
 * <li>abortable (a record or the offsets of the transaction failed): a {@link KafkaException}
 * "Cannot execute transactional method because we are in an error state" whose cause is the first
 * failure; {@code sendOffsetsToTransaction} refused by the group coordinator after a rebalance
 * throws {@link CommitFailedException} as KafkaProducer does;</li>
 * <li>a wait past max.block.ms: {@link TimeoutException}, and calling the same method again waits
 * for the same request;</li>
 * <li>a thread interrupted while it waits: {@link InterruptException} (its flag set again), and
 * calling the same method again waits for the same request;</li>
 * <li>a call in the wrong state: {@link IllegalStateException}.</li>
 * </ul>
 */
public final class Transactions {
    /** The engine's states under the names of KafkaProducer's TransactionManager, by the ordinal {@link RafkaNative#transactionState} returns. */
    static final String[] STATES = {"UNINITIALIZED", "INITIALIZING", "READY", "IN_TRANSACTION", "COMMITTING_TRANSACTION",
            "ABORTING_TRANSACTION", "ABORTABLE_ERROR", "FATAL_ERROR"};
    private static final int INITIALIZING = 1;
    private static final int IN_TRANSACTION = 3;
    static final String ERROR_STATE = "Cannot execute transactional method because we are in an error state";
    // Kafka error codes that mean something of their own here.
    private static final int INVALID_PRODUCER_EPOCH = 47;
    private static final int PRODUCER_FENCED = 90;
    private static final int ILLEGAL_GENERATION = 22;
    private static final int UNKNOWN_MEMBER_ID = 25;

    private final String transactionalId;
    /**
     * The first record of the open transaction that send() refused with an API exception (too
     * large, no metadata within max.block.ms, ...). The engine, in librdkafka's way, leaves the
     * transaction open then, as the caller was told at once; KafkaProducer makes the transaction
     * abortable, so a program that ignores the failed future cannot commit without that record.
     * This is that abortable state, kept here; a successful abort clears it.
     */
    private final AtomicReference<RuntimeException> refusedSend = new AtomicReference<>();

    /** Whether KafkaProducer would have an (idempotent) transaction manager: its wording differs. */
    private final boolean idempotent;

    /** {@code transactionalId}: the producer's transactional.id, or null. */
    public Transactions(String transactionalId, boolean idempotent) {
        this.transactionalId = transactionalId;
        this.idempotent = idempotent;
    }

    /** KafkaProducer's check before every transactional method. */
    public void requireTransactional() {
        requireTransactionManager();
        if (transactionalId == null) {
            throw new IllegalStateException("Transactional method invoked on a non-transactional producer.");
        }
    }

    /**
     * KafkaProducer's first check: an idempotent producer without transactional.id has a
     * transaction manager (which refuses transactional calls itself, but not empty offsets).
     */
    public void requireTransactionManager() {
        if (transactionalId == null && !idempotent) {
            throw new IllegalStateException("Cannot use transactional methods without enabling transactions by setting the transactional.id configuration property");
        }
    }

    /** send() refused a record with {@code e} (an API exception, reported through the future). */
    public void sendRefused(RuntimeException e, long address) {
        if (transactionalId != null && RafkaNative.transactionState(address) == IN_TRANSACTION) {
            refusedSend.compareAndSet(null, e);
        }
    }

    /** KafkaProducer's check at the start of send(), beginTransaction, sendOffsetsToTransaction and commitTransaction. */
    public void throwIfSendRefused() {
        RuntimeException e = refusedSend.get();
        if (e != null) {
            throw new KafkaException(ERROR_STATE, e);
        }
    }

    /** The transaction was aborted: a new one starts clean. */
    public void aborted() {
        refusedSend.set(null);
    }

    static String stateName(int state) {
        return state >= 0 && state < STATES.length ? STATES[state] : "UNKNOWN";
    }

    /**
     * The exception for a transactional call's failure. {@code operation}: the Java method;
     * {@code target}: the state it moves to (for a call in the wrong state); {@code address}: the
     * producer, still acquired, to read the state and the transaction's first error from.
     */
    public RuntimeException toException(NativeException e, String operation, String target, long address) {
        if (e.fatal()) {
            return fatal(e);
        }
        if (e.abortable()) {
            if (e.code() > 0 && operation.equals("sendOffsetsToTransaction")) {
                // The group coordinator refused the offsets; KafkaProducer throws the refusal itself.
                return abortable(e);
            }
            return new KafkaException(ERROR_STATE, cause(e, address));
        }
        if (e.code() == ErrorMapping.TIMED_OUT) {
            return new TimeoutException(e.getMessage());
        }
        if (e.code() == ErrorMapping.INTR) {
            // KafkaProducer's words, naming the request it awaited; rafka's (what it waited for,
            // that the request goes on) in the cause. InterruptException sets the flag again.
            return new InterruptException("Received interrupt while awaiting " + awaitedRequest(operation), new InterruptedException(e.getMessage()));
        }
        if (e.code() == ErrorMapping.STATE) {
            if (e.retriable()) {
                // Another transactional call timed out and its request is still under way.
                return new IllegalStateException("Cannot attempt operation `" + operation + "` because a previous call timed out and must be retried (" + e.getMessage() + ")");
            }
            int state = RafkaNative.transactionState(address);
            if (state == INITIALIZING && !operation.equals("initTransactions")) {
                return new IllegalStateException("Cannot attempt operation `" + operation + "` because the previous call to `initTransactions` timed out and must be retried");
            }
            if (operation.equals("sendOffsetsToTransaction")) {
                return new IllegalStateException("Cannot send offsets if a transaction is not in progress (currentState= " + stateName(state) + ")");
            }
            return new IllegalStateException("TransactionalId " + transactionalId + ": Invalid transition attempted from state " + stateName(state) + " to state " + target);
        }
        return ErrorMapping.forWait(e);
    }

    /**
     * What {@code send()} throws or fails its future with when the engine refuses a record of a
     * transactional producer, as KafkaProducer: outside a transaction an IllegalStateException
     * (thrown); after an abortable error a KafkaException (thrown); fatal errors are API
     * exceptions (the future fails). Null when {@code e} is not such a refusal.
     */
    public RuntimeException sendRefusal(NativeException e, String topic, int partition, long address) {
        if (transactionalId == null) {
            return null;
        }
        if (e.fatal()) {
            return fatal(e);
        }
        if (e.abortable()) {
            return new KafkaException(ERROR_STATE, cause(e, address));
        }
        if (e.code() != ErrorMapping.STATE) {
            return null;
        }
        int state = RafkaNative.transactionState(address);
        if (state == IN_TRANSACTION || state < 0) {
            return null; // closed under the send
        }
        String tp = partition >= 0 ? topic + "-" + partition : "of topic " + topic;
        if (state <= INITIALIZING) {
            return new IllegalStateException("Cannot add partition " + tp + " to transaction before completing a call to initTransactions");
        }
        return new IllegalStateException("Cannot add partition " + tp + " to transaction while in state " + stateName(state));
    }

    /** The request a transactional method of KafkaProducer awaits, as its TransactionManager names it. */
    private static String awaitedRequest(String operation) {
        switch (operation) {
            case "initTransactions":
                return "InitProducerId";
            case "commitTransaction":
                return "EndTxn(true)";
            case "abortTransaction":
                return "EndTxn(false)";
            case "sendOffsetsToTransaction":
                return "AddOffsetsToTxn";
            default:
                return operation;
        }
    }

    /** Fenced: KafkaProducer's own two exceptions; others (not authorized, ...) by their error code. */
    private static RuntimeException fatal(NativeException e) {
        if (e.code() == PRODUCER_FENCED) {
            return new ProducerFencedException(e.getMessage());
        }
        if (e.code() == INVALID_PRODUCER_EPOCH) {
            return new InvalidProducerEpochException(e.getMessage());
        }
        return ErrorMapping.toException(e);
    }

    /** The transaction's first failure (the engine keeps it), else {@code e} itself. */
    private static RuntimeException cause(NativeException e, long address) {
        NativeException first = e.code() == ErrorMapping.STATE ? RafkaNative.transactionError(address) : null;
        return abortable(first != null ? first : e);
    }

    /** An error that made the transaction abortable, as KafkaProducer names it. */
    private static RuntimeException abortable(NativeException e) {
        if (e.code() == ILLEGAL_GENERATION || e.code() == UNKNOWN_MEMBER_ID) {
            // A rebalance took the consumer's partitions (KIP-447).
            return new CommitFailedException("Transaction offset Commit failed due to consumer group metadata mismatch: " + e.getMessage());
        }
        return ErrorMapping.toException(e);
    }

    /**
     * KafkaProducer's checks of the group metadata, then the offsets to the engine, in arrays.
     * Empty offsets do nothing, as in KafkaProducer.
     */
    public static void sendOffsets(long address, Map<TopicPartition, OffsetAndMetadata> offsets, ConsumerGroupMetadata group) {
        int n = offsets.size();
        String[] topics = new String[n];
        int[] partitions = new int[n];
        long[] positions = new long[n];
        int[] epochs = new int[n];
        String[] metadata = new String[n];
        int i = 0;
        for (Map.Entry<TopicPartition, OffsetAndMetadata> e : offsets.entrySet()) {
            OffsetAndMetadata o = e.getValue();
            if (o == null) {
                throw new IllegalArgumentException("The offset of " + e.getKey() + " is null");
            }
            topics[i] = e.getKey().topic();
            partitions[i] = e.getKey().partition();
            positions[i] = o.offset();
            epochs[i] = o.leaderEpoch().orElse(-1);
            metadata[i] = o.metadata();
            i++;
        }
        RafkaNative.sendOffsetsToTransaction(address, topics, partitions, positions, epochs, metadata, group.groupId(), group.generationId(),
                group.memberId(), group.groupInstanceId().orElse(null));
    }

    /** KafkaProducer's check of the group metadata (before anything else). */
    public static void checkGroupMetadata(ConsumerGroupMetadata group) {
        if (group == null) {
            throw new IllegalArgumentException("Consumer group metadata could not be null");
        }
        if (group.generationId() > 0 && group.memberId().isEmpty()) {
            throw new IllegalArgumentException("Passed in group metadata " + group + " has generationId > 0 but member.id ");
        }
    }
}
