package io.magicwand.serde;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.magicwand.avro.MitigationResult;
import io.magicwand.avro.SocketEvent;
import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.Map;
import java.util.UUID;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class AvroSerdeTest {
    private static final String TOPIC = "mw.socket-events";
    private String scope;
    private Map<String, Object> config;
    private InMemorySchemaRegistryClient registry;

    @BeforeEach
    void setUp() {
        scope = "serde-test-" + UUID.randomUUID();
        config = Map.of(SerdeConfig.SCHEMA_REGISTRY_URL, "mock://" + scope);
        registry = SchemaRegistryClients.mock(scope);
    }

    @AfterEach
    void tearDown() {
        SchemaRegistryClients.dropMock(scope);
    }

    @Test
    void everyRecordTypeRoundTrips() {
        for (Class<? extends SpecificRecord> type : Samples.ALL_TYPES) {
            roundTrip(type);
        }
    }

    private <T extends SpecificRecord> void roundTrip(Class<T> type) {
        try (AvroSerde<T> serde = AvroSerdes.specific(type, config, false)) {
            String topic = "t." + type.getSimpleName();
            T in = Samples.filled(type, 7);
            byte[] bytes = serde.serializer().serialize(topic, in);
            T out = serde.deserializer().deserialize(topic, bytes);
            assertInstanceOf(type, out);
            assertEquals(in, out, type.getSimpleName() + " changed in a round trip");
            assertEquals(1, registry.versions(topic + "-value").size(), "schema registered under <topic>-value");
        }
    }

    @Test
    void framingIsConfluentWireFormat() throws Exception {
        SocketEvent ev = Samples.socketEvent(1);
        byte[] bytes;
        try (AvroSerde<SocketEvent> serde = AvroSerdes.specific(SocketEvent.class, config, false)) {
            bytes = serde.serializer().serialize(TOPIC, ev);
        }
        int id = registry.getIdBySchema(TOPIC + "-value", SocketEvent.getClassSchema());
        assertEquals(0, bytes[0], "byte 0 is the magic byte 0");
        assertEquals((byte) (id >>> 24), bytes[1]);
        assertEquals((byte) (id >>> 16), bytes[2]);
        assertEquals((byte) (id >>> 8), bytes[3]);
        assertEquals((byte) id, bytes[4]);
        // The rest is exactly the plain Avro binary encoding of the record.
        ByteArrayOutputStream plain = new ByteArrayOutputStream();
        BinaryEncoder enc = EncoderFactory.get().binaryEncoder(plain, null);
        new org.apache.avro.specific.SpecificDatumWriter<SocketEvent>(SocketEvent.class).write(ev, enc);
        enc.flush();
        assertArrayEquals(plain.toByteArray(), Arrays.copyOfRange(bytes, 5, bytes.length));
    }

    @Test
    void largeIdsAreBigEndian() {
        byte[] b = new byte[5];
        WireFormat.writeHeader(b, 0x01020304);
        assertArrayEquals(new byte[] {0, 1, 2, 3, 4}, b);
        assertEquals(0x01020304, WireFormat.schemaId(b));
        WireFormat.writeHeader(b, 0x8f00ff01);
        assertEquals(0x8f00ff01, WireFormat.schemaId(b));
    }

    @Test
    void nullIsATombstone() {
        try (AvroSerde<SocketEvent> serde = AvroSerdes.specific(SocketEvent.class, config, false)) {
            assertNull(serde.serializer().serialize(TOPIC, null));
            assertNull(serde.deserializer().deserialize(TOPIC, null));
        }
    }

    @Test
    void keySerdeUsesKeySubject() {
        try (AvroSerde<SocketEvent> serde = AvroSerdes.specific(SocketEvent.class, config, true)) {
            serde.serializer().serialize(TOPIC, Samples.socketEvent(1));
        }
        assertEquals(1, registry.versions(TOPIC + "-key").size());
        assertTrue(registry.versions(TOPIC + "-value").isEmpty());
    }

    @Test
    void genericReaderGivesGenericRecord() {
        byte[] bytes;
        try (AvroSerde<SocketEvent> serde = AvroSerdes.specific(SocketEvent.class, config, false)) {
            bytes = serde.serializer().serialize(TOPIC, Samples.socketEvent(9));
        }
        try (AvroSerde<GenericRecord> generic = AvroSerdes.generic(config, false)) {
            GenericRecord r = generic.deserializer().deserialize(TOPIC, bytes);
            assertNotEquals(SocketEvent.class, r.getClass());
            assertEquals(9L, r.get("seq"));
            assertEquals("host-a", r.get("host").toString());
        }
    }

    @Test
    void specificReaderWithoutClassFindsGeneratedClassByName() {
        byte[] bytes;
        try (AvroSerde<SocketEvent> serde = AvroSerdes.specific(SocketEvent.class, config, false)) {
            bytes = serde.serializer().serialize(TOPIC, Samples.socketEvent(3));
        }
        try (AvroDeserializer<Object> d = new AvroDeserializer<>()) {
            d.configure(config, false);
            assertEquals(Samples.socketEvent(3), d.deserialize(TOPIC, bytes));
        }
    }

    @Test
    void readsDataWrittenWithAnOlderSchema() throws Exception {
        // SocketEvent before ingest_ts_ms existed: the reader fills in the default (0).
        Schema current = SocketEvent.getClassSchema();
        Schema old = Schema.createRecord(current.getName(), current.getDoc(), current.getNamespace(), false,
                current.getFields().stream().filter(f -> !f.name().equals("ingest_ts_ms"))
                        .map(f -> new Schema.Field(f, f.schema())).toList());
        GenericRecord rec = new GenericData.Record(old);
        SocketEvent ev = Samples.socketEvent(5);
        for (Schema.Field f : old.getFields()) {
            Object v = ev.get(current.getField(f.name()).pos());
            rec.put(f.name(), v instanceof Enum<?> e ? new GenericData.EnumSymbol(f.schema(), e.name()) : v);
        }
        byte[] bytes;
        try (AvroSerde<GenericRecord> generic = AvroSerdes.generic(config, false)) {
            bytes = generic.serializer().serialize(TOPIC, rec);
        }
        try (AvroSerde<SocketEvent> serde = AvroSerdes.specific(SocketEvent.class, config, false)) {
            SocketEvent out = serde.deserializer().deserialize(TOPIC, bytes);
            assertEquals(0L, out.getIngestTsMs());
            assertEquals(ev.getSeq(), out.getSeq());
            assertEquals(ev.getRemoteAddr(), out.getRemoteAddr());
        }
    }

    @Test
    void autoRegisterOffLooksUpTheId() {
        Map<String, Object> noAuto = Map.of(SerdeConfig.SCHEMA_REGISTRY_URL, "mock://" + scope,
                SerdeConfig.AUTO_REGISTER_SCHEMAS, "false");
        try (AvroSerde<SocketEvent> serde = AvroSerdes.specific(SocketEvent.class, noAuto, false)) {
            SerializationException e = assertThrows(SerializationException.class,
                    () -> serde.serializer().serialize(TOPIC, Samples.socketEvent(1)));
            assertTrue(e.getMessage().contains("subject '" + TOPIC + "-value'"), e.getMessage());
            assertTrue(e.getMessage().contains("auto.register.schemas is false"), e.getMessage());
            assertTrue(registry.versions(TOPIC + "-value").isEmpty(), "nothing registered");

            int id = registry.register(TOPIC + "-value", SocketEvent.getClassSchema());
            byte[] bytes = serde.serializer().serialize(TOPIC, Samples.socketEvent(1));
            assertEquals(id, WireFormat.schemaId(bytes));
            assertEquals(Samples.socketEvent(1), serde.deserializer().deserialize(TOPIC, bytes));
        }
    }

    @Test
    void missingRegistryUrlIsAClearConfigError() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> AvroSerdes.specific(SocketEvent.class, Map.of(), false));
        assertTrue(e.getMessage().contains(SerdeConfig.SCHEMA_REGISTRY_URL), e.getMessage());
        assertThrows(ConfigException.class, () -> AvroSerdes.specific(SocketEvent.class,
                Map.of(SerdeConfig.SCHEMA_REGISTRY_URL, "mock://x", SerdeConfig.AUTO_REGISTER_SCHEMAS, "maybe"), false));
    }

    @Test
    void nonAvroValueIsRejected() {
        try (AvroSerializer<Object> s = new AvroSerializer<>()) {
            s.configure(config, false);
            SerializationException e = assertThrows(SerializationException.class, () -> s.serialize(TOPIC, "text"));
            assertTrue(e.getMessage().contains("java.lang.String") && e.getMessage().contains(TOPIC), e.getMessage());
        }
    }

    @Test
    void recordMissingARequiredFieldIsAClearError() {
        SocketEvent ev = Samples.socketEvent(1);
        ev.setHost(null);
        try (AvroSerde<SocketEvent> serde = AvroSerdes.specific(SocketEvent.class, config, false)) {
            SerializationException e = assertThrows(SerializationException.class,
                    () -> serde.serializer().serialize(TOPIC, ev));
            assertTrue(e.getMessage().contains("io.magicwand.avro.SocketEvent") && e.getMessage().contains(TOPIC),
                    e.getMessage());
        }
    }

    // ---- poison pills --------------------------------------------------------------------------

    private byte[] goodBytes() {
        try (AvroSerde<SocketEvent> serde = AvroSerdes.specific(SocketEvent.class, config, false)) {
            return serde.serializer().serialize(TOPIC, Samples.socketEvent(1));
        }
    }

    private SerializationException poison(byte[] data) {
        try (AvroSerde<SocketEvent> serde = AvroSerdes.specific(SocketEvent.class, config, false)) {
            return assertThrows(SerializationException.class, () -> serde.deserializer().deserialize(TOPIC, data));
        }
    }

    private static void assertMentions(Throwable e, String... parts) {
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), "message lacks '" + p + "': " + e.getMessage());
        }
    }

    @Test
    void wrongMagicByte() {
        byte[] b = goodBytes();
        b[0] = 1;
        assertMentions(poison(b), "topic " + TOPIC, "unknown magic byte 0x01", "expected 0x00");
        assertMentions(poison("{\"json\":true}".getBytes()), "unknown magic byte 0x7b");
    }

    @Test
    void truncatedPayloads() {
        for (int len = 0; len < 5; len++) {
            assertMentions(poison(new byte[len]), "topic " + TOPIC, "payload of " + len + " bytes is too short");
        }
        byte[] b = goodBytes();
        assertMentions(poison(Arrays.copyOf(b, b.length - 3)), "topic " + TOPIC, "not a valid record of schema id");
        assertMentions(poison(Arrays.copyOf(b, 5)), "not a valid record");
    }

    @Test
    void unknownSchemaId() {
        byte[] b = goodBytes();
        WireFormat.writeHeader(b, 987654);
        assertMentions(poison(b), "topic " + TOPIC, "unknown schema id 987654");
    }

    @Test
    void garbageAvro() {
        byte[] good = goodBytes();
        // A string length of 2^31-1 announced by 5 bytes of varint, then nothing.
        byte[] hugeLength = {0, good[1], good[2], good[3], good[4], (byte) 0xfe, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x0f};
        assertMentions(poison(hugeLength), "topic " + TOPIC, "not a valid record");
        // A plausible but far too large string length (2^29 bytes) in a 10-byte payload: rejected without allocating it.
        byte[] bigLength = {0, good[1], good[2], good[3], good[4], (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, 0x04};
        // (surefire runs with -Xmx256m, so allocating the announced 512 MiB would fail with OutOfMemoryError)
        SerializationException big = poison(bigLength);
        assertMentions(big, "not a valid record", "EOFException");
        // A negative string length.
        byte[] negative = {0, good[1], good[2], good[3], good[4], 0x01, 0, 0};
        assertMentions(poison(negative), "not a valid record");
        // A valid record followed by junk.
        byte[] trailing = Arrays.copyOf(good, good.length + 2);
        assertMentions(poison(trailing), "trailing bytes");
        // An enum index out of range (obs is the 4th field: host, ins_id, seq, obs).
        byte[] badEnum = Arrays.copyOf(good, good.length);
        int obsAt = 5 + 1 + "host-a".length() + 1 + 1; // host len varint + bytes, ins_id 3 (1 byte), seq 1 (1 byte)
        badEnum[obsAt] = 0x7e; // index 63
        assertMentions(poison(badEnum), "not a valid record");
    }

    @Test
    void otherRecordTypeOnTheTopic() {
        byte[] other;
        try (AvroSerde<MitigationResult> serde = AvroSerdes.specific(MitigationResult.class, config, false)) {
            other = serde.serializer().serialize(TOPIC, Samples.filled(MitigationResult.class, 1));
        }
        assertMentions(poison(other), "topic " + TOPIC, "cannot be read as io.magicwand.avro.SocketEvent");
    }

    @Test
    void partitionAndOffsetInMessageWhenKnown() {
        try (AvroSerde<SocketEvent> serde = AvroSerdes.specific(SocketEvent.class, config, false)) {
            AvroDeserializer<SocketEvent> d = (AvroDeserializer<SocketEvent>) serde.deserializer();
            SerializationException e = assertThrows(SerializationException.class,
                    () -> d.deserialize(TOPIC, 3, 12345L, new byte[] {9, 9, 9, 9, 9, 9}));
            assertMentions(e, "topic " + TOPIC + " partition 3 offset 12345", "unknown magic byte 0x09");
        }
    }

    @Test
    void goodRecordsStillDecodeAfterPoison() {
        byte[] good = goodBytes();
        try (AvroSerde<SocketEvent> serde = AvroSerdes.specific(SocketEvent.class, config, false)) {
            assertThrows(SerializationException.class, () -> serde.deserializer().deserialize(TOPIC, new byte[] {0, 0}));
            assertEquals(Samples.socketEvent(1), serde.deserializer().deserialize(TOPIC, good));
        }
    }
}
