package io.rafka.internal;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * One record's report: the {@link Future} that {@code send} returns. {@link InFlight} completes it
 * on the thread that runs reports (the engine's delivery thread): the record's callback runs
 * first and then the future completes, as in KafkaProducer; an exception thrown by the callback is
 * logged and goes no further.
 *
 * Cheap when nobody looks: the report is kept as numbers and the {@link RecordMetadata} is made
 * only for a callback or a {@code get()}; completing takes no lock unless a thread waits in
 * {@code get()}. (A waiter sets {@code waiting} and then reads {@code done}; the completer sets
 * {@code done} and then reads {@code waiting}: both volatile, so at least one sees the other, and
 * a waiter that the completer missed finds {@code done} set under the monitor.)
 */
public final class SendFuture implements Future<RecordMetadata> {
    private static final System.Logger LOG = System.getLogger("io.rafka");
    /** Kafka's value for "no timestamp". */
    private static final long NO_TIMESTAMP = -1L;

    private final String topic;
    private final Callback callback;
    private final int keySize;
    private final int valueSize;
    // Written once by the completing thread, before `done`.
    private int partition;
    private long offset;
    private long timestamp;
    private RuntimeException error;
    private volatile boolean done;
    private volatile boolean waiting;

    public SendFuture(String topic, Callback callback, int keySize, int valueSize) {
        this.topic = topic;
        this.callback = callback;
        this.keySize = keySize;
        this.valueSize = valueSize;
    }

    /** The engine's report (code 0: stored at offset), run once by {@link InFlight}. */
    void complete(int partition, long offset, long timestamp, int code, String message) {
        if (code == 0) {
            finish(partition, offset, timestamp, null);
        } else {
            fail(partition, ErrorMapping.toException(code, message));
        }
    }

    /** The record failed; the metadata carries -1 for what is unknown. */
    public void fail(int partition, RuntimeException e) {
        finish(partition, -1, NO_TIMESTAMP, e);
    }

    private void finish(int partition, long offset, long timestamp, RuntimeException e) {
        if (done) {
            throw new IllegalStateException("a record's report arrived twice");
        }
        this.partition = partition;
        this.offset = offset;
        this.timestamp = timestamp;
        this.error = e;
        if (callback != null) {
            RecordMetadata md = metadata();
            try {
                callback.onCompletion(md, e);
            } catch (Exception thrown) {
                LOG.log(System.Logger.Level.ERROR, "Error executing user-provided callback on message for topic-partition '"
                        + md.topic() + "-" + md.partition() + "'", thrown);
            }
        }
        done = true;
        if (waiting) {
            synchronized (this) {
                notifyAll();
            }
        }
    }

    /** KafkaProducer's metadata for the report: sizes and offset -1 for a failed record. */
    private RecordMetadata metadata() {
        TopicPartition tp = new TopicPartition(topic, partition);
        if (error != null) {
            return new RecordMetadata(tp, -1, -1, NO_TIMESTAMP, -1, -1);
        }
        return new RecordMetadata(tp, offset, 0, timestamp, keySize, valueSize);
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
        if (!done) {
            synchronized (this) {
                waiting = true;
                while (!done) {
                    wait();
                }
            }
        }
        return result();
    }

    @Override
    public RecordMetadata get(long timeout, TimeUnit unit) throws InterruptedException, ExecutionException, TimeoutException {
        if (!done) {
            long deadline = System.nanoTime() + unit.toNanos(timeout);
            synchronized (this) {
                waiting = true;
                while (!done) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        throw new TimeoutException("Timeout after waiting for " + unit.toMillis(timeout) + " ms.");
                    }
                    TimeUnit.NANOSECONDS.timedWait(this, left);
                }
            }
        }
        return result();
    }

    private RecordMetadata result() throws ExecutionException {
        if (error != null) {
            throw new ExecutionException(error);
        }
        return metadata();
    }
}
