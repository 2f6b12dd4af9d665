package io.magicwand.serde;

import java.util.Map;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

/**
 * {@link AvroSerializer} + {@link AvroDeserializer} sharing one registry client. Usable as a Kafka
 * Streams default serde (no-arg constructor, then {@link #configure}) or built with
 * {@link AvroSerdes#specific}.
 */
public class AvroSerde<T> implements Serde<T> {
    private SchemaRegistryClient client;
    private boolean ownsClient;
    private final AvroSerializer<T> serializer;
    private final AvroDeserializer<T> deserializer;

    /** Generic / by-name specific serde, configured with {@link SerdeConfig#SCHEMA_REGISTRY_URL}. */
    public AvroSerde() {
        this(null, null);
    }

    /** Serde of the generated class {@code type}, configured with {@link SerdeConfig#SCHEMA_REGISTRY_URL}. */
    public AvroSerde(Class<T> type) {
        this(null, type);
    }

    /** Serde over {@code client} (not closed by {@link #close()}); {@code type} may be null. */
    public AvroSerde(SchemaRegistryClient client, Class<T> type) {
        this.client = client;
        this.serializer = new AvroSerializer<>(client);
        this.deserializer = new AvroDeserializer<>(client, type);
    }

    @Override
    public void configure(Map<String, ?> configs, boolean isKey) {
        if (client == null) {
            client = SchemaRegistryClients.forUrl(SerdeConfig.registryUrl(configs));
            ownsClient = true;
            serializer.useClient(client);
            deserializer.useClient(client);
        }
        serializer.configure(configs, isKey);
        deserializer.configure(configs, isKey);
    }

    @Override
    public Serializer<T> serializer() {
        return serializer;
    }

    @Override
    public Deserializer<T> deserializer() {
        return deserializer;
    }

    @Override
    public void close() {
        serializer.close();
        deserializer.close();
        if (ownsClient && client != null) {
            client.close();
        }
    }
}
