package io.magicwand.streams.internal;

import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.streams.errors.DeserializationExceptionHandler;
import org.apache.kafka.streams.errors.ErrorHandlerContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A record that does not deserialize (an Avro poison pill: wrong magic byte, unknown schema id,
 * truncated body) goes to {@code <topic>.dlq} with the reason and processing continues. The DLQ
 * record is produced by Kafka Streams itself, inside the task's transaction under exactly_once_v2.
 * A registry that cannot be reached is not the record's fault: that fails the task (the uncaught
 * exception handler then replaces the thread) instead of dead-lettering good records.
 */
public class DlqDeserializationExceptionHandler implements DeserializationExceptionHandler {
    private static final Logger LOG = LoggerFactory.getLogger(DlqDeserializationExceptionHandler.class);

    @Override
    public Response handleError(ErrorHandlerContext context, ConsumerRecord<byte[], byte[]> record, Exception exception) {
        if (isTransient(exception)) {
            LOG.error("cannot deserialize {}-{}@{}: the schema registry is unreachable ({}); failing the task so the record is retried",
                    context.topic(), context.partition(), context.offset(), exception.getMessage());
            return Response.fail();
        }
        LOG.warn("dead-lettering {}-{}@{} to {}: {}", context.topic(), context.partition(), context.offset(),
                DeadLetters.topicFor(context.topic()), exception.toString());
        return Response.resume(List.of(DeadLetters.record(context, record.key(), record.value(), exception)));
    }

    static boolean isTransient(Throwable e) {
        return io.magicwand.serde.PoisonPills.isTransient(e);
    }

    @Override
    public void configure(Map<String, ?> configs) {
    }
}
