package io.magicwand.streams.features;

import io.magicwand.streams.internal.StreamsAppSettings;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.config.ConfigException;

/**
 * Settings of the feature topology, with defaults (see docs/features.md for the reasoning).
 * Built from string settings ({@code --set key=value}); unknown keys are rejected.
 */
public final class FeaturesConfig extends StreamsAppSettings {
    public final Key applicationId = declare("application.id", "mw-features", "Kafka Streams application id (consumer group, state and internal topic prefix)");
    public final Key registryUrl = declare("schema.registry.url", "http://127.0.0.1:18081/apis/ccompat/v7", "schema registry base URL (Confluent REST API); mock://SCOPE in unit tests");
    public final Key socketEventsTopic = declare("topic.socket-events", "mw.socket-events", "input topic of SocketEvents");
    public final Key flowFeaturesTopic = declare("topic.flow-features", "mw.flow-features", "output topic of FlowFeatures");
    public final Key peerFeaturesTopic = declare("topic.peer-features", "mw.peer-features", "output topic of PeerFeatures");
    public final Key insLoadTopic = declare("topic.ins-load", "mw.ins-load", "output topic of InsLoad");
    public final Key flowEmitInterval = declare("flow.emit.interval.ms", 5000, "periodic FlowFeatures of an open connection every this many ms (wall clock)");
    public final Key flowEarlyAges = declare("flow.early.emit.ages.ms", "1000,2000,3000,4000,6000,8000", "extra FlowFeatures when an open connection reaches these ages (ms), so young slow connections are seen early; empty = none");
    public final Key flowPunctuate = declare("flow.punctuate.ms", 500, "how often the wall-clock punctuator scans open connections");
    public final Key flowIdleExpire = declare("flow.idle.expire.ms", 600000, "an open connection with no observation for this long is dropped (end_reason EXPIRED)");
    public final Key flowIdleThreshold = declare("flow.idle.threshold.ms", 1000, "gap between data operations that separates an active period from an idle one");
    public final Key flowSendWaitMin = declare("flow.send.wait.min.ms", 100, "send_wait_ms counts gaps between consecutive sends of at least this many ms (shorter ones are the sender's own pace)");
    public final Key flowGrace = declare("flow.grace.ms", 5000, "out-of-order observations of a connection up to this much older than its newest are re-sorted; closed connections are kept this long to absorb late records");
    public final Key flowReorderMax = declare("flow.reorder.max", 64, "at most this many recent observations are held for re-sorting per connection");
    public final Key peerWindowSize = declare("peer.window.size.ms", 10000, "PeerFeatures hopping window size");
    public final Key peerWindowAdvance = declare("peer.window.advance.ms", 2000, "PeerFeatures hopping window advance (one record per active address per advance)");
    public final Key peerGrace = declare("peer.grace.ms", 5000, "records older than window start minus this are too late for PeerFeatures/InsLoad windows");
    public final Key peerSlowMinAge = declare("peer.slow.min.age.ms", 1000, "slow_connections: open at least this long");
    public final Key peerSlowMaxRate = declare("peer.slow.max.rate.bps", 500, "slow_connections: request rate below this many bytes/s (mod_reqtimeout MinRate=500)");
    public final Key insWindowSize = declare("ins.window.size.ms", 10000, "InsLoad window size");
    public final Key insWindowAdvance = declare("ins.window.advance.ms", 2000, "InsLoad window advance");

    public FeaturesConfig(Map<String, String> values) {
        super(values);
        declareStreamsKeys();
        rejectUnknown();
        validate();
    }

    public static FeaturesConfig defaults() {
        return new FeaturesConfig(Map.of());
    }

    private void validate() {
        long size = longValue(peerWindowSize, 1);
        long adv = longValue(peerWindowAdvance, 1);
        if (adv > size || size % adv != 0) {
            throw new ConfigException(peerWindowAdvance.name(), adv, "must divide " + peerWindowSize.name() + " (" + size + ")");
        }
        long isize = longValue(insWindowSize, 1);
        long iadv = longValue(insWindowAdvance, 1);
        if (iadv > isize || isize % iadv != 0) {
            throw new ConfigException(insWindowAdvance.name(), iadv, "must divide " + insWindowSize.name() + " (" + isize + ")");
        }
        longValue(flowEmitInterval, 1);
        longValue(flowPunctuate, 10);
        longValue(flowIdleExpire, 1);
        longValue(flowIdleThreshold, 1);
        longValue(flowGrace, 0);
        longValue(flowSendWaitMin, 0);
        intValue(flowReorderMax, 1);
        longList(flowEarlyAges);
        longValue(peerGrace, 0);
        longValue(peerSlowMinAge, 0);
        doubleValue(peerSlowMaxRate, 0);
        validateStreamsKeys();
    }

    public String applicationId() {
        return string(applicationId);
    }

    public String registryUrl() {
        return string(registryUrl);
    }

    public String socketEventsTopic() {
        return string(socketEventsTopic);
    }

    public String flowFeaturesTopic() {
        return string(flowFeaturesTopic);
    }

    public String peerFeaturesTopic() {
        return string(peerFeaturesTopic);
    }

    public String insLoadTopic() {
        return string(insLoadTopic);
    }

    public long flowEmitIntervalMs() {
        return longValue(flowEmitInterval, 1);
    }

    public List<Long> flowEarlyAgesMs() {
        return longList(flowEarlyAges);
    }

    public long flowPunctuateMs() {
        return longValue(flowPunctuate, 10);
    }

    public long flowIdleExpireMs() {
        return longValue(flowIdleExpire, 1);
    }

    public long flowIdleThresholdMs() {
        return longValue(flowIdleThreshold, 1);
    }

    public long flowSendWaitMinMs() {
        return longValue(flowSendWaitMin, 0);
    }

    public long flowGraceMs() {
        return longValue(flowGrace, 0);
    }

    public int flowReorderMax() {
        return intValue(flowReorderMax, 1);
    }

    public long peerWindowSizeMs() {
        return longValue(peerWindowSize, 1);
    }

    public long peerWindowAdvanceMs() {
        return longValue(peerWindowAdvance, 1);
    }

    public long peerGraceMs() {
        return longValue(peerGrace, 0);
    }

    public long peerSlowMinAgeMs() {
        return longValue(peerSlowMinAge, 0);
    }

    public double peerSlowMaxRateBps() {
        return doubleValue(peerSlowMaxRate, 0);
    }

    public long insWindowSizeMs() {
        return longValue(insWindowSize, 1);
    }

    public long insWindowAdvanceMs() {
        return longValue(insWindowAdvance, 1);
    }

    @Override
    public List<String> outputTopics() {
        return List.of(flowFeaturesTopic(), peerFeaturesTopic(), insLoadTopic());
    }
}
