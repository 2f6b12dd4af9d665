package io.magicwand.streams.detector;

import io.magicwand.avro.FlowFeatures;
import io.magicwand.avro.PeerFeatures;
import io.magicwand.streams.internal.Bin;
import org.apache.kafka.common.serialization.Serde;

/**
 * Flow or peer features re-keyed by address into one repartition topic, so both reach the same
 * task and the same per-address state whatever the input topics' partition counts. Values are
 * the Avro wire bytes behind a tag byte (1 flow, 2 peer).
 */
record DetectorInput(FlowFeatures flow, PeerFeatures peer) {
    static DetectorInput of(FlowFeatures f) {
        return new DetectorInput(f, null);
    }

    static DetectorInput of(PeerFeatures p) {
        return new DetectorInput(null, p);
    }

    static Serde<DetectorInput> serde(Serde<FlowFeatures> flows, String flowTopic, Serde<PeerFeatures> peers, String peerTopic) {
        return Bin.serde("detector input", (v, o) -> {
            if (v.flow() != null) {
                o.i8(1).raw(flows.serializer().serialize(flowTopic, v.flow()));
            } else {
                o.i8(2).raw(peers.serializer().serialize(peerTopic, v.peer()));
            }
        }, in -> {
            int tag = in.i8();
            byte[] b = in.raw();
            return switch (tag) {
                case 1 -> of(flows.deserializer().deserialize(flowTopic, b));
                case 2 -> of(peers.deserializer().deserialize(peerTopic, b));
                default -> throw new org.apache.kafka.common.errors.SerializationException("detector input: unknown tag " + tag);
            };
        });
    }
}
