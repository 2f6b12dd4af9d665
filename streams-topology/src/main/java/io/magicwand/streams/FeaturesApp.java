package io.magicwand.streams;

import io.magicwand.streams.features.FeaturesConfig;
import io.magicwand.streams.features.FeaturesTopology;
import io.magicwand.streams.internal.Counters;
import java.util.List;
import java.util.Map;
import org.apache.kafka.streams.StreamsBuilder;

/** The feature service: mw.socket-events -> mw.flow-features, mw.peer-features, mw.ins-load. */
public final class FeaturesApp implements ServiceRunner.App<FeaturesConfig> {
    public static final int DEFAULT_OPS_PORT = 18092;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    public static int run(String[] args) {
        return ServiceRunner.run("mw-features", "Computes flow, peer and INS-load features from socket events (Kafka Streams).",
                DEFAULT_OPS_PORT, new FeaturesApp(), FeaturesConfig::new, args);
    }

    @Override
    public FeaturesConfig config(Map<String, String> settings) {
        return new FeaturesConfig(settings);
    }

    @Override
    public void build(StreamsBuilder builder, FeaturesConfig config, Counters counters) {
        FeaturesTopology.build(builder, config, counters);
    }

    @Override
    public String applicationId(FeaturesConfig config) {
        return config.applicationId();
    }

    @Override
    public String registryUrl(FeaturesConfig config) {
        return config.registryUrl();
    }

    @Override
    public List<String> inputTopics(FeaturesConfig config) {
        return List.of(config.socketEventsTopic());
    }
}
