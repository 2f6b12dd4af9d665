package io.magicwand.streams;

import io.magicwand.streams.internal.DlqDeserializationExceptionHandler;
import io.magicwand.streams.internal.DlqProcessingExceptionHandler;
import io.magicwand.streams.internal.EventTimeExtractor;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.streams.StreamsConfig;

/** Kafka Streams properties shared by both apps (and the tests), with the project's choices. */
public final class StreamsSettings {
    private StreamsSettings() {
    }

    /**
     * exactly_once_v2; poison pills and invalid records dead-lettered; event time from the records;
     * {@code overrides} (the {@code kafka.} pass-through, prefix removed) win over everything here.
     */
    public static Properties streamsProperties(String applicationId, String bootstrapServers, String stateDir,
                                               Map<String, String> overrides) {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.DESERIALIZATION_EXCEPTION_HANDLER_CLASS_CONFIG, DlqDeserializationExceptionHandler.class.getName());
        p.put(StreamsConfig.PROCESSING_EXCEPTION_HANDLER_CLASS_CONFIG, DlqProcessingExceptionHandler.class.getName());
        // No global stores here; enabling it keeps the behaviour of Kafka 5 and silences a start-up warning.
        p.put(StreamsConfig.PROCESSING_EXCEPTION_HANDLER_GLOBAL_ENABLED_CONFIG, "true");
        p.put(StreamsConfig.DEFAULT_TIMESTAMP_EXTRACTOR_CLASS_CONFIG, EventTimeExtractor.class.getName());
        // Detection latency matters more than batching: commit (and so make outputs visible) often.
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "100");
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, "0");
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        p.put(StreamsConfig.producerPrefix(ProducerConfig.LINGER_MS_CONFIG), "5");
        p.putAll(overrides);
        return p;
    }
}
