package io.magicwand.streams.internal;

import java.util.List;
import java.util.Map;
import org.apache.kafka.streams.errors.ErrorHandlerContext;
import org.apache.kafka.streams.errors.ProcessingExceptionHandler;
import org.apache.kafka.streams.processor.api.Record;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A record that deserialized but cannot be processed ({@link InvalidRecordException}: e.g. negative
 * cumulative bytes) goes to {@code <topic>.dlq} with the reason; processing continues. Any other
 * exception is a bug in this code, not bad input: the task fails loudly.
 */
public class DlqProcessingExceptionHandler implements ProcessingExceptionHandler {
    private static final Logger LOG = LoggerFactory.getLogger(DlqProcessingExceptionHandler.class);

    @Override
    public Response handleError(ErrorHandlerContext context, Record<?, ?> record, Exception exception) {
        if (!(exception instanceof InvalidRecordException)) {
            LOG.error("processing {}-{}@{} failed in {}", context.topic(), context.partition(), context.offset(),
                    context.processorNodeId(), exception);
            return Response.fail();
        }
        LOG.warn("dead-lettering {}-{}@{} to {}: {}", context.topic(), context.partition(), context.offset(),
                DeadLetters.topicFor(context.topic()), exception.getMessage());
        return Response.resume(List.of(DeadLetters.record(context, context.sourceRawKey(), context.sourceRawValue(), exception)));
    }

    @Override
    public void configure(Map<String, ?> configs) {
    }
}
