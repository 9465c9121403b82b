package io.rafka.internal;

/**
 * Thrown by the native methods of {@link RafkaNative}: a rafka error code (0 OK, negative local
 * errors, positive Kafka broker error codes), its message and the engine's flags for it.
 * {@link ErrorMapping} and {@link Transactions} turn it into the kafka-clients exception an
 * application expects; it never reaches the application itself.
 */
public final class NativeException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    /** Calling the same method again may succeed (a timeout, a call still under way). */
    public static final int RETRIABLE = 1;
    /** The transaction cannot commit: abort it. */
    public static final int ABORTABLE = 2;
    /** The producer cannot go on (fenced, not authorized): close it. */
    public static final int FATAL = 4;

    private final int code;
    private final int flags;

    /** Called from native code. */
    public NativeException(int code, String message, int flags) {
        super(message, null, false, false);
        this.code = code;
        this.flags = flags;
    }

    public int code() {
        return code;
    }

    public boolean retriable() {
        return (flags & RETRIABLE) != 0;
    }

    public boolean abortable() {
        return (flags & ABORTABLE) != 0;
    }

    public boolean fatal() {
        return (flags & FATAL) != 0;
    }
}
