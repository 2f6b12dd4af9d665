package io.magicwand.streams.features;

import io.magicwand.avro.FlowFeatures;
import io.magicwand.avro.InsLoad;
import io.magicwand.avro.PeerFeatures;
import io.magicwand.avro.SocketEvent;
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
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.state.Stores;

/**
 * The feature topology (docs/features.md has the diagram):
 *
 * <pre>
 * mw.socket-events ──┬─ listener ACCEPTs ─▶ re-key by accepted socket ─▶ [accepts repartition] ─┐
 *                    └─ everything else ─────────────────────────────────────────────────────────┴▶ FlowProcessor (flow-state)
 *   FlowProcessor ─▶ FlowFeatures ─▶ mw.flow-features
 *                 └▶ ConnUpdate ─┬─ re-key host/remote ─▶ [peer-updates repartition] ─▶ PeerProcessor ─▶ mw.peer-features
 *                                └─ re-key host/ins ────▶ [ins-updates repartition] ──▶ InsLoadProcessor ─▶ mw.ins-load
 * </pre>
 */
public final class FeaturesTopology {
    private FeaturesTopology() {
    }

    public static void build(StreamsBuilder builder, FeaturesConfig config) {
        build(builder, config, new Counters());
    }

    public static void build(StreamsBuilder builder, FeaturesConfig config, Counters counters) {
        Map<String, Object> serdeConfig = Map.of(SerdeConfig.SCHEMA_REGISTRY_URL, config.registryUrl());
        Serde<SocketEvent> eventSerde = AvroSerdes.specific(SocketEvent.class, serdeConfig, false);
        Serde<FlowFeatures> flowSerde = AvroSerdes.specific(FlowFeatures.class, serdeConfig, false);
        Serde<PeerFeatures> peerSerde = AvroSerdes.specific(PeerFeatures.class, serdeConfig, false);
        Serde<InsLoad> insSerde = AvroSerdes.specific(InsLoad.class, serdeConfig, false);
        Serde<String> keys = Serdes.String();

        builder.addStateStore(Stores.keyValueStoreBuilder(
                StoreTypes.keyValue(config.storeType(), FlowProcessor.STORE), keys, FlowState.SERDE));
        builder.addStateStore(Stores.keyValueStoreBuilder(
                StoreTypes.keyValue(config.storeType(), PeerProcessor.CONN_STORE), keys, PeerState.Conn.SERDE));
        builder.addStateStore(Stores.keyValueStoreBuilder(
                StoreTypes.keyValue(config.storeType(), PeerProcessor.AGG_STORE), keys, PeerState.Agg.SERDE));
        builder.addStateStore(Stores.keyValueStoreBuilder(
                StoreTypes.keyValue(config.storeType(), InsLoadProcessor.STORE), keys, InsLoadProcessor.Agg.SERDE));

        // Values are decoded inside the topology so that a poison pill is dead-lettered (see Decode).
        KStream<String, SocketEvent> events = builder.stream(config.socketEventsTopic(),
                        Consumed.with(keys, Serdes.ByteArray()).withTimestampExtractor(new EventTimeExtractor()).withName("socket-events"))
                .processValues(Decode.supplier(eventSerde.deserializer(), config.socketEventsTopic(), Keys::eventTimeMs, counters),
                        Named.as("decode-socket-events"));

        // An ACCEPT reported on the listening socket names the new socket in 'extra': its state lives
        // under the new socket's key, which may be another partition.
        KStream<String, SocketEvent> accepts = events
                .filter((k, e) -> Keys.isListenerAccept(e))
                .selectKey((k, e) -> Keys.socket(e.getHost(), e.getExtra()))
                .repartition(Repartitioned.with(keys, eventSerde).withName("accepts"));
        KStream<String, Object> flowOut = events
                .filter((k, e) -> !Keys.isListenerAccept(e))
                .merge(accepts)
                .process(() -> new FlowProcessor(config, counters), FlowProcessor.STORE);

        flowOut.filter((k, v) -> v instanceof FlowFeatures)
                .mapValues(v -> (FlowFeatures) v)
                .to(config.flowFeaturesTopic(), Produced.with(keys, flowSerde));

        KStream<String, ConnUpdate> updates = flowOut.filter((k, v) -> v instanceof ConnUpdate).mapValues(v -> (ConnUpdate) v);

        // Peers are clients: connections the application opened itself are left out.
        updates.filter((k, u) -> !u.outbound())
                .selectKey((k, u) -> Keys.address(u.host(), u.remoteAddr()))
                .repartition(Repartitioned.with(keys, ConnUpdate.SERDE).withName("peer-updates"))
                .process(() -> new PeerProcessor(config, counters), PeerProcessor.CONN_STORE, PeerProcessor.AGG_STORE)
                .to(config.peerFeaturesTopic(), Produced.with(keys, peerSerde));

        updates.selectKey((k, u) -> Keys.ins(u.host(), u.insId()))
                .repartition(Repartitioned.with(keys, ConnUpdate.SERDE).withName("ins-updates"))
                .process(() -> new InsLoadProcessor(config, counters), InsLoadProcessor.STORE)
                .to(config.insLoadTopic(), Produced.with(keys, insSerde));
    }
}
