package io.rafka.internal;

import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Owns a native producer handle for one Java object and frees it exactly once. The handle is
 * reference-counted: the owner holds one reference until {@link #closeAndFree}, each call into native
 * code holds one between {@link #acquire} and {@link #release}, and whoever drops the last one frees
 * it. So close never waits for other calls (close from a callback while another thread is in
 * {@code flush()} cannot deadlock) and never frees under a call still in native code. If the owner is
 * dropped without being closed, a {@link Cleaner} frees it (no call can be under way then: callers
 * keep the owner reachable with {@link java.lang.ref.Reference#reachabilityFence}).
 */
public final class NativeHandle {
    private static final Cleaner CLEANER = Cleaner.create();
    /** rafka's _TIMED_OUT. */
    private static final int TIMED_OUT = -185;

    private final long address;
    private final Cleaner.Cleanable cleanable;
    /** The owner's reference (until closed) plus one per call in native code. */
    private final AtomicInteger refs = new AtomicInteger(1);
    private final AtomicBoolean closing = new AtomicBoolean();
    private volatile boolean closed;

    /**
     * {@code companion} (or null) is closed right after the handle is freed: what the engine may call
     * into until then (the OAUTHBEARER token source).
     */
    public NativeHandle(Object owner, long address, AutoCloseable companion) {
        this.address = address;
        this.cleanable = CLEANER.register(owner, new Free(address, companion));
    }

    /** Must not reference the owner, or the owner would never become unreachable. */
    private static final class Free implements Runnable {
        private final long address;
        private final AutoCloseable companion;

        Free(long address, AutoCloseable companion) {
            this.address = address;
            this.companion = companion;
        }

        @Override
        public void run() {
            try {
                RafkaNative.free(address);
            } finally {
                if (companion != null) {
                    org.apache.kafka.common.utils.Utils.closeQuietly(companion, "OAUTHBEARER token source");
                }
            }
        }
    }

    /** The handle, for one call; throws IllegalStateException once the producer is closed. */
    public long acquire() {
        while (true) {
            int r = refs.get();
            if (r <= 0 || closed) {
                throw new IllegalStateException("Cannot perform operation after producer has been closed");
            }
            if (refs.compareAndSet(r, r + 1)) {
                return address;
            }
        }
    }

    public void release() {
        if (refs.decrementAndGet() == 0) {
            cleanable.clean();
        }
    }

    public boolean isClosed() {
        return closed;
    }

    /**
     * Closes the engine (waiting up to {@code timeoutMs} for reports), then drops the owner's
     * reference: the handle is freed now, or when the last call still in native code returns. Only
     * the first call does anything; it returns false for the others.
     */
    public boolean closeAndFree(long timeoutMs) {
        if (!closing.compareAndSet(false, true)) {
            return false;
        }
        closed = true;
        NativeException failure = null;
        try {
            // Safe beside sends still in native code: the engine fails them with _STATE.
            RafkaNative.close(address, timeoutMs);
        } catch (NativeException e) {
            // _TIMED_OUT: records still pending at the timeout were failed, as KafkaProducer does.
            if (e.code() != TIMED_OUT) {
                failure = e;
            }
        } finally {
            release();
        }
        if (failure != null) {
            throw ErrorMapping.toException(failure);
        }
        return true;
    }
}
