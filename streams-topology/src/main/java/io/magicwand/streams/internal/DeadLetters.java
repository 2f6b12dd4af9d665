package io.magicwand.streams.internal;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.streams.errors.ErrorHandlerContext;

/**
 * Dead-letter records: the original key and value bytes, to {@code <source topic>.dlq}, with the
 * reason in headers. Header names are Kafka Streams' own (KIP-1034) so standard tooling reads them:
 * {@code __streams.errors.exception} (class), {@code __streams.errors.message},
 * {@code __streams.errors.topic}, {@code __streams.errors.partition}, {@code __streams.errors.offset};
 * plus {@code mw.dlq.processor} (the node that failed). The record's own headers are kept.
 */
public final class DeadLetters {
    public static final String SUFFIX = ".dlq";
    public static final String H_EXCEPTION = "__streams.errors.exception";
    public static final String H_MESSAGE = "__streams.errors.message";
    public static final String H_TOPIC = "__streams.errors.topic";
    public static final String H_PARTITION = "__streams.errors.partition";
    public static final String H_OFFSET = "__streams.errors.offset";
    public static final String H_PROCESSOR = "mw.dlq.processor";

    /** Records dead-lettered by this JVM (exported on /metrics). */
    public static final AtomicLong COUNT = new AtomicLong();

    private DeadLetters() {
    }

    public static String topicFor(String source) {
        return source + SUFFIX;
    }

    public static ProducerRecord<byte[], byte[]> record(ErrorHandlerContext ctx, byte[] key, byte[] value, Exception e) {
        Headers h = new RecordHeaders();
        if (ctx.headers() != null) {
            ctx.headers().forEach(h::add);
        }
        String msg = e.getMessage() == null ? e.toString() : e.getMessage();
        Throwable cause = e.getCause();
        if (cause != null && cause.getMessage() != null && !msg.contains(cause.getMessage())) {
            msg = msg + ": " + cause.getMessage();
        }
        // For a poison pill, the deserializer's exception is the informative one.
        Throwable named = e instanceof PoisonPillException && e.getCause() != null ? e.getCause() : e;
        h.add(H_EXCEPTION, bytes(named.getClass().getName()));
        h.add(H_MESSAGE, bytes(msg));
        h.add(H_TOPIC, bytes(ctx.topic()));
        h.add(H_PARTITION, bytes(Integer.toString(ctx.partition())));
        h.add(H_OFFSET, bytes(Long.toString(ctx.offset())));
        if (ctx.processorNodeId() != null) {
            h.add(H_PROCESSOR, bytes(ctx.processorNodeId()));
        }
        COUNT.incrementAndGet();
        return new ProducerRecord<>(topicFor(ctx.topic()), null, ctx.timestamp() >= 0 ? ctx.timestamp() : null, key, value, h);
    }

    private static byte[] bytes(String s) {
        return (s == null ? "" : s).getBytes(StandardCharsets.UTF_8);
    }
}
