package io.rafka.internal;

import org.apache.kafka.clients.producer.BufferExhaustedException;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.errors.NetworkException;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.protocol.Errors;

/**
 * rafka error codes (core/src/error.rs) to the exceptions KafkaProducer raises for the same cause.
 * Positive codes are Kafka's own and map through kafka-clients' {@link Errors} table, so e.g.
 * SASL_AUTHENTICATION_FAILED becomes a {@code SaslAuthenticationException}.
 */
public final class ErrorMapping {
    private ErrorMapping() {}

    public static RuntimeException toException(int code, String message) {
        if (code > 0 && code <= Short.MAX_VALUE) {
            RuntimeException e = Errors.forCode((short) code).exception(message);
            return e != null ? e : new KafkaException(message);
        }
        switch (code) {
            case -192: // _MSG_TIMED_OUT: not acknowledged within delivery.timeout.ms
            case -188: // _UNKNOWN_TOPIC: no metadata within max.block.ms
            case -190: // _UNKNOWN_PARTITION: the partition is not in the metadata within max.block.ms
            case -185: // _TIMED_OUT: flush/close/partitionsFor
                return new TimeoutException(message);
            case -184: // _QUEUE_FULL: no room in buffer.memory within max.block.ms
                return new BufferExhaustedException(message);
            case -130: // _MSG_SIZE_TOO_LARGE
                return new RecordTooLargeException(message);
            case -131: // _INVALID_CONFIG
                return new ConfigException(message);
            case -195: // _TRANSPORT
                return new NetworkException(message);
            case -172: // _STATE: the producer is closed
                return new IllegalStateException("Cannot perform operation after producer has been closed (" + message + ")");
            case -186: // _INVALID_ARG
                return new IllegalArgumentException(message);
            default: // _DESTROY (closed before delivery), _PURGE_QUEUE, _FATAL, _INTERNAL
                return new KafkaException(message);
        }
    }

    public static RuntimeException toException(NativeException e) {
        return toException(e.code(), e.getMessage());
    }
}
