package io.magicwand.streams;

import io.magicwand.streams.detector.BaselineDetectorTopology;
import io.magicwand.streams.detector.DetectorConfig;
import io.magicwand.streams.internal.Counters;
import java.util.List;
import java.util.Map;
import org.apache.kafka.streams.StreamsBuilder;

/** The baseline detector service: mw.flow-features + mw.peer-features -> mw.mitigation-decisions. */
public final class BaselineDetectorApp implements ServiceRunner.App<DetectorConfig> {
    public static final int DEFAULT_OPS_PORT = 18093;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    public static int run(String[] args) {
        return ServiceRunner.run("mw-detector", "Baseline LVDDoS detector: flow and peer features to mitigation decisions (Kafka Streams).",
                DEFAULT_OPS_PORT, new BaselineDetectorApp(), DetectorConfig::new, args);
    }

    @Override
    public DetectorConfig config(Map<String, String> settings) {
        return new DetectorConfig(settings);
    }

    @Override
    public void build(StreamsBuilder builder, DetectorConfig config, Counters counters) {
        BaselineDetectorTopology.build(builder, config, counters);
    }

    @Override
    public String applicationId(DetectorConfig config) {
        return config.applicationId();
    }

    @Override
    public String registryUrl(DetectorConfig config) {
        return config.registryUrl();
    }

    @Override
    public List<String> inputTopics(DetectorConfig config) {
        return List.of(config.flowTopic(), config.peerTopic());
    }
}
