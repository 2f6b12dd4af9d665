package io.magicwand.serde;

import java.util.Map;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.specific.SpecificRecord;

/** Factories of configured {@link AvroSerde}s. */
public final class AvroSerdes {
    private AvroSerdes() {
    }

    /**
     * A serde of the generated class {@code type} (e.g. {@code SocketEvent.class}), configured with
     * {@code config} ({@link SerdeConfig#SCHEMA_REGISTRY_URL} required) for keys or values.
     */
    public static <T extends SpecificRecord> AvroSerde<T> specific(Class<T> type, Map<String, ?> config, boolean isKey) {
        AvroSerde<T> serde = new AvroSerde<>(type);
        serde.configure(config, isKey);
        return serde;
    }

    /** A serde of GenericRecords (reader schema = writer schema), configured with {@code config}. */
    public static AvroSerde<GenericRecord> generic(Map<String, ?> config, boolean isKey) {
        AvroSerde<GenericRecord> serde = new AvroSerde<>();
        Map<String, Object> c = new java.util.HashMap<>(config);
        c.put(SerdeConfig.SPECIFIC_AVRO_READER, false);
        serde.configure(c, isKey);
        return serde;
    }
}
