package io.magicwand.ingest;

import java.util.concurrent.atomic.LongAdder;

/** Counters of one NetFlow source (host tag); read by /metrics and /health from any thread. */
public final class SourceStats {
    public final String host;
    public final LongAdder eventsIn = new LongAdder();
    public final LongAdder eventsProduced = new LongAdder();
    public final LongAdder produceErrors = new LongAdder();
    public final LongAdder reconnects = new LongAdder();
    public final LongAdder connectFailures = new LongAdder();
    public final LongAdder gaps = new LongAdder();
    public final LongAdder lostInGaps = new LongAdder();
    public final LongAdder sequenceResets = new LongAdder();
    public final LongAdder formatErrors = new LongAdder();
    public final LongAdder partialDropped = new LongAdder();
    public final LongAdder otherMessages = new LongAdder();
    public final LongAdder bytesIn = new LongAdder();
    public final LongAdder pauses = new LongAdder();
    /** Token handshakes the source refused (wrong token, or a source without the auth extension). */
    public final LongAdder authFailures = new LongAdder();
    /** Observation time (epoch ms) of the newest record, 0 before the first (written with lazySet). */
    public final java.util.concurrent.atomic.AtomicLong lastObservedMs = new java.util.concurrent.atomic.AtomicLong();
    public volatile boolean connected;

    public SourceStats(String host) {
        this.host = host;
    }

    /** now - observation time of the last record, in seconds (0 before the first record). */
    public double lagSeconds(long nowMs) {
        long last = lastObservedMs.get();
        return last == 0 ? 0.0 : Math.max(0, nowMs - last) / 1000.0;
    }
}
