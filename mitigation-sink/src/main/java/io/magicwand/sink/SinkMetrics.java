package io.magicwand.sink;

import io.magicwand.avro.ResultStatus;
import io.magicwand.ops.Metrics;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;

/**
 * The sink's metrics on an io.magicwand.ops {@link Metrics} registry (served on /metrics):
 * <pre>
 *   mw_sink_decisions_received_total            decision records read (including undecodable ones)
 *   mw_sink_results_total{status=...}           results published: applied, failed, timed_out,
 *                                               skipped_expired, skipped_duplicate
 *   mw_sink_dlq_total                           records sent to the dead-letter topic
 *   mw_sink_netflow_requests_total              feature requests put on the wire (retries included)
 *   mw_sink_netflow_retries_total               re-sends after a timeout or a lost connection
 *   mw_sink_unblocks_total                      unblocks sent by the sink when a ban ended
 *   mw_sink_decision_latency_seconds            histogram: decision created_at_ms to APPLIED
 *   mw_sink_decision_queue_seconds              histogram: decision record timestamp to the poll that read it
 * </pre>
 */
public final class SinkMetrics {
    /** Bucket bounds of the latency histogram, seconds. */
    static final double[] LATENCY_BUCKETS_S = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60};

    private final Metrics registry;
    private final Metrics.Counter received;
    private final Metrics.Counter dlq;
    private final Metrics.Counter requests;
    private final Metrics.Counter retries;
    private final Metrics.Counter unblocks;
    private final Map<ResultStatus, Metrics.Counter> results = new EnumMap<>(ResultStatus.class);
    private final Metrics.Histogram latency;
    private final Metrics.Histogram queued;

    public SinkMetrics() {
        this(new Metrics());
    }

    public SinkMetrics(Metrics registry) {
        this.registry = registry;
        received = registry.counter("mw_sink_decisions_received_total", "Decision records read, including undecodable ones");
        dlq = registry.counter("mw_sink_dlq_total", "Decision records sent to the dead-letter topic");
        requests = registry.counter("mw_sink_netflow_requests_total", "NetFlow feature requests sent, retries included");
        retries = registry.counter("mw_sink_netflow_retries_total", "Re-sends after a timeout or a lost NetFlow connection");
        unblocks = registry.counter("mw_sink_unblocks_total", "Unblocks sent by the sink when a ban ended");
        for (ResultStatus s : ResultStatus.values()) {
            results.put(s, registry.counter("mw_sink_results_total", "Results published, by status",
                    Map.of("status", s.name().toLowerCase(Locale.ROOT))));
        }
        latency = registry.histogram("mw_sink_decision_latency_seconds",
                "Time from a decision's created_at_ms to its APPLIED result", LATENCY_BUCKETS_S);
        queued = registry.histogram("mw_sink_decision_queue_seconds",
                "Time from a decision record's Kafka timestamp to the sink's poll that read it", LATENCY_BUCKETS_S);
    }

    public Metrics registry() { return registry; }

    public void received() { received.inc(); }
    public void dlq() { dlq.inc(); }
    public void requestSent() { requests.inc(); }
    public void retry() { retries.inc(); }
    public void unblockSent() { unblocks.inc(); }
    public void queued(long ms) { queued.observe(Math.max(0, ms) / 1000.0); }

    /** Counts a published result; APPLIED results also feed the latency histogram. */
    public void result(ResultStatus s, long latencyMs) {
        results.get(s).inc();
        if (s == ResultStatus.APPLIED) {
            latency.observe(Math.max(0, latencyMs) / 1000.0);
        }
    }

    public long receivedCount() { return received.get(); }
    public long dlqCount() { return dlq.get(); }
    public long requestCount() { return requests.get(); }
    public long retryCount() { return retries.get(); }
    public long unblocksSentCount() { return unblocks.get(); }
    public long resultCount(ResultStatus s) { return results.get(s).get(); }
    public long latencyCount() { return latency.count(); }
}
