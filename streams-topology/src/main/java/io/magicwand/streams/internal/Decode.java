package io.magicwand.streams.internal;

import io.magicwand.serde.PoisonPills;
import java.util.function.ToLongFunction;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.streams.errors.StreamsException;
import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorSupplier;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;

/**
 * Deserializes a source topic's values inside the topology rather than at the source, so that a
 * poison pill becomes a {@link PoisonPillException} handled by {@link DlqProcessingExceptionHandler}
 * (dead-lettered with the reason, processing continues) — the same path in production and in
 * TopologyTestDriver, which does not deliver the dead-letter records of a
 * DeserializationExceptionHandler. A registry that cannot be reached fails the task instead (the
 * record is fine; it is retried after the thread is replaced). The record's timestamp is set to the
 * value's event time.
 */
public final class Decode<T> implements FixedKeyProcessor<String, byte[], T> {
    private final Deserializer<T> deserializer;
    private final String topic;
    private final ToLongFunction<T> eventTime;
    private final Counters counters;
    private FixedKeyProcessorContext<String, T> ctx;

    private Decode(Deserializer<T> deserializer, String topic, ToLongFunction<T> eventTime, Counters counters) {
        this.deserializer = deserializer;
        this.topic = topic;
        this.eventTime = eventTime;
        this.counters = counters;
    }

    public static <T> FixedKeyProcessorSupplier<String, byte[], T> supplier(Deserializer<T> deserializer, String topic,
                                                                             ToLongFunction<T> eventTime, Counters counters) {
        return () -> new Decode<>(deserializer, topic, eventTime, counters);
    }

    @Override
    public void init(FixedKeyProcessorContext<String, T> context) {
        this.ctx = context;
    }

    @Override
    public void process(FixedKeyRecord<String, byte[]> record) {
        if (record.value() == null) {
            counters.inc("mw_tombstones_ignored_total");
            return;
        }
        T v;
        try {
            v = deserializer.deserialize(topic, record.headers(), record.value());
        } catch (SerializationException e) {
            if (PoisonPills.isTransient(e)) {
                throw new StreamsException("cannot deserialize a record of " + topic + ": schema registry unreachable: " + e.getMessage(), e);
            }
            counters.inc("mw_poison_pills_total{topic=\"" + topic + "\"}");
            throw new PoisonPillException("not a valid record of " + topic + ": " + e.getMessage(), e);
        }
        if (v == null) {
            return;
        }
        counters.inc("mw_records_in_total{topic=\"" + topic + "\"}");
        long ts = eventTime.applyAsLong(v);
        ctx.forward(record.withValue(v).withTimestamp(ts > 0 ? ts : record.timestamp()));
    }
}
