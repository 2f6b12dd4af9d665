package io.magicwand.streams.internal;

import java.util.List;
import java.util.Map;

/**
 * Settings every Streams app of this project has besides its own: the state store type and how
 * the topics it creates are made. Declared after the app's own keys (so {@code --help} lists them
 * last) by {@link #declareStreamsKeys()}, which a subclass calls first in its constructor, before
 * {@link #rejectUnknown()}.
 */
public abstract class StreamsAppSettings extends Settings {
    private Key storeType;
    private Key topicPartitions;
    private Key topicReplication;

    protected StreamsAppSettings(Map<String, String> values) {
        super(values);
    }

    protected final void declareStreamsKeys() {
        storeType = declare("state.store.type", "rocksdb", "state stores: rocksdb (persistent, default) or memory (rebuilt from the changelog at every start)");
        topicPartitions = declare("topic.partitions", 1, "partitions of topics this service creates when missing");
        topicReplication = declare("topic.replication", 1, "replication factor of topics this service creates when missing");
    }

    /** Checks the shared keys' values (a {@code ConfigException} naming the key otherwise). */
    protected final void validateStreamsKeys() {
        topicPartitions();
        topicReplication();
        storeType();
    }

    public final int topicPartitions() {
        return intValue(topicPartitions, 1);
    }

    public final short topicReplication() {
        int r = intValue(topicReplication, 1);
        if (r > Short.MAX_VALUE) {
            throw new org.apache.kafka.common.config.ConfigException(topicReplication.name(), r, "too large");
        }
        return (short) r;
    }

    public final String storeType() {
        return StoreTypes.check(storeType.name(), string(storeType));
    }

    /** The topics the app writes (created at start-up when missing). */
    public abstract List<String> outputTopics();
}
