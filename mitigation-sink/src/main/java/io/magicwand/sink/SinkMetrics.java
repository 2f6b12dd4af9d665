package io.magicwand.sink;

import io.magicwand.avro.ResultStatus;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The sink's counters and the decision latency histogram (created_at_ms to result known), kept
 * lock-free here and exposed on /metrics by {@link Main} through io.magicwand.ops.
 */
public final class SinkMetrics {
    /** Upper bounds (ms) of the latency histogram buckets; +Inf is implicit. */
    public static final long[] LATENCY_BUCKETS_MS = {5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000, 10000, 30000, 60000};

    private final AtomicLong received = new AtomicLong();
    private final AtomicLong dlq = new AtomicLong();
    private final AtomicLong requests = new AtomicLong();
    private final AtomicLong retries = new AtomicLong();
    private final AtomicLong unblocksSent = new AtomicLong();
    private final Map<ResultStatus, AtomicLong> results = new EnumMap<>(ResultStatus.class);
    private final AtomicLongArray latencyBuckets = new AtomicLongArray(LATENCY_BUCKETS_MS.length + 1);
    private final AtomicLong latencyCount = new AtomicLong();
    private final AtomicLong latencySumMs = new AtomicLong();

    public SinkMetrics() {
        for (ResultStatus s : ResultStatus.values()) {
            results.put(s, new AtomicLong());
        }
    }

    public void received() { received.incrementAndGet(); }
    public void dlq() { dlq.incrementAndGet(); }
    public void requestSent() { requests.incrementAndGet(); }
    public void retry() { retries.incrementAndGet(); }
    public void unblockSent() { unblocksSent.incrementAndGet(); }

    /** Counts a published result; APPLIED results also feed the latency histogram. */
    public void result(ResultStatus s, long latencyMs) {
        results.get(s).incrementAndGet();
        if (s == ResultStatus.APPLIED) {
            long l = Math.max(0, latencyMs);
            int i = 0;
            while (i < LATENCY_BUCKETS_MS.length && l > LATENCY_BUCKETS_MS[i]) {
                i++;
            }
            latencyBuckets.incrementAndGet(i);
            latencyCount.incrementAndGet();
            latencySumMs.addAndGet(l);
        }
    }

    public long receivedCount() { return received.get(); }
    public long dlqCount() { return dlq.get(); }
    public long requestCount() { return requests.get(); }
    public long retryCount() { return retries.get(); }
    public long unblocksSentCount() { return unblocksSent.get(); }
    public long resultCount(ResultStatus s) { return results.get(s).get(); }
    public long latencyCount() { return latencyCount.get(); }
    public long latencySumMs() { return latencySumMs.get(); }

    /** Cumulative count of APPLIED latencies <= bucket bound i ({@code i == LATENCY_BUCKETS_MS.length}: +Inf). */
    public long latencyCumulative(int i) {
        long c = 0;
        for (int j = 0; j <= i; j++) {
            c += latencyBuckets.get(j);
        }
        return c;
    }
}
