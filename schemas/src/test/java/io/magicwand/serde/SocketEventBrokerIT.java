package io.magicwand.serde;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.magicwand.avro.SocketEvent;
import io.magicwand.testkit.EmbeddedKafkaBroker;
import io.magicwand.testkit.TestRegistry;
import java.io.ByteArrayOutputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.RecordDeserializationException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * SocketEvents through a real (in-process KRaft) broker and the real registry: the consumed raw
 * bytes are checked byte by byte against the Confluent wire format, and poison pills on the same
 * topic are reported with topic/partition/offset while every good record is still consumed.
 */
class SocketEventBrokerIT {
    private static EmbeddedKafkaBroker broker;
    private static String registryUrl;

    @BeforeAll
    static void startBroker() {
        registryUrl = TestRegistry.url();
        broker = new EmbeddedKafkaBroker().start();
    }

    @AfterAll
    static void stopBroker() {
        if (broker != null) {
            broker.close();
        }
    }

    private static Properties clientProps(String extraGroup) {
        Properties p = new Properties();
        p.put("bootstrap.servers", broker.bootstrapServers());
        if (extraGroup != null) {
            p.put(ConsumerConfig.GROUP_ID_CONFIG, extraGroup);
            p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
            p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        }
        return p;
    }

    private static byte[] plainAvro(SocketEvent ev) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        BinaryEncoder enc = EncoderFactory.get().binaryEncoder(out, null);
        new SpecificDatumWriter<>(SocketEvent.class).write(ev, enc);
        enc.flush();
        return out.toByteArray();
    }

    @Test
    void socketEventsThroughBrokerWithFramingAndPoisonPills() throws Exception {
        String topic = "mw.socket-events.it-" + UUID.randomUUID();
        broker.createTopic(topic, 1);
        try {
            produceAndConsume(topic);
        } finally {
            RegistryCleanup.deleteSubject(registryUrl, topic + "-value");
        }
    }

    private void produceAndConsume(String topic) throws Exception {
        Map<String, Object> serdeConfig = Map.of(SerdeConfig.SCHEMA_REGISTRY_URL, registryUrl);

        List<SocketEvent> sent = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            sent.add(Samples.socketEvent(100 + i));
        }
        byte[] wrongMagic = {1, 0, 0, 0, 1, 2, 'h', 'i'};
        byte[] unknownId = {0, 0x7f, (byte) 0xff, (byte) 0xff, (byte) 0xf0, 2, 'h', 'i'};

        // offsets 0,1,2 good; 3,4 poison; 5,6 good
        try (AvroSerde<SocketEvent> serde = AvroSerdes.specific(SocketEvent.class, serdeConfig, false);
                KafkaProducer<String, SocketEvent> producer = new KafkaProducer<>(clientProps(null),
                        new StringSerializer(), serde.serializer());
                KafkaProducer<byte[], byte[]> raw = new KafkaProducer<>(clientProps(null),
                        new ByteArraySerializer(), new ByteArraySerializer())) {
            for (int i = 0; i < 3; i++) {
                producer.send(new ProducerRecord<>(topic, "host-a/42", sent.get(i))).get();
            }
            raw.send(new ProducerRecord<>(topic, "host-a/42".getBytes(), wrongMagic)).get();
            raw.send(new ProducerRecord<>(topic, "host-a/42".getBytes(), unknownId)).get();
            for (int i = 3; i < 5; i++) {
                producer.send(new ProducerRecord<>(topic, "host-a/42", sent.get(i))).get();
            }
        }

        // 1. The bytes on the topic: Confluent wire format, byte by byte.
        int id = new RestSchemaRegistryClient(registryUrl).getIdBySchema(topic + "-value", SocketEvent.getClassSchema());
        List<ConsumerRecord<byte[], byte[]>> rawRecords = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(clientProps("raw-" + UUID.randomUUID()),
                new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            c.subscribe(List.of(topic));
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (rawRecords.size() < 7 && System.nanoTime() < deadline) {
                c.poll(Duration.ofMillis(500)).forEach(rawRecords::add);
            }
        }
        assertEquals(7, rawRecords.size(), "records on " + topic);
        int[] goodOffsets = {0, 1, 2, 5, 6};
        for (int i = 0; i < goodOffsets.length; i++) {
            byte[] v = rawRecords.get(goodOffsets[i]).value();
            assertEquals(0x00, v[0], "magic byte");
            assertEquals((byte) (id >>> 24), v[1], "id byte 1");
            assertEquals((byte) (id >>> 16), v[2], "id byte 2");
            assertEquals((byte) (id >>> 8), v[3], "id byte 3");
            assertEquals((byte) id, v[4], "id byte 4");
            assertArrayEquals(plainAvro(sent.get(i)), Arrays.copyOfRange(v, 5, v.length), "Avro body of record " + i);
        }
        assertArrayEquals(wrongMagic, rawRecords.get(3).value());

        // 2. A typed consumer gets every good record and a clear report of each poison pill.
        List<SocketEvent> received = new ArrayList<>();
        List<PoisonPills.Failure> failures = new ArrayList<>();
        try (AvroSerde<SocketEvent> serde = AvroSerdes.specific(SocketEvent.class, serdeConfig, false);
                KafkaConsumer<String, SocketEvent> c = new KafkaConsumer<>(clientProps("typed-" + UUID.randomUUID()),
                        new StringDeserializer(), serde.deserializer())) {
            c.subscribe(List.of(topic));
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (received.size() < 5 && System.nanoTime() < deadline) {
                try {
                    c.poll(Duration.ofMillis(500)).forEach(r -> received.add(r.value()));
                } catch (RecordDeserializationException e) {
                    assertFalse(PoisonPills.isTransient(e), "not a registry outage: " + e);
                    failures.add(PoisonPills.skip(c, e));
                }
            }
        }
        assertEquals(sent, received, "every good record, in order");
        assertEquals(2, failures.size(), failures.toString());

        PoisonPills.Failure f0 = failures.get(0);
        assertEquals(topic, f0.topic());
        assertEquals(0, f0.partition());
        assertEquals(3, f0.offset());
        assertFalse(f0.isKey());
        assertArrayEquals(wrongMagic, f0.value(), "raw bytes kept for a dead-letter topic");
        assertTrue(f0.describe().contains("topic " + topic + " partition 0 offset 3"), f0.describe());
        assertTrue(f0.reason().contains("unknown magic byte 0x01"), f0.reason());

        PoisonPills.Failure f1 = failures.get(1);
        assertEquals(4, f1.offset());
        assertTrue(f1.reason().contains("unknown schema id " + 0x7ffffff0), f1.reason());
        assertTrue(f1.reason().contains(topic), f1.reason());
    }
}
