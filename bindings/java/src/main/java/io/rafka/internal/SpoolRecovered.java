package io.rafka.internal;

import java.util.ArrayList;
import java.util.List;

import io.rafka.SpoolRecoveredCallback;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;

/**
 * What the native delivery thread calls with the report of a record an earlier producer left in
 * {@code spool.dir} (lib.rs {@code recovered}): turns it into kafka-clients objects for the
 * application's {@link SpoolRecoveredCallback}. Translates only: the engine decides what is
 * recovered and when.
 */
public final class SpoolRecovered {
    private static final System.Logger LOG = System.getLogger("io.rafka");

    private final SpoolRecoveredCallback callback;

    public SpoolRecovered(SpoolRecoveredCallback callback) {
        this.callback = callback;
    }

    /**
     * Called once per recovered record, from the native delivery thread. {@code partition}: where
     * it went (-1 if it failed before one was chosen); {@code headers} alternates UTF-8 keys and
     * values (or is null); {@code code} 0 on success.
     */
    void recovered(String topic, int partition, long offset, long timestamp, byte[] key, byte[] value,
            byte[][] headers, int code, String message) {
        List<Header> hs = new ArrayList<>();
        if (headers != null) {
            for (int i = 0; i + 1 < headers.length; i += 2) {
                hs.add(new RecordHeader(new String(headers[i], java.nio.charset.StandardCharsets.UTF_8), headers[i + 1]));
            }
        }
        Long ts = timestamp < 0 ? null : timestamp;
        ProducerRecord<byte[], byte[]> record = new ProducerRecord<>(topic, null, ts, key, value, hs);
        int keySize = key == null ? -1 : key.length;
        int valueSize = value == null ? -1 : value.length;
        RecordMetadata md;
        Exception e = null;
        if (code == 0) {
            md = new RecordMetadata(new TopicPartition(topic, partition), offset, 0, timestamp, keySize, valueSize);
        } else {
            md = new RecordMetadata(new TopicPartition(topic, partition), -1, -1, -1L, -1, -1);
            e = ErrorMapping.toException(code, message);
        }
        try {
            callback.onRecovered(record, md, e);
        } catch (Exception thrown) {
            LOG.log(System.Logger.Level.ERROR, "Error executing the SpoolRecoveredCallback for a record recovered for topic-partition '"
                    + md.topic() + "-" + md.partition() + "'", thrown);
        }
    }
}
