package io.magicwand.streams;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.magicwand.avro.Action;
import io.magicwand.avro.FlowFeatures;
import io.magicwand.avro.MitigationDecision;
import io.magicwand.avro.SocketEvent;
import io.magicwand.avro.SocketOp;
import io.magicwand.serde.AvroSerdes;
import io.magicwand.serde.SerdeConfig;
import io.magicwand.streams.detector.BaselineDetectorTopology;
import io.magicwand.streams.detector.DetectorConfig;
import io.magicwand.streams.features.FeaturesConfig;
import io.magicwand.streams.features.FeaturesTopology;
import io.magicwand.streams.internal.DeadLetters;
import io.magicwand.testkit.EmbeddedKafkaBroker;
import io.magicwand.testkit.TestRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.utils.Utils;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Both topologies as KafkaStreams apps (exactly_once_v2, RocksDB) on a real broker and the real
 * schema registry: socket events in, features out, decisions out; a poison pill dead-lettered;
 * a restart with the local state wiped restores from the changelog without double counting.
 */
class StreamsPipelineIT {
    static EmbeddedKafkaBroker broker;
    static String registry;
    final String run = UUID.randomUUID().toString().substring(0, 8);
    final String events = "it-" + run + ".socket-events";
    final String flows = "it-" + run + ".flow-features";
    final String peers = "it-" + run + ".peer-features";
    final String ins = "it-" + run + ".ins-load";
    final String decisions = "it-" + run + ".mitigation-decisions";

    @TempDir
    Path tmp;

    @BeforeAll
    static void startBroker() {
        registry = TestRegistry.url();
        broker = new EmbeddedKafkaBroker().start();
    }

    @AfterAll
    static void stopBroker() {
        if (broker != null) {
            broker.close();
        }
    }

    Map<String, String> featureSettings() {
        return Map.of("schema.registry.url", registry, "application.id", "it-features-" + run,
                "topic.socket-events", events, "topic.flow-features", flows, "topic.peer-features", peers, "topic.ins-load", ins);
    }

    KafkaStreams features(Path stateDir) {
        FeaturesConfig c = new FeaturesConfig(featureSettings());
        StreamsBuilder b = new StreamsBuilder();
        FeaturesTopology.build(b, c);
        KafkaStreams k = new KafkaStreams(b.build(), StreamsSettings.streamsProperties(c.applicationId(), broker.bootstrapServers(),
                stateDir.toString(), Map.of()));
        k.start();
        return k;
    }

    KafkaStreams detector(Path stateDir) {
        DetectorConfig c = new DetectorConfig(Map.of("schema.registry.url", registry, "application.id", "it-detector-" + run,
                "topic.flow-features", flows, "topic.peer-features", peers, "topic.mitigation-decisions", decisions));
        StreamsBuilder b = new StreamsBuilder();
        BaselineDetectorTopology.build(b, c);
        KafkaStreams k = new KafkaStreams(b.build(), StreamsSettings.streamsProperties(c.applicationId(), broker.bootstrapServers(),
                stateDir.toString(), Map.of()));
        k.start();
        return k;
    }

    static SocketEvent ev(long sid, String remote, SocketOp op, long ts, long start, long in, long out, long extra) {
        return SocketEvent.newBuilder().setHost("it").setInsId(1).setSeq(ts).setObs(op)
                .setSessionStartSec(start / 1000).setSessionStartNsec((start % 1000) * 1_000_000L)
                .setTsSec(ts / 1000).setTsNsec((ts % 1000) * 1_000_000L).setSocketId(sid)
                .setLocalAf(4).setLocalAddr("10.0.0.1").setLocalPort(80).setRemoteAf(4).setRemoteAddr(remote)
                .setRemotePort((int) (20000 + sid)).setBytesIn(in).setBytesOut(out).setExtra(extra).build();
    }

    @Test
    void eventsBecomeFeaturesAndDecisionsWithDeadLetteringAndChangelogRestore() throws Exception {
        for (String t : List.of(events, flows, peers, ins, decisions, events + ".dlq", flows + ".dlq", peers + ".dlq")) {
            broker.createTopic(t, 1);
        }
        Map<String, Object> sc = Map.of(SerdeConfig.SCHEMA_REGISTRY_URL, registry);
        Serializer<SocketEvent> ser = AvroSerdes.specific(SocketEvent.class, sc, false).serializer();
        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        long now = System.currentTimeMillis();
        Path featureState = Files.createDirectories(tmp.resolve("features"));
        KafkaStreams fs = features(featureState);
        KafkaStreams ds = detector(Files.createDirectories(tmp.resolve("detector")));
        try (KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(pp, new ByteArraySerializer(), new ByteArraySerializer())) {
            // a poison pill first: dead-lettered, the rest still processed
            p.send(new ProducerRecord<>(events, "it/0".getBytes(StandardCharsets.UTF_8), new byte[] {0, 0, 0, 0, 9, 9})).get();
            List<SocketEvent> first = new ArrayList<>();
            // benign connection 10: request, response, close
            first.add(ev(7, "192.0.2.10", SocketOp.ACCEPT, now, now - 60_000, 0, 0, 10));
            first.add(ev(10, "192.0.2.10", SocketOp.RECV, now + 5, now, 400, 0, 0));
            first.add(ev(10, "192.0.2.10", SocketOp.SEND, now + 8, now, 400, 20_000, 0));
            first.add(ev(10, "192.0.2.10", SocketOp.CLOSE, now + 20, now, 400, 20_000, 0));
            // three slowloris connections from 203.0.113.5: a partial head, nothing else
            for (long sid = 21; sid <= 23; sid++) {
                first.add(ev(7, "203.0.113.5", SocketOp.ACCEPT, now, now - 60_000, 0, 0, sid));
                first.add(ev(sid, "203.0.113.5", SocketOp.RECV, now + 10, now, 40, 0, 0));
            }
            // connection 30 (benign upload), first half
            first.add(ev(30, "192.0.2.30", SocketOp.RECV, now + 10, now, 1000, 0, 0));
            first.add(ev(30, "192.0.2.30", SocketOp.RECV, now + 20, now, 3000, 0, 0));
            for (SocketEvent e : first) {
                p.send(new ProducerRecord<>(events, ("it/" + e.getSocketId()).getBytes(StandardCharsets.UTF_8), ser.serialize(events, e))).get();
            }

            MitigationDecision block = await(decisions, MitigationDecision.class, d -> d.getAction() == Action.BLOCK, Duration.ofSeconds(90));
            assertEquals("203.0.113.5", block.getAddress());
            assertEquals("baseline/slowloris", block.getDetector());
            FlowFeatures benign = await(flows, FlowFeatures.class, f -> f.getSocketId() == 10 && f.getFinal$(), Duration.ofSeconds(30));
            assertEquals(400, benign.getBytesIn());
            assertEquals(20_000, benign.getBytesOut());
            assertEquals(now, benign.getStartMs());
            assertEquals(20, benign.getDurationMs());
            ConsumerRecord<byte[], byte[]> dead = awaitRaw(events + ".dlq", Duration.ofSeconds(30));
            assertEquals(events, new String(dead.headers().lastHeader(DeadLetters.H_TOPIC).value(), StandardCharsets.UTF_8));
            assertNotNull(dead.headers().lastHeader(DeadLetters.H_MESSAGE));

            // Restart with the local state wiped: the flow store is restored from its changelog.
            await(flows, FlowFeatures.class, f -> f.getSocketId() == 30, Duration.ofSeconds(30));
            fs.close(Duration.ofSeconds(30));
            Utils.delete(featureState.toFile());
            fs = features(Files.createDirectories(featureState));
            // the last observation before the restart again (an at-least-once producer), then the rest
            p.send(new ProducerRecord<>(events, "it/30".getBytes(StandardCharsets.UTF_8),
                    ser.serialize(events, ev(30, "192.0.2.30", SocketOp.RECV, now + 20, now, 3000, 0, 0)))).get();
            p.send(new ProducerRecord<>(events, "it/30".getBytes(StandardCharsets.UTF_8),
                    ser.serialize(events, ev(30, "192.0.2.30", SocketOp.SEND, now + 40, now, 3000, 200, 0)))).get();
            p.send(new ProducerRecord<>(events, "it/30".getBytes(StandardCharsets.UTF_8),
                    ser.serialize(events, ev(30, "192.0.2.30", SocketOp.CLOSE, now + 50, now, 3000, 200, 0)))).get();
            FlowFeatures upload = await(flows, FlowFeatures.class, f -> f.getSocketId() == 30 && f.getFinal$(), Duration.ofSeconds(90));
            assertEquals(3000, upload.getBytesIn());
            assertEquals(200, upload.getBytesOut());
            assertEquals(2, upload.getRecvOps(), "no double counting after the restart");
            assertEquals(1, upload.getSendOps());
            assertEquals(1000.0, upload.getInOpBytesMin(), 0.0);
            assertEquals(2000.0, upload.getInOpBytesMax(), 0.0);
        } finally {
            fs.close(Duration.ofSeconds(30));
            ds.close(Duration.ofSeconds(30));
        }
    }

    <T> T await(String topic, Class<T> type, Predicate<T> match, Duration timeout) {
        Deserializer<T> de = (Deserializer<T>) AvroSerdes.specific((Class) type, Map.of(SerdeConfig.SCHEMA_REGISTRY_URL, registry), false).deserializer();
        try (KafkaConsumer<String, T> c = new KafkaConsumer<>(consumerProps(), new StringDeserializer(), de)) {
            c.subscribe(List.of(topic));
            long end = System.currentTimeMillis() + timeout.toMillis();
            while (System.currentTimeMillis() < end) {
                for (ConsumerRecord<String, T> r : c.poll(Duration.ofMillis(500))) {
                    if (r.value() != null && match.test(r.value())) {
                        return r.value();
                    }
                }
            }
        }
        throw new AssertionError("no matching record on " + topic + " within " + timeout);
    }

    ConsumerRecord<byte[], byte[]> awaitRaw(String topic, Duration timeout) {
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(consumerProps(), new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            c.subscribe(List.of(topic));
            long end = System.currentTimeMillis() + timeout.toMillis();
            while (System.currentTimeMillis() < end) {
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) {
                    return r;
                }
            }
        }
        throw new AssertionError("nothing on " + topic + " within " + timeout);
    }

    Properties consumerProps() {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "it-check-" + UUID.randomUUID());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        return p;
    }
}
