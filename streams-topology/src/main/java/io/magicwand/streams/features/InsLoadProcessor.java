package io.magicwand.streams.features;

import io.magicwand.avro.InsLoad;
import io.magicwand.streams.internal.Bin;
import io.magicwand.streams.internal.Counters;
import io.magicwand.streams.internal.Keys;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Per INS: a counter of open connections (exact: the flow processor reports each open and each end
 * once) and event-time buckets of accepts and bytes; one {@link InsLoad} per window advance (wall
 * clock) while the INS has open connections or activity in the window.
 */
final class InsLoadProcessor implements Processor<String, ConnUpdate, String, InsLoad> {
    static final String STORE = "ins-load";
    static final int ACCEPTS = 0;
    static final int BYTES_IN = 1;
    static final int BYTES_OUT = 2;

    static final class Agg {
        String host;
        int insId;
        long open;
        long lastEmittedEnd = Long.MIN_VALUE;
        Buckets buckets = new Buckets(3);

        static final Serde<Agg> SERDE = Bin.serde("ins load state", Agg::write, Agg::read);

        private static void write(Agg a, Bin.Out o) {
            o.i8(1).str(a.host).i32(a.insId).i64(a.open).i64(a.lastEmittedEnd);
            a.buckets.write(o);
        }

        private static Agg read(Bin.In in) {
            Bin.version(in, "ins load state", 1);
            Agg a = new Agg();
            a.host = in.str();
            a.insId = in.i32();
            a.open = in.i64();
            a.lastEmittedEnd = in.i64();
            a.buckets = Buckets.read(in, 3);
            return a;
        }
    }

    private final Counters counters;
    private final long size;
    private final long advance;
    private final long grace;
    private ProcessorContext<String, InsLoad> ctx;
    private KeyValueStore<String, Agg> store;

    InsLoadProcessor(FeaturesConfig config, Counters counters) {
        this.counters = counters;
        this.size = config.insWindowSizeMs();
        this.advance = config.insWindowAdvanceMs();
        this.grace = config.peerGraceMs();
    }

    @Override
    public void init(ProcessorContext<String, InsLoad> context) {
        this.ctx = context;
        this.store = context.getStateStore(STORE);
        context.schedule(Duration.ofMillis(advance), PunctuationType.WALL_CLOCK_TIME, this::punctuate);
    }

    @Override
    public void process(Record<String, ConnUpdate> record) {
        ConnUpdate u = record.value();
        if (u == null) {
            return;
        }
        String key = Keys.ins(u.host(), u.insId());
        Agg a = store.get(key);
        if (a == null) {
            a = new Agg();
            a.host = u.host();
            a.insId = u.insId();
        }
        long horizon = Buckets.floor(ctx.currentSystemTimeMs(), advance) - size - grace;
        if (u.opened()) {
            a.open++;
            add(a, u.startMs(), ACCEPTS, 1, horizon);
        }
        if (u.ended()) {
            a.open = Math.max(0, a.open - 1);
        }
        add(a, u.tsMs(), BYTES_IN, u.deltaIn(), horizon);
        add(a, u.tsMs(), BYTES_OUT, u.deltaOut(), horizon);
        store.put(key, a);
    }

    private void add(Agg a, long ts, int idx, long v, long horizon) {
        if (v == 0) {
            return;
        }
        long b = Buckets.floor(ts, advance);
        if (b < horizon) {
            counters.inc("mw_features_late_records_total{window=\"ins\"}");
            return;
        }
        a.buckets.add(b, idx, v);
    }

    private void punctuate(long now) {
        counters.inc("mw_features_punctuations_total{kind=\"ins\"}");
        long end = Buckets.floor(now, advance);
        long start = end - size;
        double secs = size / 1000.0;
        List<KeyValue<String, Agg>> puts = new ArrayList<>();
        List<String> deletes = new ArrayList<>();
        try (KeyValueIterator<String, Agg> it = store.all()) {
            while (it.hasNext()) {
                KeyValue<String, Agg> kv = it.next();
                Agg a = kv.value;
                if (end <= a.lastEmittedEnd) {
                    continue;
                }
                long accepts = a.buckets.sum(start, end, ACCEPTS);
                long in = a.buckets.sum(start, end, BYTES_IN);
                long out = a.buckets.sum(start, end, BYTES_OUT);
                if (a.open > 0 || accepts > 0 || in > 0 || out > 0) {
                    InsLoad l = InsLoad.newBuilder()
                            .setHost(a.host)
                            .setInsId(a.insId)
                            .setWindowStartMs(start)
                            .setWindowEndMs(end)
                            .setOpenConnections(a.open)
                            .setAccepts(accepts)
                            .setAcceptRate(accepts / secs)
                            .setBytesInRate(in / secs)
                            .setBytesOutRate(out / secs)
                            .build();
                    ctx.forward(new Record<>(kv.key, l, end));
                    counters.inc("mw_features_ins_load_total");
                }
                a.lastEmittedEnd = end;
                a.buckets.pruneBefore(end - size - grace);
                if (a.open == 0 && a.buckets.isEmpty()) {
                    deletes.add(kv.key);
                } else {
                    puts.add(KeyValue.pair(kv.key, a));
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
