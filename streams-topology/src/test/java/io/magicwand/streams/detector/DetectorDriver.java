package io.magicwand.streams.detector;

import io.magicwand.avro.FlowFeatures;
import io.magicwand.avro.MitigationDecision;
import io.magicwand.avro.PeerFeatures;
import io.magicwand.serde.AvroSerdes;
import io.magicwand.serde.SerdeConfig;
import io.magicwand.streams.StreamsSettings;
import io.magicwand.streams.internal.Counters;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;

/** A TopologyTestDriver around the baseline detector. */
public final class DetectorDriver implements AutoCloseable {
    public final TopologyTestDriver driver;
    public final DetectorConfig config;
    public final Counters counters = new Counters();
    public final TestInputTopic<String, FlowFeatures> flows;
    public final TestInputTopic<String, PeerFeatures> peers;
    public final TestInputTopic<byte[], byte[]> rawFlows;
    public final TestInputTopic<byte[], byte[]> rawPeers;
    public final TestOutputTopic<String, MitigationDecision> decisions;
    public final TestOutputTopic<byte[], byte[]> flowDlq;
    public final TestOutputTopic<byte[], byte[]> peerDlq;

    public DetectorDriver(Path stateDir, long wallClockStart, Map<String, String> settings) {
        Map<String, String> s = new HashMap<>(settings);
        s.putIfAbsent("schema.registry.url", "mock://detector-test");
        config = new DetectorConfig(s);
        StreamsBuilder b = new StreamsBuilder();
        BaselineDetectorTopology.build(b, config, counters);
        Properties p = StreamsSettings.streamsProperties(config.applicationId(), "dummy:9092", stateDir.toString(), config.kafkaProperties());
        driver = new TopologyTestDriver(b.build(), p, Instant.ofEpochMilli(wallClockStart));
        Map<String, Object> sc = Map.of(SerdeConfig.SCHEMA_REGISTRY_URL, config.registryUrl());
        flows = driver.createInputTopic(config.flowTopic(), new StringSerializer(), AvroSerdes.specific(FlowFeatures.class, sc, false).serializer());
        peers = driver.createInputTopic(config.peerTopic(), new StringSerializer(), AvroSerdes.specific(PeerFeatures.class, sc, false).serializer());
        rawFlows = driver.createInputTopic(config.flowTopic(), new ByteArraySerializer(), new ByteArraySerializer());
        rawPeers = driver.createInputTopic(config.peerTopic(), new ByteArraySerializer(), new ByteArraySerializer());
        decisions = driver.createOutputTopic(config.decisionsTopic(), new StringDeserializer(),
                AvroSerdes.specific(MitigationDecision.class, sc, false).deserializer());
        flowDlq = driver.createOutputTopic(config.flowTopic() + ".dlq", new ByteArrayDeserializer(), new ByteArrayDeserializer());
        peerDlq = driver.createOutputTopic(config.peerTopic() + ".dlq", new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    public void flow(FlowFeatures f) {
        flows.pipeInput(f.getHost() + "/" + f.getSocketId(), f, f.getEmittedMs());
    }

    public void peer(PeerFeatures p) {
        peers.pipeInput(p.getHost() + "/" + p.getRemoteAddr(), p, p.getWindowEndMs());
    }

    public void advance(long ms) {
        driver.advanceWallClockTime(Duration.ofMillis(ms));
    }

    @Override
    public void close() {
        driver.close();
    }
}
