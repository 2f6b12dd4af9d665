package io.magicwand.streams.features;

import io.magicwand.avro.EndReason;
import io.magicwand.avro.FlowFeatures;
import io.magicwand.avro.SocketEvent;
import io.magicwand.avro.SocketOp;
import io.magicwand.streams.internal.Counters;
import io.magicwand.streams.internal.InvalidRecordException;
import io.magicwand.streams.internal.Keys;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Per-connection state machine: folds socket events into {@link FlowState}, emits {@link FlowFeatures}
 * on close and periodically (wall-clock punctuation, so a silent connection still gets features), and
 * tells the per-address and per-INS processors about opens, byte deltas and ends ({@link ConnUpdate}).
 * Output values are FlowFeatures (key {@code <host>/<socket_id>}) or ConnUpdate (same key; re-keyed
 * downstream).
 */
final class FlowProcessor implements Processor<String, SocketEvent, String, Object> {
    static final String STORE = "flow-state";

    private final FeaturesConfig config;
    private final Counters counters;
    private final long grace;
    private final int reorderMax;
    private final FlowParams idleThreshold;
    private final long emitInterval;
    private final List<Long> earlyAges;
    private final long idleExpire;
    private ProcessorContext<String, Object> ctx;
    private KeyValueStore<String, FlowState> store;

    FlowProcessor(FeaturesConfig config, Counters counters) {
        this.config = config;
        this.counters = counters;
        this.grace = config.flowGraceMs();
        this.reorderMax = config.flowReorderMax();
        this.idleThreshold = new FlowParams(config.flowIdleThresholdMs(), config.flowSendWaitMinMs());
        this.emitInterval = config.flowEmitIntervalMs();
        this.earlyAges = config.flowEarlyAgesMs();
        this.idleExpire = config.flowIdleExpireMs();
    }

    @Override
    public void init(ProcessorContext<String, Object> context) {
        this.ctx = context;
        this.store = context.getStateStore(STORE);
        context.schedule(Duration.ofMillis(config.flowPunctuateMs()), PunctuationType.WALL_CLOCK_TIME, this::punctuate);
    }

    static void validate(SocketEvent e) {
        if (e.getHost() == null || e.getHost().isEmpty()) {
            throw new InvalidRecordException("socket event without host");
        }
        if (e.getTsSec() <= 0 || e.getTsNsec() < 0 || e.getTsNsec() >= 1_000_000_000L) {
            throw new InvalidRecordException("socket event with impossible observation time " + e.getTsSec() + "s " + e.getTsNsec() + "ns");
        }
        if (e.getBytesIn() < 0 || e.getBytesOut() < 0) {
            throw new InvalidRecordException("socket event with negative cumulative bytes (in=" + e.getBytesIn()
                    + ", out=" + e.getBytesOut() + "): a u64 counter above 2^63-1 cannot be accounted");
        }
    }

    @Override
    public void process(Record<String, SocketEvent> record) {
        SocketEvent e = record.value();
        if (e == null) {
            counters.inc("mw_features_tombstones_ignored_total");
            return;
        }
        validate(e);
        counters.inc("mw_features_socket_events_total");
        long ts = Keys.eventTimeMs(e);
        boolean listenerAccept = Keys.isListenerAccept(e);
        long sid = Keys.connectionId(e);
        String key = Keys.socket(e.getHost(), sid);
        FlowState st = store.get(key);
        boolean opened = false;
        if (st == null) {
            if (e.getRemoteAf() == 0 || e.getRemoteAddr() == null || e.getRemoteAddr().isEmpty()) {
                // Listening or not yet connected socket: not a connection (yet).
                counters.inc("mw_features_events_without_peer_total");
                return;
            }
            st = new FlowState();
            st.host = e.getHost();
            st.socketId = sid;
            long sessionStart = e.getSessionStartSec() * 1000L + e.getSessionStartNsec() / 1_000_000L;
            st.startMs = listenerAccept || sessionStart <= 0 || sessionStart > ts ? ts : sessionStart;
            st.lastEventMs = ts;
            st.maxTs = ts;
            st.lastEmitWallMs = ctx.currentSystemTimeMs();
            opened = true;
            counters.inc("mw_features_connections_opened_total");
        } else if (st.closed) {
            counters.inc("mw_features_late_after_close_total");
            return;
        }
        if (e.getInsId() != -1) {
            st.insId = e.getInsId();
        }
        if (e.getObs() == SocketOp.CONNECT) {
            st.outbound = true;
        }
        if (e.getRemoteAddr() != null && !e.getRemoteAddr().isEmpty()) {
            st.remoteAddr = e.getRemoteAddr();
            st.remotePort = e.getRemotePort();
        }
        if (e.getLocalAddr() != null && !e.getLocalAddr().isEmpty()) {
            st.localAddr = e.getLocalAddr();
            st.localPort = e.getLocalPort();
        }
        long prevIn = st.maxIn;
        long prevOut = st.maxOut;
        if (listenerAccept) {
            // The listener's counters are not this connection's: the accept only fixes its start.
            st.startMs = Math.min(st.startMs, ts);
            st.lastEventMs = Math.max(st.lastEventMs, ts);
            st.maxTs = Math.max(st.maxTs, ts);
        } else {
            FlowState.Outcome o = st.observe(ts, e.getBytesIn(), e.getBytesOut(), grace, reorderMax, idleThreshold);
            if (o == FlowState.Outcome.DUPLICATE) {
                counters.inc("mw_features_repeated_observations_total");
            } else if (o == FlowState.Outcome.LATE) {
                counters.inc("mw_features_late_observations_total");
            }
        }
        boolean close = e.getObs() == SocketOp.CLOSE && !listenerAccept;
        long dIn = st.maxIn - prevIn;
        long dOut = st.maxOut - prevOut;
        if (opened || close || dIn > 0 || dOut > 0) {
            ctx.forward(new Record<>(key, update(st, ts, opened, close, dIn, dOut), ts));
        }
        if (close) {
            st.closed = true;
            st.closedWallMs = ctx.currentSystemTimeMs();
            FlowFeatures f = st.features(ts, EndReason.CLOSED, idleThreshold);
            ctx.forward(new Record<>(key, f, f.getEmittedMs()));
            counters.inc("mw_features_flow_features_total{final=\"true\"}");
            counters.inc("mw_features_connections_closed_total");
            // Keep only what is needed to ignore late records for this socket for the grace.
            st.pending.clear();
        }
        store.put(key, st);
    }

    private ConnUpdate update(FlowState st, long ts, boolean opened, boolean ended, long dIn, long dOut) {
        FlowStats s = st.view(idleThreshold);
        return new ConnUpdate(st.host, st.insId, st.socketId, st.remoteAddr, ts, st.startMs, opened, ended, dIn, dOut,
                st.maxIn, st.maxOut, s.lastInTs, s.lastOpTs < 0 || s.lastOpDir == FlowStats.IN, st.outbound);
    }

    private void punctuate(long now) {
        counters.inc("mw_features_punctuations_total{kind=\"flow\"}");
        List<KeyValue<String, FlowState>> puts = new ArrayList<>();
        List<String> deletes = new ArrayList<>();
        try (KeyValueIterator<String, FlowState> it = store.all()) {
            while (it.hasNext()) {
                KeyValue<String, FlowState> kv = it.next();
                FlowState st = kv.value;
                if (st.closed) {
                    if (now - st.closedWallMs >= grace) {
                        deletes.add(kv.key);
                    }
                    continue;
                }
                if (now - st.lastEventMs >= idleExpire) {
                    FlowFeatures f = st.features(now, EndReason.EXPIRED, idleThreshold);
                    ctx.forward(new Record<>(kv.key, update(st, st.lastEventMs, false, true, 0, 0), st.lastEventMs));
                    ctx.forward(new Record<>(kv.key, f, now));
                    counters.inc("mw_features_flow_features_total{final=\"true\"}");
                    counters.inc("mw_features_connections_expired_total");
                    deletes.add(kv.key);
                    continue;
                }
                int pendingBefore = st.pending.size();
                st.commit(grace, reorderMax, idleThreshold);
                boolean changed = pendingBefore != st.pending.size();
                long age = now - st.startMs;
                boolean early = st.checkpointIdx < earlyAges.size() && age >= earlyAges.get(st.checkpointIdx);
                if (early || now - st.lastEmitWallMs >= emitInterval) {
                    while (st.checkpointIdx < earlyAges.size() && age >= earlyAges.get(st.checkpointIdx)) {
                        st.checkpointIdx++;
                    }
                    FlowFeatures f = st.features(now, EndReason.OPEN, idleThreshold);
                    ctx.forward(new Record<>(kv.key, f, f.getEmittedMs()));
                    counters.inc("mw_features_flow_features_total{final=\"false\"}");
                    st.lastEmitWallMs = now;
                    changed = true;
                }
                if (changed) {
                    puts.add(KeyValue.pair(kv.key, st));
                }
            }
        }
        for (String k : deletes) {
            store.delete(k);
        }
        if (!puts.isEmpty()) {
            store.putAll(puts);
        }
    }
}
