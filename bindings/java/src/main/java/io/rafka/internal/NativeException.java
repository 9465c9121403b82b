package io.rafka.internal;

/**
 * Thrown by the native methods of {@link RafkaNative}: a rafka error code (0 OK, negative local
 * errors, positive Kafka broker error codes) and its message. {@link ErrorMapping} turns it into the
 * kafka-clients exception an application expects; it never reaches the application itself.
 */
public final class NativeException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int code;

    /** Called from native code. */
    public NativeException(int code, String message) {
        super(message, null, false, false);
        this.code = code;
    }

    public int code() {
        return code;
    }
}
