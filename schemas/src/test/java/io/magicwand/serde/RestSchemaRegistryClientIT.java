package io.magicwand.serde;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.magicwand.avro.SocketEvent;
import io.magicwand.testkit.TestRegistry;
import java.util.Map;
import java.util.UUID;
import org.apache.avro.Schema;
import org.apache.kafka.common.errors.SerializationException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The REST client and the serde against the real registry (Apicurio's ccompat API or Confluent's). */
class RestSchemaRegistryClientIT {
    private static final Schema V1 = InMemorySchemaRegistryClientTest.V1;
    private static final Schema V2_DEFAULT = InMemorySchemaRegistryClientTest.V2_DEFAULT;
    private static final Schema V2_NO_DEFAULT = InMemorySchemaRegistryClientTest.V2_NO_DEFAULT;

    private String url;
    private String subject;
    private final List<String> created = new ArrayList<>();

    @BeforeEach
    void setUp() {
        url = TestRegistry.url();
        subject = "mw-it-" + UUID.randomUUID() + "-value";
        created.add(subject);
    }

    @AfterEach
    void deleteSubjects() {
        created.forEach(s -> RegistryCleanup.deleteSubject(url, s));
    }

    private String newTopic() {
        String topic = "mw-it-" + UUID.randomUUID();
        created.add(topic + "-value");
        return topic;
    }

    @Test
    void registerFetchAndLookUp() {
        RestSchemaRegistryClient c = new RestSchemaRegistryClient(url);
        int id = c.register(subject, V1);
        assertTrue(id >= 0, "id " + id);
        assertEquals(id, c.register(subject, V1), "registering again gives the same id");

        // A fresh client has nothing cached: these go to the registry.
        RestSchemaRegistryClient fresh = new RestSchemaRegistryClient(url);
        Schema fetched = fresh.getById(id);
        assertEquals(V1, fetched);
        assertEquals(fetched, fresh.getById(id));
        assertEquals(id, fresh.getIdBySchema(subject, V1));

        SchemaRegistryException e = assertThrows(SchemaRegistryException.class, () -> fresh.getIdBySchema(subject, V2_DEFAULT));
        assertEquals(404, e.status(), e.getMessage());
        e = assertThrows(SchemaRegistryException.class, () -> fresh.getIdBySchema(subject + "-unknown", V1));
        assertEquals(404, e.status(), e.getMessage());
        assertEquals(SchemaRegistryException.SUBJECT_NOT_FOUND, e.errorCode(), e.getMessage());
        assertTrue(e.getMessage().contains(subject + "-unknown"), e.getMessage());
    }

    @Test
    void unknownIdIs404() {
        RestSchemaRegistryClient c = new RestSchemaRegistryClient(url);
        SchemaRegistryException e = assertThrows(SchemaRegistryException.class, () -> c.getById(Integer.MAX_VALUE - 7));
        assertEquals(404, e.status(), e.getMessage());
        assertEquals(SchemaRegistryException.SCHEMA_NOT_FOUND, e.errorCode(), e.getMessage());
    }

    @Test
    void compatibilityLevelAndIncompatibleSchemaRejectedWith409() {
        RestSchemaRegistryClient c = new RestSchemaRegistryClient(url);
        assertTrue(c.testCompatibility(subject, V1), "a subject without versions accepts anything");
        int id1 = c.register(subject, V1);
        c.setCompatibility(subject, "BACKWARD");
        assertTrue(c.testCompatibility(subject, V2_DEFAULT));
        assertFalse(c.testCompatibility(subject, V2_NO_DEFAULT));

        SchemaRegistryException e = assertThrows(SchemaRegistryException.class, () -> c.register(subject, V2_NO_DEFAULT));
        assertEquals(409, e.status(), e.getMessage());
        assertFalse(e.isTransient());
        assertTrue(e.getMessage().contains("409") && e.getMessage().contains(subject), e.getMessage());

        int id2 = c.register(subject, V2_DEFAULT);
        assertTrue(id2 != id1, "a compatible new version gets a new id");

        // With NONE the registry takes anything.
        c.setCompatibility(subject, "NONE");
        c.register(subject, V2_NO_DEFAULT);

        SchemaRegistryException bad = assertThrows(SchemaRegistryException.class, () -> c.setCompatibility(subject, "SOMETIMES"));
        assertEquals(422, bad.status(), bad.getMessage());
    }

    @Test
    void serdeRoundTripAgainstTheRegistry() {
        String topic = newTopic();
        Map<String, Object> config = Map.of(SerdeConfig.SCHEMA_REGISTRY_URL, url);
        byte[] bytes;
        try (AvroSerde<SocketEvent> serde = AvroSerdes.specific(SocketEvent.class, config, false)) {
            bytes = serde.serializer().serialize(topic, Samples.socketEvent(11));
        }
        int id = WireFormat.schemaId(bytes);
        assertEquals(0, bytes[0]);
        RestSchemaRegistryClient c = new RestSchemaRegistryClient(url);
        assertEquals(id, c.getIdBySchema(topic + "-value", SocketEvent.getClassSchema()),
                "registered under <topic>-value with the id in the frame");
        try (AvroSerde<SocketEvent> other = AvroSerdes.specific(SocketEvent.class, config, false)) {
            SocketEvent back = other.deserializer().deserialize(topic, bytes);
            assertEquals(Samples.socketEvent(11), back);
            assertNotSame(back, Samples.socketEvent(11));
            byte[] unknown = bytes.clone();
            WireFormat.writeHeader(unknown, Integer.MAX_VALUE - 7);
            SerializationException e = assertThrows(SerializationException.class,
                    () -> other.deserializer().deserialize(topic, unknown));
            assertTrue(e.getMessage().contains("unknown schema id " + (Integer.MAX_VALUE - 7))
                    && e.getMessage().contains(topic), e.getMessage());
            assertFalse(PoisonPills.isTransient(e));
        }
    }

    @Test
    void autoRegisterOffFailsForAnUnregisteredSubject() {
        String topic = newTopic();
        Map<String, Object> config = Map.of(SerdeConfig.SCHEMA_REGISTRY_URL, url, SerdeConfig.AUTO_REGISTER_SCHEMAS, false);
        try (AvroSerde<SocketEvent> serde = AvroSerdes.specific(SocketEvent.class, config, false)) {
            SerializationException e = assertThrows(SerializationException.class,
                    () -> serde.serializer().serialize(topic, Samples.socketEvent(1)));
            assertTrue(e.getMessage().contains(topic + "-value") && e.getMessage().contains("404"), e.getMessage());
            int id = new RestSchemaRegistryClient(url).register(topic + "-value", SocketEvent.getClassSchema());
            assertEquals(id, WireFormat.schemaId(serde.serializer().serialize(topic, Samples.socketEvent(1))));
        }
    }
}
