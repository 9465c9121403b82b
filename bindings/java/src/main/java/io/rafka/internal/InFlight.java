package io.rafka.internal;

import java.util.ArrayDeque;

import org.apache.kafka.common.errors.InterruptException;

/**
 * The records of one producer sent and not yet reported, each in a numbered slot: the slot number
 * is the opaque the engine carries with the record (no JNI global reference per record). The
 * native side hands reports over in batches, one upcall per run of reports
 * ({@link #reported}), and the callbacks and futures are completed here, in a Java loop, in the
 * order the engine reported them (send order per partition).
 *
 * Threads: {@link #add} and {@link #remove} on sending threads; {@link #reported} on the thread
 * that serves reports (the engine's delivery thread, or a thread in {@code close}); everything
 * that touches the slots or counters holds {@code this}, callbacks run without it. The native
 * side keeps a global reference to this object for the producer's life (it must not reference
 * the producer: the Cleaner would never see it unreachable).
 */
public final class InFlight {
    /** Longs per report in {@link #reported}: slot, partition, offset, timestamp, code. */
    static final int FIELDS = 5;

    private SendFuture[] slots = new SendFuture[1024];
    /** Free slot numbers, a stack: {@code free[0..freeCount)}. */
    private int[] free = new int[1024];
    private int freeCount;
    /** Reports whose callbacks and futures have run (they were handed over in this order). */
    private long handedOver;
    private boolean waiters;
    /** The thread in {@link #reported} now, or null. */
    private Thread delivering;
    /** Batches handed over while {@link #delivering} ran a callback that closed the producer. */
    private final ArrayDeque<Batch> nested = new ArrayDeque<>();

    private record Batch(SendFuture[] futures, long[] reports, String[] messages, int n) {}

    public InFlight() {
        for (int i = 0; i < slots.length; i++) {
            free[i] = slots.length - 1 - i;
        }
        freeCount = slots.length;
    }

    /** A slot for a record about to be sent; the caller gives it back with {@link #remove} if the send fails. */
    public synchronized int add(SendFuture f) {
        if (freeCount == 0) {
            grow();
        }
        int slot = free[--freeCount];
        slots[slot] = f;
        return slot;
    }

    private void grow() {
        int n = slots.length;
        SendFuture[] more = new SendFuture[n * 2];
        System.arraycopy(slots, 0, more, 0, n);
        slots = more;
        free = new int[n * 2];
        for (int i = 0; i < n; i++) {
            free[i] = n * 2 - 1 - i;
        }
        freeCount = n;
    }

    /** The engine refused the record: no report will come for its slot. */
    public synchronized void remove(int slot) {
        slots[slot] = null;
        free[freeCount++] = slot;
    }

    private SendFuture take(int slot) {
        SendFuture f = slots[slot];
        if (f == null) {
            throw new IllegalStateException("a report for slot " + slot + ", which holds no record");
        }
        slots[slot] = null;
        free[freeCount++] = slot;
        return f;
    }

    /**
     * Called by the native side (lib.rs, {@code Reports::hand_over}) with {@code n} reports:
     * {@link #FIELDS} longs each in {@code reports}; {@code messages[i]} is report i's error text
     * ({@code messages} is null when every report succeeded). A batch that arrives while this
     * thread is already in here (a callback closed the producer, which failed what was pending)
     * waits until the batch before it is done, so the order holds.
     */
    void reported(long[] reports, String[] messages, int n) {
        Thread me = Thread.currentThread();
        SendFuture[] futures = new SendFuture[n];
        synchronized (this) {
            for (int i = 0; i < n; i++) {
                futures[i] = take((int) reports[i * FIELDS]);
            }
            if (delivering == me) {
                nested.add(new Batch(futures, reports, messages, n));
                return;
            }
            delivering = me;
        }
        Batch next = new Batch(futures, reports, messages, n);
        while (next != null) {
            try {
                run(next);
            } finally {
                synchronized (this) {
                    handedOver += next.n;
                    next = nested.poll();
                    if (next == null) {
                        delivering = null;
                    }
                    if (waiters) {
                        waiters = false;
                        notifyAll();
                    }
                }
            }
        }
    }

    private static void run(Batch b) {
        long[] r = b.reports;
        for (int i = 0; i < b.n; i++) {
            int k = i * FIELDS;
            b.futures[i].complete((int) r[k + 1], r[k + 2], r[k + 3], (int) r[k + 4], b.messages == null ? null : b.messages[i]);
        }
    }

    /** Whether the calling thread is running callbacks now (a flush() there must not wait for itself). */
    public synchronized boolean inCallback() {
        return delivering == Thread.currentThread();
    }

    /**
     * Waits until the first {@code count} reports the engine queued have run (their callbacks
     * returned, their futures completed); an interrupted thread gets an InterruptException (its
     * flag set again).
     */
    public synchronized void awaitHandedOver(long count) {
        while (handedOver < count) {
            waiters = true;
            try {
                wait();
            } catch (InterruptedException e) {
                throw new InterruptException(e);
            }
        }
    }
}
