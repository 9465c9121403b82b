package io.rafka.internal;

/**
 * The native methods of librafka_jni (bindings/java/native/src/lib.rs). Each one throws a
 * {@link NativeException} on failure. A handle is a pointer to a native producer: valid from
 * {@link #create} until {@link #free}, which {@link NativeHandle} calls exactly once.
 */
public final class RafkaNative {
    static {
        NativeLoader.load();
    }

    private RafkaNative() {}

    /**
     * A producer from engine configuration (keys and values of equal length); {@code tokens}, when
     * not null, gives OAUTHBEARER tokens (read on the engine's I/O thread); {@code recovered}, when
     * not null, gets the reports of records an earlier producer left in {@code spool.dir} (on the
     * engine's delivery thread).
     */
    public static native long create(String[] keys, String[] values, OAuthBearerTokens tokens, SpoolRecovered recovered, InFlight inFlight);

    /**
     * Queues a record; its report comes back to the producer's {@link InFlight} (given to
     * {@link #create}) with {@code slot}, in a batch, on the engine's delivery thread.
     * {@code partition < 0}: the partitioner chooses; {@code timestamp < 0}: now; {@code headers}:
     * UTF-8 key, value, key, value... or null. Blocks up to max.block.ms for metadata or buffer space
     * (an interrupted calling thread ends the wait: code _INTR).
     */
    public static native void send(long handle, byte[] topic, int partition, long timestamp, byte[] key, byte[] value,
            byte[][] headers, long timeoutNanos, int slot);

    /**
     * {@link #send} for a record without headers whose topic (UTF-8), key and value the calling
     * thread wrote one after the other at {@code address} (its {@link DirectRecord}); a length of
     * -1 is a null key or value.
     */
    public static native void sendDirect(long handle, long address, int topicLength, int keyLength, int valueLength, int partition,
            long timestamp, long timeoutNanos, int slot);

    /** The address of a direct buffer's bytes. */
    public static native long directAddress(java.nio.ByteBuffer buffer);

    public static native void flush(long handle, long timeoutMs);

    /**
     * Reports the engine has queued for the producer's {@link InFlight} so far (handed over or
     * about to be): after {@link #flush} returns, every record sent before it is among them.
     */
    public static native long reportsQueued(long handle);

    /** Stops the engine: waits up to {@code timeoutMs} for reports, fails what is left. */
    public static native void close(long handle, long timeoutMs);

    public static native void free(long handle);

    /** The topic's partition count, waiting up to max.block.ms for metadata. */
    public static native int partitionCount(long handle, String topic);

    /**
     * The topic's partitions as one broker describes them, waiting up to max.block.ms:
     * {@code {int[] numbers, String[] hosts}}, laid out as the native side documents.
     */
    public static native Object[] partitionLayout(long handle, String topic);

    /** Producers created and not yet freed in this process (for tests and leak checks). */
    public static native long liveProducers();

    /**
     * The engine's counters: {@code {double[] client, String[] topics, double[] perTopic}}, laid
     * out as the native side documents (read by {@link ProducerMetrics}). Waits up to 2 s for the
     * engine's I/O thread.
     */
    public static native Object[] counters(long handle);

    // Transactions (transactional.id set). Each call that waits waits up to max.block.ms.

    public static native void initTransactions(long handle);

    public static native void beginTransaction(long handle);

    /**
     * One entry per partition in the five arrays: a leader epoch below 0 is none, a metadata
     * element may be null; {@code memberId} and {@code groupInstanceId} may be null.
     */
    public static native void sendOffsetsToTransaction(long handle, String[] topics, int[] partitions, long[] offsets, int[] leaderEpochs,
            String[] metadata, String groupId, int generationId, String memberId, String groupInstanceId);

    public static native void commitTransaction(long handle);

    public static native void abortTransaction(long handle);

    /** The ordinal of the state in {@link Transactions#STATES}, or -1 for a producer without transactional.id. */
    public static native int transactionState(long handle);

    /** The error behind an abortable-error or fatal-error state (returned, not thrown), or null. */
    public static native NativeException transactionError(long handle);
}
