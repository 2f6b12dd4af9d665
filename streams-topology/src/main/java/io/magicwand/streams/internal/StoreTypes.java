package io.magicwand.streams.internal;

import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.streams.state.KeyValueBytesStoreSupplier;
import org.apache.kafka.streams.state.Stores;

/** Store suppliers by configured type: rocksdb (persistent, the default) or memory. */
public final class StoreTypes {
    public static final String ROCKSDB = "rocksdb";
    public static final String MEMORY = "memory";

    private StoreTypes() {
    }

    public static String check(String key, String type) {
        if (!type.equals(ROCKSDB) && !type.equals(MEMORY)) {
            throw new ConfigException(key, type, "expected rocksdb or memory");
        }
        return type;
    }

    public static KeyValueBytesStoreSupplier keyValue(String type, String name) {
        return type.equals(MEMORY) ? Stores.inMemoryKeyValueStore(name) : Stores.persistentKeyValueStore(name);
    }
}
