package io.rafka.internal;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * One record's report: the {@link Future} that {@code send} returns, and the object the native
 * delivery thread completes. It runs the record's callback first and then completes the future,
 * as KafkaProducer does; an exception thrown by the callback is logged and goes no further.
 */
public final class SendFuture implements Future<RecordMetadata> {
    private static final System.Logger LOG = System.getLogger("io.rafka");
    /** Kafka's value for "no timestamp". */
    private static final long NO_TIMESTAMP = -1L;

    private final String topic;
    private final Callback callback;
    private final int keySize;
    private final int valueSize;
    // Written once under the monitor, before `done`.
    private RecordMetadata metadata;
    private RuntimeException error;
    private volatile boolean done;

    public SendFuture(String topic, Callback callback, int keySize, int valueSize) {
        this.topic = topic;
        this.callback = callback;
        this.keySize = keySize;
        this.valueSize = valueSize;
    }

    /** Called once, from the native delivery thread (see lib.rs `complete`). */
    void complete(int partition, long offset, long timestamp, int code, String message) {
        if (code == 0) {
            finish(new RecordMetadata(new TopicPartition(topic, partition), offset, 0, timestamp, keySize, valueSize), null);
        } else {
            fail(partition, ErrorMapping.toException(code, message));
        }
    }

    /** The record failed; the metadata passed to the callback carries -1 for what is unknown. */
    public void fail(int partition, RuntimeException e) {
        finish(new RecordMetadata(new TopicPartition(topic, partition), -1, -1, NO_TIMESTAMP, -1, -1), e);
    }

    private void finish(RecordMetadata md, RuntimeException e) {
        if (callback != null) {
            try {
                callback.onCompletion(md, e);
            } catch (Exception thrown) {
                LOG.log(System.Logger.Level.ERROR, "Error executing user-provided callback on message for topic-partition '"
                        + md.topic() + "-" + md.partition() + "'", thrown);
            }
        }
        synchronized (this) {
            if (done) {
                throw new IllegalStateException("a record's report arrived twice");
            }
            metadata = md;
            error = e;
            done = true;
            notifyAll();
        }
    }

    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
        return false;
    }

    @Override
    public boolean isCancelled() {
        return false;
    }

    @Override
    public boolean isDone() {
        return done;
    }

    @Override
    public RecordMetadata get() throws InterruptedException, ExecutionException {
        synchronized (this) {
            while (!done) {
                wait();
            }
        }
        return result();
    }

    @Override
    public RecordMetadata get(long timeout, TimeUnit unit) throws InterruptedException, ExecutionException, TimeoutException {
        long deadline = System.nanoTime() + unit.toNanos(timeout);
        synchronized (this) {
            while (!done) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new TimeoutException("Timeout after waiting for " + unit.toMillis(timeout) + " ms.");
                }
                TimeUnit.NANOSECONDS.timedWait(this, left);
            }
        }
        return result();
    }

    private RecordMetadata result() throws ExecutionException {
        if (error != null) {
            throw new ExecutionException(error);
        }
        return metadata;
    }
}
