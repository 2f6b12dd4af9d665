package io.magicwand.serde;

import java.io.IOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DatumReader;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.Deserializer;

/**
 * Reads the Confluent wire format: checks the magic byte, fetches the writer schema by the id in
 * bytes 1..4 (cached), and decodes the Avro binary, resolving it to the reader schema.
 *
 * <ul>
 *   <li>Constructed with a generated class (or via {@link AvroSerdes#specific}): returns instances
 *       of that class, reader schema = the class's schema (so records written with an older or newer
 *       compatible schema are read fine).</li>
 *   <li>Without a class and {@code specific.avro.reader=true} (default): the generated class named
 *       like the writer schema if it is on the classpath, else a GenericRecord.</li>
 *   <li>{@code specific.avro.reader=false}: GenericRecord with the writer schema.</li>
 * </ul>
 *
 * <p>{@code null} data gives {@code null} (tombstones). Anything else that is not a valid record
 * (wrong magic byte, shorter than 5 bytes, unknown schema id, undecodable or trailing bytes) throws
 * a {@link SerializationException} naming the topic; {@link #deserialize(String, int, long, byte[])}
 * also names partition and offset. The consumer then throws
 * {@link org.apache.kafka.common.errors.RecordDeserializationException}; see {@link PoisonPills}.
 * A registry that cannot be reached also surfaces as SerializationException, with a
 * {@link SchemaRegistryException} cause for which {@link PoisonPills#isTransient} is true.
 */
public class AvroDeserializer<T> implements Deserializer<T> {
    private SchemaRegistryClient client;
    private boolean ownsClient;
    private final Class<T> type;
    private boolean specific = SerdeConfig.SPECIFIC_AVRO_READER_DEFAULT;
    private final Map<Integer, DatumReader<Object>> readers = new ConcurrentHashMap<>();
    private final Map<Integer, Schema> writerSchemas = new ConcurrentHashMap<>();

    /** For Kafka's reflective instantiation: configure with {@link SerdeConfig#SCHEMA_REGISTRY_URL}. */
    public AvroDeserializer() {
        this(null, null);
    }

    /** Reads instances of {@code type} (a generated SpecificRecord class); configure with the registry URL. */
    public AvroDeserializer(Class<T> type) {
        this(null, type);
    }

    /** Uses {@code client} (not closed by {@link #close()}); {@code type} may be null. */
    public AvroDeserializer(SchemaRegistryClient client, Class<T> type) {
        this.client = client;
        this.type = type;
        if (type != null && !SpecificRecord.class.isAssignableFrom(type)) {
            throw new IllegalArgumentException(type.getName() + " is not a generated Avro SpecificRecord class");
        }
    }

    @Override
    public void configure(Map<String, ?> configs, boolean isKey) {
        this.specific = SerdeConfig.bool(configs, SerdeConfig.SPECIFIC_AVRO_READER, SerdeConfig.SPECIFIC_AVRO_READER_DEFAULT);
        if (client == null) {
            client = SchemaRegistryClients.forUrl(SerdeConfig.registryUrl(configs));
            ownsClient = true;
        }
        readers.clear();
        writerSchemas.clear();
    }

    @Override
    public T deserialize(String topic, byte[] data) {
        return decode(topic, "topic " + topic, data);
    }

    @Override
    public T deserialize(String topic, Headers headers, byte[] data) {
        return deserialize(topic, data);
    }

    /** Like {@link #deserialize(String, byte[])}, for callers that read raw bytes and know where they came from. */
    public T deserialize(String topic, int partition, long offset, byte[] data) {
        return decode(topic, "topic " + topic + " partition " + partition + " offset " + offset, data);
    }

    private T decode(String topic, String where, byte[] data) {
        if (data == null) {
            return null;
        }
        if (client == null) {
            throw new SerializationException("AvroDeserializer for " + where + " is not configured: no "
                    + SerdeConfig.SCHEMA_REGISTRY_URL);
        }
        if (data.length < WireFormat.HEADER_LENGTH) {
            throw new SerializationException("cannot deserialize record at " + where + ": payload of " + data.length
                    + " bytes is too short for the Confluent wire format (needs magic byte 0 + 4-byte schema id + Avro data)");
        }
        if (data[0] != WireFormat.MAGIC_BYTE) {
            throw new SerializationException(String.format("cannot deserialize record at %s: unknown magic byte 0x%02x "
                    + "(expected 0x00 of the Confluent wire format); the record was not written by a Confluent-compatible "
                    + "Avro serializer (%d bytes, first bytes %s)", where, data[0] & 0xff, data.length, hexPrefix(data)));
        }
        int id = WireFormat.schemaId(data);
        DatumReader<Object> reader;
        try {
            reader = readerFor(id);
        } catch (SchemaRegistryException e) {
            String what = e.isNotFound() ? "unknown schema id " + id + " (not in the registry)"
                    : "cannot fetch schema id " + id + " from the registry";
            throw new SerializationException("cannot deserialize record at " + where + ": " + what + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw new SerializationException("cannot deserialize record at " + where + ": writer schema id " + id
                    + " cannot be read as " + readerName() + ": " + e.getMessage(), e);
        }
        Object value;
        int avroLength = data.length - WireFormat.HEADER_LENGTH;
        try {
            // First walk the bytes with the writer schema without materializing anything: garbage that
            // announces a 500 MB string in a 10-byte record fails here with EOF instead of making the
            // decoder allocate the announced length. After this pass every length is within the payload.
            BinaryDecoder check = DecoderFactory.get().binaryDecoder(data, WireFormat.HEADER_LENGTH, avroLength, null);
            GenericDatumReader.skip(writerSchemas.get(id), check);
            if (!check.isEnd()) {
                throw new SerializationException("trailing bytes after the record");
            }
            BinaryDecoder dec = DecoderFactory.get().binaryDecoder(data, WireFormat.HEADER_LENGTH, avroLength, null);
            value = reader.read(null, dec);
        } catch (IOException | RuntimeException e) {
            throw new SerializationException("cannot deserialize record at " + where + ": " + avroLength
                    + " bytes of Avro data are not a valid record of schema id " + id + " (" + readerName() + "): " + e, e);
        }
        if (type != null && !type.isInstance(value)) {
            throw new SerializationException("cannot deserialize record at " + where + ": schema id " + id + " decoded to "
                    + value.getClass().getName() + ", expected " + type.getName());
        }
        @SuppressWarnings("unchecked")
        T t = (T) value;
        return t;
    }

    private String readerName() {
        return type != null ? type.getName() : specific ? "specific record" : "generic record";
    }

    private DatumReader<Object> readerFor(int id) {
        DatumReader<Object> r = readers.get(id);
        if (r != null) {
            return r;
        }
        Schema writer = client.getById(id);
        writerSchemas.put(id, writer);
        if (type != null) {
            SpecificData model = SpecificData.getForClass(type);
            Schema readerSchema = model.getSchema(type);
            checkResolvable(writer, readerSchema, id);
            r = new SpecificDatumReader<>(writer, readerSchema, model);
        } else if (specific) {
            Class<?> generated = SpecificData.get().getClass(writer);
            if (generated != null && SpecificRecord.class.isAssignableFrom(generated)) {
                SpecificData model = SpecificData.getForClass(generated);
                Schema readerSchema = model.getSchema(generated);
                checkResolvable(writer, readerSchema, id);
                r = new SpecificDatumReader<>(writer, readerSchema, model);
            } else {
                r = new GenericDatumReader<>(writer, writer);
            }
        } else {
            r = new GenericDatumReader<>(writer, writer);
        }
        readers.put(id, r);
        return r;
    }

    private static void checkResolvable(Schema writer, Schema reader, int id) {
        var problems = InMemorySchemaRegistryClient.describe("reader cannot read writer",
                SchemaCompatibility.checkReaderWriterCompatibility(reader, writer));
        if (!problems.isEmpty()) {
            throw new IllegalStateException("writer schema " + writer.getFullName() + " (id " + id
                    + ") is incompatible with reader " + reader.getFullName() + ": " + String.join("; ", problems));
        }
    }

    private static String hexPrefix(byte[] data) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < Math.min(8, data.length); i++) {
            sb.append(String.format("%02x", data[i] & 0xff));
        }
        return sb.toString();
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
