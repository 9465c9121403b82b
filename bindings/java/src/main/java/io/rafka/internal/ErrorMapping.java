package io.rafka.internal;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.kafka.clients.producer.BufferExhaustedException;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.errors.NetworkException;
import org.apache.kafka.common.errors.SslAuthenticationException;
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

    // rafka's local codes, named as the engine names them (with its leading '_' dropped). The
    // engine's table (LocalCode in core/src/error.rs) is the one definition: ffi/tests/error_codes.rs
    // fails when a number here differs from it or a code is missing.
    static final int MSG_TIMED_OUT = -192;
    static final int UNKNOWN_PARTITION = -190;
    static final int UNKNOWN_TOPIC = -188;
    static final int ALL_BROKERS_DOWN = -187;
    static final int INVALID_ARG = -186;
    static final int TIMED_OUT = -185;
    static final int QUEUE_FULL = -184;
    static final int STATE = -172;
    static final int DESTROY = -197;
    static final int TRANSPORT = -195;
    static final int RESOLVE = -193;
    static final int SSL = -181;
    static final int PURGE_QUEUE = -152;
    static final int PURGE_INFLIGHT = -151;
    static final int FATAL = -150;
    static final int MSG_SIZE_TOO_LARGE = -130;
    static final int INVALID_CONFIG = -131;
    static final int INTERNAL = -132;
    static final int INTR = -163;

    public static RuntimeException toException(int code, String message) {
        if (code > 0 && code <= Short.MAX_VALUE) {
            RuntimeException e = Errors.forCode((short) code).exception(message);
            return e != null ? e : new KafkaException(message);
        }
        switch (code) {
            case MSG_TIMED_OUT: // not acknowledged within delivery.timeout.ms
            case UNKNOWN_TOPIC: // no metadata within max.block.ms
            case ALL_BROKERS_DOWN: // told to librdkafka-style error callbacks; a wait would have timed out
            case UNKNOWN_PARTITION: // the partition is not in the metadata within max.block.ms
            case TIMED_OUT: // flush/close/partitionsFor
                return new TimeoutException(message);
            case QUEUE_FULL: // no room in buffer.memory within max.block.ms
                return new BufferExhaustedException(message);
            case MSG_SIZE_TOO_LARGE:
                return new RecordTooLargeException(message);
            case INVALID_CONFIG:
                return new ConfigException(message);
            case TRANSPORT: // a connection failed (the message names why: docs/troubleshooting.md)
            case RESOLVE: // a host name does not resolve
                return new NetworkException(message);
            case SSL: // a TLS handshake failed (a certificate)
                return new SslAuthenticationException(message);
            case STATE: // the producer is closed
                return new IllegalStateException("Cannot perform operation after producer has been closed (" + message + ")");
            case INVALID_ARG:
                return new IllegalArgumentException(message);
            case INTR: // the thread was interrupted while it waited; InterruptException sets its flag again
                return new InterruptException(message);
            default: // DESTROY (closed before delivery), PURGE_QUEUE, PURGE_INFLIGHT, FATAL, INTERNAL
                return new KafkaException(message);
        }
    }

    public static RuntimeException toException(NativeException e) {
        return toException(e.code(), e.getMessage());
    }

    /**
     * For a call that waited on the cluster ({@code send()} for metadata, {@code partitionsFor},
     * {@code flush}, the transactional calls) and ended early because rafka recognised why no
     * broker can be reached: KafkaProducer's exception for such a wait, {@link TimeoutException},
     * so that code written for it keeps working, carrying rafka's diagnosis (docs/troubleshooting.md)
     * and thrown within seconds rather than after {@code max.block.ms}.
     */
    /**
     * For {@code send()}: {@link #forWait}, with the engine's max.block.ms timeouts waiting for a
     * topic or partition in the metadata given KafkaProducer's TimeoutException text.
     */
    public static RuntimeException forSend(NativeException e, String topic, int partition) {
        String message = e.getMessage() == null ? "" : e.getMessage();
        Matcher ms = MAX_BLOCK.matcher(message);
        if (ms.find()) {
            long waited = Long.parseLong(ms.group(1));
            if (e.code() == UNKNOWN_TOPIC) {
                return new TimeoutException(String.format("Topic %s not present in metadata after %d ms.", topic, waited));
            }
            Matcher count = PARTITION_COUNT.matcher(message);
            if (e.code() == UNKNOWN_PARTITION && count.find()) {
                return new TimeoutException(String.format("Partition %d of topic %s with partition count %d is not present in metadata after %d ms.",
                        partition, topic, Integer.parseInt(count.group(1)), waited));
            }
        }
        return forWait(e);
    }

    /** The engine's texts for those timeouts (core/src/producer.rs, wait_for_topic). */
    private static final Pattern MAX_BLOCK = Pattern.compile("not present in metadata after max\\.block\\.ms \\((\\d+) ms\\)");
    private static final Pattern PARTITION_COUNT = Pattern.compile("the topic has (\\d+) partitions");

    public static RuntimeException forWait(NativeException e) {
        if (e.code() == TRANSPORT || e.code() == RESOLVE) {
            return new TimeoutException(e.getMessage());
        }
        return toException(e);
    }
}
