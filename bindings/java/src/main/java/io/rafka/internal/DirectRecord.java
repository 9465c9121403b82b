package io.rafka.internal;

import java.nio.ByteBuffer;

/**
 * A sending thread's direct buffer, into which {@code send()} copies a record's topic, key and
 * value for {@link RafkaNative#sendDirect}: the native side reads them in place, with no JNI call
 * per array. One per thread ({@link #forThread}); it grows to the largest record up to
 * {@link #KEEP} bytes, and larger records take the byte[] path ({@link RafkaNative#send}).
 */
public final class DirectRecord {
    /** The largest buffer a thread keeps. */
    public static final int KEEP = 64 * 1024;

    private static final ThreadLocal<DirectRecord> PER_THREAD = ThreadLocal.withInitial(DirectRecord::new);

    private ByteBuffer buffer;
    private long address;

    private DirectRecord() {
        allocate(1024);
    }

    public static DirectRecord forThread() {
        return PER_THREAD.get();
    }

    private void allocate(int capacity) {
        buffer = ByteBuffer.allocateDirect(capacity);
        address = RafkaNative.directAddress(buffer);
    }

    /**
     * Copies topic, key and value (null: skipped) to the start of the buffer and returns its
     * address, or 0 when they do not fit in {@link #KEEP} bytes. The address is valid until the
     * next call on this thread; the caller keeps this object reachable while native code reads it.
     */
    public long fill(byte[] topic, byte[] key, byte[] value) {
        int size = topic.length + (key == null ? 0 : key.length) + (value == null ? 0 : value.length);
        if (size > buffer.capacity()) {
            if (size > KEEP) {
                return 0;
            }
            allocate(Math.min(KEEP, Integer.highestOneBit(size - 1) << 1));
        }
        ByteBuffer b = buffer;
        b.clear();
        b.put(topic);
        if (key != null) {
            b.put(key);
        }
        if (value != null) {
            b.put(value);
        }
        return address;
    }
}
