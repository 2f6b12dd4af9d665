package io.magicwand.streams.features;

import io.magicwand.avro.FlowFeatures;
import io.magicwand.avro.InsLoad;
import io.magicwand.avro.PeerFeatures;
import io.magicwand.avro.SocketEvent;
import io.magicwand.serde.AvroSerdes;
import io.magicwand.serde.SerdeConfig;
import io.magicwand.streams.StreamsSettings;
import io.magicwand.streams.internal.Counters;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;

/** A TopologyTestDriver around the feature topology with typed topics. */
final class FeaturesDriver implements AutoCloseable {
    final TopologyTestDriver driver;
    final FeaturesConfig config;
    final Counters counters = new Counters();
    final TestInputTopic<String, SocketEvent> events;
    final TestInputTopic<byte[], byte[]> rawEvents;
    final TestOutputTopic<String, FlowFeatures> flows;
    final TestOutputTopic<String, PeerFeatures> peers;
    final TestOutputTopic<String, InsLoad> ins;
    final TestOutputTopic<byte[], byte[]> dlq;

    FeaturesDriver(Path stateDir, long wallClockStart, Map<String, String> settings) {
        Map<String, String> s = new HashMap<>(settings);
        s.putIfAbsent("schema.registry.url", "mock://features-test");
        config = new FeaturesConfig(s);
        StreamsBuilder b = new StreamsBuilder();
        FeaturesTopology.build(b, config, counters);
        Properties p = StreamsSettings.streamsProperties(config.applicationId(), "dummy:9092", stateDir.toString(), config.kafkaProperties());
        driver = new TopologyTestDriver(b.build(), p, Instant.ofEpochMilli(wallClockStart));
        Map<String, Object> sc = Map.of(SerdeConfig.SCHEMA_REGISTRY_URL, config.registryUrl());
        events = driver.createInputTopic(config.socketEventsTopic(), new StringSerializer(),
                AvroSerdes.specific(SocketEvent.class, sc, false).serializer());
        rawEvents = driver.createInputTopic(config.socketEventsTopic(), new ByteArraySerializer(), new ByteArraySerializer());
        flows = driver.createOutputTopic(config.flowFeaturesTopic(), new StringDeserializer(),
                AvroSerdes.specific(FlowFeatures.class, sc, false).deserializer());
        peers = driver.createOutputTopic(config.peerFeaturesTopic(), new StringDeserializer(),
                AvroSerdes.specific(PeerFeatures.class, sc, false).deserializer());
        ins = driver.createOutputTopic(config.insLoadTopic(), new StringDeserializer(),
                AvroSerdes.specific(InsLoad.class, sc, false).deserializer());
        dlq = driver.createOutputTopic(config.socketEventsTopic() + ".dlq", new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    void pipe(Ev ev, SocketEvent e) {
        events.pipeInput(ev.key(), e);
    }

    void advance(long ms) {
        driver.advanceWallClockTime(java.time.Duration.ofMillis(ms));
    }

    @Override
    public void close() {
        driver.close();
    }
}
