package io.magicwand.serde;

import java.nio.ByteBuffer;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RecordDeserializationException;

/**
 * Helpers for consumers that meet records they cannot deserialize ("poison pills"). A Kafka
 * consumer whose deserializer throws gives up the whole poll with a
 * {@link RecordDeserializationException} carrying topic, partition, offset and the raw bytes;
 * {@link #skip} logs-friendly describes it and seeks past it so the good records after it are still
 * consumed. A registry outage is not a poison pill: check {@link #isTransient} first and retry.
 */
public final class PoisonPills {
    private PoisonPills() {
    }

    /** What went wrong with one record, with where it is and its raw bytes (for a dead-letter topic). */
    public record Failure(String topic, int partition, long offset, boolean isKey, byte[] key, byte[] value,
            String reason) {
        /** One line for the log: where and why. */
        public String describe() {
            return "cannot deserialize the " + (isKey ? "key" : "value") + " of record at topic " + topic
                    + " partition " + partition + " offset " + offset + ": " + reason;
        }

        @Override
        public String toString() {
            return describe();
        }
    }

    /** Describes {@code e}: location, key or value, raw bytes, and the deserializer's message. */
    public static Failure failure(RecordDeserializationException e) {
        TopicPartition tp = e.topicPartition();
        Throwable cause = e.getCause() != null ? e.getCause() : e;
        String reason = cause.getMessage() != null ? cause.getMessage() : cause.toString();
        return new Failure(tp.topic(), tp.partition(), e.offset(),
                e.origin() == RecordDeserializationException.DeserializationExceptionOrigin.KEY,
                bytes(e.keyBuffer()), bytes(e.valueBuffer()), reason);
    }

    /** Seeks {@code consumer} past the record of {@code e} and returns its description. */
    public static Failure skip(Consumer<?, ?> consumer, RecordDeserializationException e) {
        consumer.seek(e.topicPartition(), e.offset() + 1);
        return failure(e);
    }

    /**
     * True when {@code t} (or a cause) is a registry failure that may go away (unreachable, 5xx): the
     * record is probably fine and should be retried, not skipped.
     */
    public static boolean isTransient(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof SchemaRegistryException sre) {
                return sre.isTransient();
            }
            if (c.getCause() == c) {
                break;
            }
        }
        return false;
    }

    private static byte[] bytes(ByteBuffer b) {
        if (b == null) {
            return null;
        }
        ByteBuffer d = b.duplicate();
        byte[] out = new byte[d.remaining()];
        d.get(out);
        return out;
    }
}
