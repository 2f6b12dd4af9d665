package io.magicwand.serde;

import java.util.Map;
import org.apache.kafka.common.config.ConfigException;

/** Configuration keys of {@link AvroSerializer}, {@link AvroDeserializer} and {@link AvroSerde} (Confluent's names). */
public final class SerdeConfig {
    /** Base URL of the registry, e.g. {@code http://127.0.0.1:18081/apis/ccompat/v7}, or {@code mock://SCOPE} in tests. Required. */
    public static final String SCHEMA_REGISTRY_URL = "schema.registry.url";
    /** Serializer: register the record's schema under the subject (true) or only look its id up (false). Default true. */
    public static final String AUTO_REGISTER_SCHEMAS = "auto.register.schemas";
    public static final boolean AUTO_REGISTER_SCHEMAS_DEFAULT = true;
    /** Deserializer: return the generated SpecificRecord class (true) or a GenericRecord (false). Default true. */
    public static final String SPECIFIC_AVRO_READER = "specific.avro.reader";
    public static final boolean SPECIFIC_AVRO_READER_DEFAULT = true;

    private SerdeConfig() {
    }

    static String registryUrl(Map<String, ?> configs) {
        Object v = configs == null ? null : configs.get(SCHEMA_REGISTRY_URL);
        if (v == null || v.toString().isBlank()) {
            throw new ConfigException("missing " + SCHEMA_REGISTRY_URL
                    + ": the Avro serde needs the schema registry URL, e.g. http://127.0.0.1:18081/apis/ccompat/v7");
        }
        return v.toString().trim();
    }

    static boolean bool(Map<String, ?> configs, String key, boolean dflt) {
        Object v = configs == null ? null : configs.get(key);
        if (v == null) {
            return dflt;
        }
        if (v instanceof Boolean b) {
            return b;
        }
        String s = v.toString().trim();
        if (s.equalsIgnoreCase("true")) {
            return true;
        }
        if (s.equalsIgnoreCase("false")) {
            return false;
        }
        throw new ConfigException(key, v, "expected true or false");
    }

    /** Subject of a topic's keys or values (TopicNameStrategy). */
    public static String subject(String topic, boolean isKey) {
        return topic + (isKey ? "-key" : "-value");
    }
}
