package io.magicwand.streams.features;

import io.magicwand.avro.PeerFeatures;
import io.magicwand.streams.internal.Counters;
import io.magicwand.streams.internal.Keys;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Per remote address: keeps every connection of the address (open ones until they end, ended ones
 * while a window can still contain them) and event-time buckets of new connections and request
 * bytes; on wall-clock punctuation every window advance it emits the hopping window that just ended.
 * Open-connection counts, ages and the slow-connection count need the set of open connections, which
 * a DSL windowed aggregation cannot give (a connection open for a minute has no event in most
 * windows), hence a processor with a store. Late records that change an already emitted window
 * re-emit it (same window_end) while the window is within the grace.
 */
final class PeerProcessor implements Processor<String, ConnUpdate, String, PeerFeatures> {
    static final String CONN_STORE = "peer-conns";
    static final String AGG_STORE = "peer-windows";
    private static final StringSerializer KEY_SER = new StringSerializer();

    private final Counters counters;
    private final long size;
    private final long advance;
    private final long grace;
    private final long slowAge;
    private final double slowRate;
    private ProcessorContext<String, PeerFeatures> ctx;
    private KeyValueStore<String, PeerState.Conn> conns;
    private KeyValueStore<String, PeerState.Agg> aggs;

    PeerProcessor(FeaturesConfig config, Counters counters) {
        this.counters = counters;
        this.size = config.peerWindowSizeMs();
        this.advance = config.peerWindowAdvanceMs();
        this.grace = config.peerGraceMs();
        this.slowAge = config.peerSlowMinAgeMs();
        this.slowRate = config.peerSlowMaxRateBps();
    }

    @Override
    public void init(ProcessorContext<String, PeerFeatures> context) {
        this.ctx = context;
        this.conns = context.getStateStore(CONN_STORE);
        this.aggs = context.getStateStore(AGG_STORE);
        context.schedule(Duration.ofMillis(advance), PunctuationType.WALL_CLOCK_TIME, this::punctuate);
    }

    @Override
    public void process(Record<String, ConnUpdate> record) {
        ConnUpdate u = record.value();
        if (u == null) {
            return;
        }
        String aggKey = Keys.address(u.host(), u.remoteAddr());
        String connKey = aggKey + "#" + u.socketId();
        PeerState.Agg agg = aggs.get(aggKey);
        if (agg == null) {
            agg = new PeerState.Agg();
            agg.host = u.host();
            agg.addr = u.remoteAddr();
        }
        PeerState.Conn c = conns.get(connKey);
        if (c == null) {
            c = new PeerState.Conn();
            c.startMs = u.startMs();
        }
        if (c.endMs >= 0 && !u.opened()) {
            // Already ended (cannot happen with the flow processor upstream, but never count twice).
            return;
        }
        c.insId = u.insId();
        c.startMs = Math.min(c.startMs, u.startMs());
        c.cumIn = Math.max(c.cumIn, u.cumIn());
        c.cumOut = Math.max(c.cumOut, u.cumOut());
        c.lastInMs = u.lastInMs();
        c.waitingOnClient = u.waitingOnClient();
        if (u.ended()) {
            c.endMs = u.tsMs();
        }
        long horizon = Buckets.floor(ctx.currentSystemTimeMs(), advance) - size - grace;
        if (u.opened()) {
            addBucket(agg, u.startMs(), PeerState.NEW_CONNS, 1, horizon);
        }
        if (u.deltaIn() > 0) {
            addBucket(agg, u.tsMs(), PeerState.BYTES_IN, u.deltaIn(), horizon);
        }
        conns.put(connKey, c);
        aggs.put(aggKey, agg);
    }

    private void addBucket(PeerState.Agg agg, long ts, int idx, long v, long horizon) {
        long b = Buckets.floor(ts, advance);
        if (b < horizon) {
            counters.inc("mw_features_late_records_total{window=\"peer\"}");
            return;
        }
        agg.buckets.add(b, idx, v);
        if (b < agg.lastEmittedEnd) {
            agg.dirtyFrom = Math.min(agg.dirtyFrom, b);
        }
    }

    private void punctuate(long now) {
        counters.inc("mw_features_punctuations_total{kind=\"peer\"}");
        long end = Buckets.floor(now, advance);
        List<KeyValue<String, PeerState.Agg>> puts = new ArrayList<>();
        List<String> deletes = new ArrayList<>();
        try (KeyValueIterator<String, PeerState.Agg> it = aggs.all()) {
            while (it.hasNext()) {
                KeyValue<String, PeerState.Agg> kv = it.next();
                PeerState.Agg agg = kv.value;
                List<Long> ends = new ArrayList<>();
                if (agg.dirtyFrom != Long.MAX_VALUE) {
                    for (long e = agg.dirtyFrom + advance; e <= agg.lastEmittedEnd; e += advance) {
                        if (e >= now - grace && e - size <= agg.dirtyFrom) {
                            ends.add(e);
                        }
                    }
                    agg.dirtyFrom = Long.MAX_VALUE;
                }
                if (end > agg.lastEmittedEnd) {
                    ends.add(end);
                }
                List<KeyValue<String, PeerState.Conn>> cs = new ArrayList<>();
                try (KeyValueIterator<String, PeerState.Conn> ci = conns.prefixScan(kv.key + "#", KEY_SER)) {
                    ci.forEachRemaining(cs::add);
                }
                for (long e : ends) {
                    PeerFeatures pf = compute(agg, cs, e - size, e);
                    if (pf != null) {
                        if (e == end) {
                            agg.lastEmittedOpen = pf.getOpenConnections();
                        }
                        ctx.forward(new Record<>(kv.key, pf, e));
                        counters.inc("mw_features_peer_features_total");
                    }
                }
                agg.lastEmittedEnd = Math.max(agg.lastEmittedEnd, end);
                long keepFrom = end - size - grace;
                agg.buckets.pruneBefore(keepFrom);
                int live = 0;
                for (KeyValue<String, PeerState.Conn> c : cs) {
                    if (c.value.endMs >= 0 && c.value.endMs < keepFrom) {
                        conns.delete(c.key);
                    } else {
                        live++;
                    }
                }
                if (live == 0 && agg.buckets.isEmpty()) {
                    deletes.add(kv.key);
                } else {
                    puts.add(KeyValue.pair(kv.key, agg));
                }
            }
        }
        for (String k : deletes) {
            aggs.delete(k);
        }
        if (!puts.isEmpty()) {
            aggs.putAll(puts);
        }
    }

    /** The window [start, end) of one address, or null when nothing happened in it. */
    PeerFeatures compute(PeerState.Agg agg, List<KeyValue<String, PeerState.Conn>> cs, long start, long end) {
        long open = 0;
        long ageSum = 0;
        long ageMax = 0;
        long seen = 0;
        long noResponse = 0;
        long slow = 0;
        TreeSet<Integer> ins = new TreeSet<>();
        for (KeyValue<String, PeerState.Conn> kv : cs) {
            PeerState.Conn c = kv.value;
            if (c.startMs >= end) {
                continue;
            }
            boolean openAtEnd = c.endMs < 0 || c.endMs >= end;
            boolean seenInWindow = c.endMs < 0 || c.endMs >= start;
            if (seenInWindow) {
                seen++;
                if (c.cumOut == 0) {
                    noResponse++;
                }
                if (c.insId >= 0) {
                    ins.add(c.insId);
                }
            }
            if (openAtEnd) {
                open++;
                long age = Math.max(0, end - c.startMs);
                ageSum += age;
                ageMax = Math.max(ageMax, age);
                double rate = c.cumIn * 1000.0 / Math.max(age, 1);
                if (age >= slowAge && rate < slowRate && c.waitingOnClient) {
                    slow++;
                }
            }
        }
        long newConns = agg.buckets.sum(start, end, PeerState.NEW_CONNS);
        long bytes = agg.buckets.sum(start, end, PeerState.BYTES_IN);
        if (open == 0 && seen == 0 && newConns == 0 && bytes == 0 && agg.lastEmittedOpen == 0) {
            return null;
        }
        return PeerFeatures.newBuilder()
                .setHost(agg.host)
                .setRemoteAddr(agg.addr)
                .setWindowStartMs(start)
                .setWindowEndMs(end)
                .setNewConnections(newConns)
                .setOpenConnections(open)
                .setConnAgeMeanMs(open == 0 ? 0.0 : (double) ageSum / open)
                .setConnAgeMaxMs(ageMax)
                .setNoResponseShare(seen == 0 ? 0.0 : (double) noResponse / seen)
                .setSlowConnections(slow)
                .setRequestBytesPerSec(bytes * 1000.0 / size)
                .setMeanRequestBytes(seen == 0 ? 0.0 : (double) bytes / seen)
                .setInsIds(new ArrayList<>(ins))
                .build();
    }
}
