package io.magicwand.serde;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericContainer;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DatumWriter;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Serializer;

/**
 * Serializes Avro records (generated SpecificRecord classes or GenericRecords) in the Confluent wire
 * format: magic byte 0, 4-byte big-endian schema id, Avro binary. The subject is
 * {@code <topic>-value} (or {@code <topic>-key} when configured for keys). With
 * {@code auto.register.schemas=true} (default) the record's schema is registered under the subject;
 * with false its id is only looked up, and a schema not registered yet is an error.
 * {@code null} serializes to {@code null} (tombstones).
 */
public class AvroSerializer<T> implements Serializer<T> {
    private SchemaRegistryClient client;
    private boolean ownsClient;
    private boolean isKey;
    private boolean autoRegister = SerdeConfig.AUTO_REGISTER_SCHEMAS_DEFAULT;
    private final Map<Schema, DatumWriter<Object>> writers = new ConcurrentHashMap<>();

    /** For Kafka's reflective instantiation: configure with {@link SerdeConfig#SCHEMA_REGISTRY_URL}. */
    public AvroSerializer() {
    }

    /** Uses {@code client} (not closed by {@link #close()}); {@link #configure} still reads the other settings. */
    public AvroSerializer(SchemaRegistryClient client) {
        this.client = client;
    }

    @Override
    public void configure(Map<String, ?> configs, boolean isKey) {
        this.isKey = isKey;
        this.autoRegister = SerdeConfig.bool(configs, SerdeConfig.AUTO_REGISTER_SCHEMAS,
                SerdeConfig.AUTO_REGISTER_SCHEMAS_DEFAULT);
        if (client == null) {
            client = SchemaRegistryClients.forUrl(SerdeConfig.registryUrl(configs));
            ownsClient = true;
        }
    }

    @Override
    public byte[] serialize(String topic, T data) {
        if (data == null) {
            return null;
        }
        if (client == null) {
            throw new SerializationException("AvroSerializer for topic " + topic + " is not configured: no "
                    + SerdeConfig.SCHEMA_REGISTRY_URL);
        }
        if (!(data instanceof GenericContainer container)) {
            throw new SerializationException("cannot serialize a " + data.getClass().getName() + " for topic " + topic
                    + ": the Avro serializer takes Avro records (SpecificRecord or GenericRecord)");
        }
        Schema schema = container.getSchema();
        String subject = SerdeConfig.subject(topic, isKey);
        int id;
        try {
            id = autoRegister ? client.register(subject, schema) : client.getIdBySchema(subject, schema);
        } catch (SchemaRegistryException e) {
            String hint = !autoRegister && e.isNotFound()
                    ? " (auto.register.schemas is false: register the schema first, e.g. by the deploy step)" : "";
            throw new SerializationException("cannot serialize " + schema.getFullName() + " for topic " + topic + ": "
                    + (autoRegister ? "registering" : "looking up") + " its schema under subject '" + subject
                    + "' failed: " + e.getMessage() + hint, e);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(128);
        byte[] header = new byte[WireFormat.HEADER_LENGTH];
        WireFormat.writeHeader(header, id);
        out.write(header, 0, header.length);
        try {
            BinaryEncoder enc = EncoderFactory.get().directBinaryEncoder(out, null);
            writerFor(schema, data).write(data, enc);
            enc.flush();
        } catch (IOException | RuntimeException e) {
            throw new SerializationException("cannot encode " + schema.getFullName() + " for topic " + topic
                    + " with schema id " + id + ": " + e, e);
        }
        return out.toByteArray();
    }

    private DatumWriter<Object> writerFor(Schema schema, Object data) {
        return writers.computeIfAbsent(schema, s -> data instanceof SpecificRecord
                ? new SpecificDatumWriter<>(s, SpecificData.getForClass(data.getClass()))
                : new GenericDatumWriter<>(s));
    }

    /** Uses {@code client} unless one is set already (AvroSerde shares one client between its halves). */
    void useClient(SchemaRegistryClient shared) {
        if (client == null) {
            client = shared;
        }
    }

    @Override
    public void close() {
        if (ownsClient && client != null) {
            client.close();
        }
    }
}
