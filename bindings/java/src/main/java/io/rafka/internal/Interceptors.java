package io.rafka.internal;

import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.ProducerInterceptor;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.utils.Utils;

/**
 * {@code interceptor.classes}, with kafka-clients' semantics: {@code onSend} runs on the sending
 * thread in order, each interceptor getting the record the previous one returned; a throwing
 * interceptor is logged and the record goes on as it was. {@code onAcknowledgement} runs for every
 * record that {@code onSend} saw, once: on the delivery thread before the record's callback, or on
 * the sending thread when {@code send} fails. Exceptions from interceptors are logged, never thrown.
 */
public final class Interceptors<K, V> implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("io.rafka");
    /** kafka-clients 4.1+ has onAcknowledgement(metadata, exception, headers), which KafkaProducer calls; older 4.x the two-argument form. */
    private static final boolean WITH_HEADERS = hasHeadersOverload();

    private final List<ProducerInterceptor<K, V>> interceptors;

    private Interceptors(List<ProducerInterceptor<K, V>> interceptors) {
        this.interceptors = interceptors;
    }

    private static boolean hasHeadersOverload() {
        try {
            Method m = ProducerInterceptor.class.getMethod("onAcknowledgement", RecordMetadata.class, Exception.class, Headers.class);
            return m != null;
        } catch (NoSuchMethodException e) {
            return false;
        }
    }

    /** The configured interceptors, or null when there are none. Made and configured in order; on failure the ones made are closed. */
    @SuppressWarnings("unchecked")
    static <K, V> Interceptors<K, V> create(List<Class<?>> classes, Map<String, Object> configs) {
        if (classes.isEmpty()) {
            return null;
        }
        List<ProducerInterceptor<K, V>> made = new ArrayList<>();
        try {
            for (Class<?> c : classes) {
                ProducerInterceptor<K, V> i = (ProducerInterceptor<K, V>) Utils.newInstance(c);
                made.add(i);
                i.configure(configs);
            }
        } catch (RuntimeException | Error e) {
            made.forEach(i -> Utils.closeQuietly(i, "producer interceptor"));
            throw e;
        }
        return new Interceptors<>(List.copyOf(made));
    }

    public ProducerRecord<K, V> onSend(ProducerRecord<K, V> record) {
        ProducerRecord<K, V> current = record;
        for (ProducerInterceptor<K, V> i : interceptors) {
            try {
                current = i.onSend(current);
            } catch (Exception e) {
                // As kafka-clients: the record stays what the previous interceptor returned.
                if (record != null) {
                    LOG.log(System.Logger.Level.WARNING, "Error executing interceptor onSend callback for topic: " + record.topic() + ", partition: " + record.partition(), e);
                } else {
                    LOG.log(System.Logger.Level.WARNING, "Error executing interceptor onSend callback", e);
                }
            }
        }
        return current;
    }

    public void onAcknowledgement(RecordMetadata metadata, Exception exception, Headers headers) {
        for (ProducerInterceptor<K, V> i : interceptors) {
            try {
                if (WITH_HEADERS) {
                    i.onAcknowledgement(metadata, exception, headers);
                } else {
                    i.onAcknowledgement(metadata, exception);
                }
            } catch (Exception e) {
                LOG.log(System.Logger.Level.WARNING, "Error executing interceptor onAcknowledgement callback", e);
            }
        }
    }

    /** {@code send} failed before the record was queued: onAcknowledgement with what is known of it. */
    public void onSendError(ProducerRecord<K, V> record, int partition, Exception exception) {
        if (record == null) {
            onAcknowledgement(null, exception, null);
            return;
        }
        int p = partition >= 0 ? partition : record.partition() == null ? RecordMetadata.UNKNOWN_PARTITION : record.partition();
        onAcknowledgement(new RecordMetadata(new TopicPartition(record.topic(), p), -1, -1, -1L, -1, -1), exception, record.headers());
    }

    /** The record's callback as the producer runs it: the interceptors' onAcknowledgement, then the application's callback. */
    public Callback callback(Callback user, Headers headers) {
        return (metadata, exception) -> {
            onAcknowledgement(metadata, exception, headers);
            if (user != null) {
                user.onCompletion(metadata, exception);
            }
        };
    }

    @Override
    public void close() {
        for (ProducerInterceptor<K, V> i : interceptors) {
            Utils.closeQuietly(i, "producer interceptor");
        }
    }
}
