package io.magicwand.streams.detector;

import io.magicwand.avro.FlowFeatures;
import io.magicwand.avro.MitigationDecision;
import io.magicwand.avro.PeerFeatures;
import io.magicwand.serde.AvroSerdes;
import io.magicwand.serde.SerdeConfig;
import io.magicwand.streams.internal.Counters;
import io.magicwand.streams.internal.Decode;
import io.magicwand.streams.internal.EventTimeExtractor;
import io.magicwand.streams.internal.Keys;
import io.magicwand.streams.internal.StoreTypes;
import java.util.Map;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.state.Stores;

/**
 * The baseline detector:
 *
 * <pre>
 * mw.flow-features ─ decode ─ key host/remote ─┐
 * mw.peer-features ─ decode ─ key host/remote ─┴▶ [by-address repartition] ─▶ DetectorProcessor (detector-addresses) ─▶ mw.mitigation-decisions
 * </pre>
 */
public final class BaselineDetectorTopology {
    private BaselineDetectorTopology() {
    }

    public static void build(StreamsBuilder builder, DetectorConfig config) {
        build(builder, config, new Counters());
    }

    public static void build(StreamsBuilder builder, DetectorConfig config, Counters counters) {
        Map<String, Object> sc = Map.of(SerdeConfig.SCHEMA_REGISTRY_URL, config.registryUrl());
        Serde<FlowFeatures> flowSerde = AvroSerdes.specific(FlowFeatures.class, sc, false);
        Serde<PeerFeatures> peerSerde = AvroSerdes.specific(PeerFeatures.class, sc, false);
        Serde<MitigationDecision> decisionSerde = AvroSerdes.specific(MitigationDecision.class, sc, false);
        Serde<String> keys = Serdes.String();

        builder.addStateStore(Stores.keyValueStoreBuilder(
                StoreTypes.keyValue(config.storeType(), DetectorProcessor.STORE), keys, AddrState.SERDE));

        KStream<String, FlowFeatures> flows = builder.stream(config.flowTopic(),
                        Consumed.with(keys, Serdes.ByteArray()).withTimestampExtractor(new EventTimeExtractor()).withName("flow-features"))
                .processValues(Decode.supplier(flowSerde.deserializer(), config.flowTopic(), FlowFeatures::getEmittedMs, counters),
                        Named.as("decode-flow-features"));
        KStream<String, PeerFeatures> peers = builder.stream(config.peerTopic(),
                        Consumed.with(keys, Serdes.ByteArray()).withTimestampExtractor(new EventTimeExtractor()).withName("peer-features"))
                .processValues(Decode.supplier(peerSerde.deserializer(), config.peerTopic(), PeerFeatures::getWindowEndMs, counters),
                        Named.as("decode-peer-features"));

        flows.map((k, f) -> KeyValue.pair(Keys.address(f.getHost(), f.getRemoteAddr()), DetectorInput.of(f)))
                .merge(peers.map((k, p) -> KeyValue.pair(Keys.address(p.getHost(), p.getRemoteAddr()), DetectorInput.of(p))))
                .repartition(Repartitioned.with(keys, DetectorInput.serde(flowSerde, config.flowTopic(), peerSerde, config.peerTopic()))
                        .withName("by-address"))
                .process(() -> new DetectorProcessor(config, counters), DetectorProcessor.STORE)
                .to(config.decisionsTopic(), Produced.with(keys, decisionSerde));
    }
}
