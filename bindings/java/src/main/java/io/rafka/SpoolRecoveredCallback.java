package io.rafka;

import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;

/**
 * Gets the report of each record an earlier producer left in {@code spool.dir} (after a crash, or
 * a close that could not send everything; docs/outages.md) once this producer has sent it or given
 * it up: once per record, on the engine's delivery thread (where {@link
 * org.apache.kafka.clients.producer.Callback}s run), before the records sent by this producer
 * (recovered records are sent first). Never called when nothing was recovered. Given to {@link
 * RafkaProducer} as an instance (constructor) or as a class ({@value
 * RafkaProducer#SPOOL_RECOVERED_CALLBACK_CLASS_CONFIG}); an exception it throws is logged and goes
 * no further.
 */
@FunctionalInterface
public interface SpoolRecoveredCallback {
    /**
     * @param record the record as the earlier producer sent it: topic, serialized key and value,
     *        headers and timestamp; its partition is null (where it went is in {@code metadata})
     * @param metadata where it was stored (partition, offset, timestamp); on failure the offset is -1
     * @param exception null when the record was stored; else why not, as a {@code Callback} gets
     *        it (a record this producer closed on before sending it stays in the spool for the next
     *        producer, which reports it again)
     */
    void onRecovered(ProducerRecord<byte[], byte[]> record, RecordMetadata metadata, Exception exception);
}
