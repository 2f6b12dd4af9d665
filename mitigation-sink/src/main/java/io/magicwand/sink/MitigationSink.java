package io.magicwand.sink;

import io.magicwand.avro.Action;
import io.magicwand.avro.MitigationDecision;
import io.magicwand.avro.MitigationResult;
import io.magicwand.avro.ResultStatus;
import io.magicwand.netflow.FeatureRequest;
import io.magicwand.serde.PoisonPills;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sink's consume-apply-report loop.
 *
 * <p>Per decision record, in partition order:
 * <ol>
 *   <li>decode it here (the consumer reads raw bytes, so a poison pill never makes {@code poll} throw
 *       and stall the partition); undecodable records go to the dead-letter topic with the reason in
 *       headers, a registry outage is retried instead (the record is probably fine);</li>
 *   <li>already handled (its id has a result) -> SKIPPED_DUPLICATE; past its ttl -> SKIPPED_EXPIRED;
 *       not mappable -> FAILED/EINVAL; otherwise the NetFlow requests are applied
 *       ({@link RequestExecutor}) -> APPLIED / FAILED errno / TIMED_OUT;</li>
 *   <li>the result is produced and acknowledged, and only then is the offset committed.</li>
 * </ol>
 * Between polls, bans whose time is up are lifted ({@link BanScheduler}). Single-threaded: decisions
 * are applied in order, one at a time, which keeps ordering per partition (a BLOCK then an UNBLOCK
 * of the same address stay in that order).
 */
public final class MitigationSink implements Runnable, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MitigationSink.class);

    public static final String H_REASON = "mw.dlq.reason";
    public static final String H_TOPIC = "mw.dlq.topic";
    public static final String H_PARTITION = "mw.dlq.partition";
    public static final String H_OFFSET = "mw.dlq.offset";
    public static final String H_TIMESTAMP = "mw.dlq.failed-at-ms";
    /** Suffix of the result id of an unblock sent by the sink when a ban ends. */
    public static final String UNBLOCK_SUFFIX = "/unblock";

    private final SinkConfig cfg;
    private final Consumer<byte[], byte[]> consumer;
    private final Producer<byte[], byte[]> producer;
    private final Deserializer<MitigationDecision> decisions;
    private final Serializer<MitigationResult> results;
    private final RequestExecutor executor;
    private final AppliedIds applied;
    private final BanScheduler bans;
    private final Clock clock;
    private final SinkMetrics metrics;
    private final CountDownLatch stopped = new CountDownLatch(1);
    private volatile boolean running = true;
    private volatile long lastPollMs;
    private volatile String lastError = "";
    private volatile boolean failed;
    /** Most decisions being applied at once before the consumer pauses (backpressure). */
    static final int MAX_INFLIGHT = 5000;
    /** Per partition, the records read whose result is not acknowledged yet (loop thread). */
    private final Map<TopicPartition, ConcurrentSkipListMap<Long, Work>> open = new HashMap<>();
    private final Map<TopicPartition, Long> nextOffset = new HashMap<>();
    private final Map<TopicPartition, Long> committedOffsets = new HashMap<>();
    /** Per target, the last queued application (loop thread). */
    private final Map<String, CompletableFuture<Void>> tails = new HashMap<>();
    private final Set<String> inflightIds = ConcurrentHashMap.newKeySet();
    private final AtomicInteger inflight = new AtomicInteger();
    /** Applies decisions on different targets concurrently (null when sink.parallelism is 1). */
    private final ExecutorService pool;

    public MitigationSink(SinkConfig cfg, Consumer<byte[], byte[]> consumer, Producer<byte[], byte[]> producer,
                          Deserializer<MitigationDecision> decisions, Serializer<MitigationResult> results,
                          RequestExecutor executor, AppliedIds applied, BanScheduler bans, Clock clock,
                          SinkMetrics metrics) {
        this.cfg = cfg;
        this.consumer = consumer;
        this.producer = producer;
        this.decisions = decisions;
        this.results = results;
        this.executor = executor;
        this.applied = applied;
        this.bans = bans;
        this.clock = clock;
        this.metrics = metrics;
        this.lastPollMs = clock.millis();
        int par = cfg.parallelism();
        this.pool = par <= 1 ? null : Executors.newFixedThreadPool(par, r -> {
            Thread t = new Thread(r, "mitigation-apply");
            t.setDaemon(true);
            return t;
        });
    }

    @Override
    public void run() {
        try {
            consumer.subscribe(List.of(cfg.decisionsTopic()), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(java.util.Collection<TopicPartition> partitions) {
                    try {
                        drain(cfg.unavailableMaxMs()); // commit what is reported before another sink takes over
                        open.keySet().removeAll(partitions);
                        partitions.forEach(tp -> {
                            nextOffset.remove(tp);
                            committedOffsets.remove(tp);
                        });
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }

                @Override
                public void onPartitionsAssigned(java.util.Collection<TopicPartition> partitions) {
                }
            });
            log.info("consuming {} (group {}), results to {}, dead letters to {}", cfg.decisionsTopic(), cfg.groupId(),
                    cfg.resultsTopic(), cfg.dlqTopic());
            while (running) {
                pollOnce();
            }
        } catch (WakeupException e) {
            if (running) {
                throw e;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            lastError = e.toString();
            failed = true;
            log.error("mitigation sink loop failed: {}", e.toString(), e);
            throw e;
        } finally {
            running = false;
            try {
                drain(30_000);
            } catch (InterruptedException | RuntimeException e) {
                log.warn("could not commit the last reported decisions ({}); they will be redelivered and skipped as duplicates",
                        e.toString());
            }
            if (pool != null) {
                pool.shutdownNow();
            }
            stopped.countDown();
        }
    }

    /** One decision record on its way to an acknowledged result. */
    private static final class Work {
        final ConsumerRecord<byte[], byte[]> rec;
        MitigationDecision decision;
        String id;
        List<FeatureRequest> requests;
        long expiresAt;
        String dlqReason;
        volatile Outcome outcome; // null until known
        volatile long outcomeAtMs;
        volatile ProducerRecord<byte[], byte[]> out;
        volatile boolean acked;
        volatile boolean sendFailed;

        Work(ConsumerRecord<byte[], byte[]> rec) {
            this.rec = rec;
        }

        boolean done() {
            return dlqReason != null || outcome != null;
        }
    }

    /**
     * One poll. The records are classified here (decode, duplicate, expiry, mapping); the ones that
     * need NetFlow requests are queued per target (same address, same socket, INS-wide per host):
     * serial within a target, concurrent across targets, and not blocking the loop - a slow answer
     * from mwcomms about one socket does not delay a BLOCK that arrives after it. The poll waits for
     * its own decisions at most {@code sink.batch.wait.ms}. Results are produced as soon as they are
     * known; per partition, offsets are committed up to the first record whose result is not yet
     * acknowledged. Finally due bans are lifted. Returns the number of records read.
     */
    int pollOnce() throws InterruptedException {
        retryFailedSends();
        commitAcked();
        if (inflight.get() >= MAX_INFLIGHT) {
            consumer.pause(consumer.assignment()); // backpressure: mwcomms is slower than the detector
        } else if (!consumer.paused().isEmpty()) {
            consumer.resume(consumer.paused());
        }
        ConsumerRecords<byte[], byte[]> recs = consumer.poll(Duration.ofMillis(cfg.pollTimeoutMs()));
        lastPollMs = clock.millis();
        for (ConsumerRecord<byte[], byte[]> r : recs) {
            metrics.queued(lastPollMs - r.timestamp()); // time from produce to our poll (Kafka side)
        }
        List<CompletableFuture<Void>> mine = new ArrayList<>();
        int n = 0;
        for (TopicPartition tp : recs.partitions()) {
            for (ConsumerRecord<byte[], byte[]> r : recs.records(tp)) {
                Work w = new Work(r);
                if (!classify(w)) {
                    // Not decodable now (registry unreachable): re-read it and the rest of this partition later.
                    consumer.seek(tp, r.offset());
                    break;
                }
                n++;
                open.computeIfAbsent(tp, k -> new ConcurrentSkipListMap<>()).put(r.offset(), w);
                committedOffsets.putIfAbsent(tp, r.offset()); // where this sink started: nothing to commit below
                nextOffset.put(tp, r.offset() + 1);
                if (w.done()) {
                    report(w);
                } else {
                    mine.add(schedule(w));
                }
            }
        }
        if (!mine.isEmpty()) {
            try {
                CompletableFuture.allOf(mine.toArray(new CompletableFuture<?>[0])).get(cfg.batchWaitMs(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                // still being applied: reported (and committed) when done
            } catch (ExecutionException e) {
                throw new IllegalStateException("applying decisions failed: " + e.getCause(), e.getCause());
            }
        }
        tails.values().removeIf(CompletableFuture::isDone);
        retryFailedSends();
        commitAcked();
        liftDueBans();
        return n;
    }

    /** Queues {@code w} behind the earlier decisions on its target. */
    private CompletableFuture<Void> schedule(Work w) {
        inflight.incrementAndGet();
        String key = targetKey(w.decision);
        CompletableFuture<Void> prev = tails.getOrDefault(key, CompletableFuture.completedFuture(null));
        CompletableFuture<Void> f = prev.handle((x, e) -> null).thenRunAsync(() -> runWork(w),
                pool != null ? pool : Runnable::run);
        tails.put(key, f);
        return f;
    }

    private void runWork(Work w) {
        try {
            Outcome o = executor.execute(w.decision.getHost().toString(), w.requests, w.expiresAt, () -> !running);
            w.outcomeAtMs = clock.millis();
            w.outcome = o;
            report(w);
        } catch (InterruptedException e) {
            // shutting down: no result, not committed, redelivered next time
        } catch (RuntimeException e) {
            log.error("applying decision {} failed unexpectedly: {}", w.id, e.toString(), e);
            w.outcomeAtMs = clock.millis();
            w.outcome = Outcome.failed(Errno.EINVAL, "internal error in the sink: " + e, 0);
            report(w);
        } finally {
            inflightIds.remove(w.id);
            inflight.decrementAndGet();
        }
    }

    /** Produces the result (or dead letter) of {@code w}; the acknowledgement is noted on {@code w}. */
    private void report(Work w) {
        if (w.dlqReason != null) {
            w.out = deadLetter(w.rec, w.dlqReason);
        } else {
            if (w.outcome.status() == ResultStatus.APPLIED) {
                trackBan(w.decision, w.id);
            }
            w.out = resultRecord(w.decision, w.id, w.outcome, w.outcomeAtMs);
        }
        try {
            producer.send(w.out, (md, e) -> {
                if (e == null) {
                    w.acked = true;
                } else {
                    w.sendFailed = true;
                }
            });
        } catch (RuntimeException e) {
            w.sendFailed = true;
        }
    }

    /** Sends again, until acknowledged, every result whose send failed (loop thread). */
    private void retryFailedSends() throws InterruptedException {
        for (ConcurrentSkipListMap<Long, Work> m : open.values()) {
            for (Work w : m.values()) {
                if (w.sendFailed) {
                    w.sendFailed = false;
                    produceDurably(w.out);
                    w.acked = true;
                }
            }
        }
    }

    /** Per partition: commits up to the first record whose result is not acknowledged yet. */
    private void commitAcked() {
        Map<TopicPartition, OffsetAndMetadata> commit = new HashMap<>();
        for (Map.Entry<TopicPartition, ConcurrentSkipListMap<Long, Work>> e : open.entrySet()) {
            ConcurrentSkipListMap<Long, Work> m = e.getValue();
            while (!m.isEmpty() && m.firstEntry().getValue().acked) {
                m.pollFirstEntry();
            }
            Long next = m.isEmpty() ? nextOffset.get(e.getKey()) : m.firstKey();
            Long last = committedOffsets.get(e.getKey());
            if (next != null && (last == null || next > last)) {
                commit.put(e.getKey(), new OffsetAndMetadata(next));
                committedOffsets.put(e.getKey(), next);
            }
        }
        commitSync(commit);
    }

    /**
     * Waits (at most {@code timeoutMs}) for the decisions being applied, then for the results'
     * acknowledgements, and commits. Used on shutdown and before partitions are revoked.
     */
    void drain(long timeoutMs) throws InterruptedException {
        CompletableFuture<?>[] all = tails.values().toArray(new CompletableFuture<?>[0]);
        try {
            CompletableFuture.allOf(all).get(timeoutMs, TimeUnit.MILLISECONDS);
        } catch (TimeoutException | ExecutionException e) {
            log.warn("decisions still being applied after {} ms; they are not committed and will be redelivered", timeoutMs);
        }
        producer.flush();
        retryFailedSends();
        commitAcked();
    }

    private void commitSync(Map<TopicPartition, OffsetAndMetadata> commit) {
        if (commit.isEmpty()) {
            return;
        }
        try {
            consumer.commitSync(commit);
        } catch (WakeupException e) {
            consumer.commitSync(commit); // a stop() raced with this commit: the wakeup is used up, commit anyway
        }
    }

    /**
     * Decodes and checks one record; false when it must be retried later (registry unavailable).
     * Sets the outcome of records that need no NetFlow request (dead letter, duplicate, expired,
     * invalid).
     */
    private boolean classify(Work w) throws InterruptedException {
        ConsumerRecord<byte[], byte[]> r = w.rec;
        metrics.received();
        MitigationDecision d;
        try {
            if (r.value() == null) {
                throw new IllegalArgumentException("record has no value (tombstone); decisions are never deleted");
            }
            d = decisions.deserialize(r.topic(), r.headers(), r.value());
        } catch (RuntimeException e) {
            if (PoisonPills.isTransient(e)) {
                lastError = "schema registry unavailable: " + e.getMessage();
                log.warn("cannot decode decision at {}-{}@{} because the schema registry is unavailable ({}); retrying in 1 s",
                        r.topic(), r.partition(), r.offset(), e.getMessage());
                Thread.sleep(1000);
                return false;
            }
            w.dlqReason = e.getMessage() != null ? e.getMessage() : e.toString();
            return true;
        }
        w.decision = d;
        w.id = d.getDecisionId() == null ? "" : d.getDecisionId().toString();
        if (w.id.isBlank()) {
            w.dlqReason = "decision has an empty decision_id (results and idempotency are keyed by it)";
            return true;
        }
        long now = clock.millis();
        w.outcomeAtMs = now;
        if (applied.contains(w.id) || inflightIds.contains(w.id)) {
            w.outcome = new Outcome(ResultStatus.SKIPPED_DUPLICATE, 0,
                    "decision " + w.id + " was already handled (redelivery); not applied again", 0);
            return true;
        }
        long ttl = d.getTtlMs();
        w.expiresAt = ttl > 0 ? d.getCreatedAtMs() + ttl : Long.MAX_VALUE;
        if (now > w.expiresAt) {
            w.outcome = Outcome.expired("expired " + (now - w.expiresAt) + " ms before it could be applied (created_at_ms "
                    + d.getCreatedAtMs() + ", ttl_ms " + ttl + ")", 0);
            return true;
        }
        try {
            w.requests = DecisionMapper.map(d, cfg.blockClosesExisting());
            inflightIds.add(w.id);
        } catch (InvalidDecisionException e) {
            w.outcome = Outcome.failed(Errno.EINVAL, "invalid decision: " + e.getMessage(), 0);
        }
        return true;
    }

    /** The target a decision acts on: decisions on the same target are applied in order. */
    static String targetKey(MitigationDecision d) {
        String host = String.valueOf(d.getHost());
        switch (d.getTarget()) {
            case SOCKET:
                return host + "|socket|" + d.getSocketId();
            case ADDRESS:
                return host + "|address|" + (d.getAddress() == null ? "" : d.getAddress().toString().trim());
            default:
                return host + "|ins"; // INS-wide and lifecycle changes: one at a time per host
        }
    }


    private void trackBan(MitigationDecision d, String id) {
        String host = d.getHost().toString();
        if (d.getAction() == Action.BLOCK) {
            String addr = d.getAddress().toString().trim();
            if (d.getTtlMs() > 0 && cfg.unblockOnExpiry()) {
                bans.schedule(host, addr, d.getCreatedAtMs() + d.getTtlMs(), id);
            } else {
                bans.cancel(host, addr); // permanent ban (or the detector lifts it): no timer of ours
            }
        } else if (d.getAction() == Action.UNBLOCK) {
            bans.cancel(host, d.getAddress().toString().trim());
        }
    }

    /** Sends the UNBLOCK of every ban whose time is up. */
    void liftDueBans() throws InterruptedException {
        for (BanScheduler.Ban b : bans.due(clock.millis())) {
            if (!running) {
                return;
            }
            FeatureRequest req;
            try {
                req = DecisionMapper.unblock(b.address());
            } catch (InvalidDecisionException e) {
                log.error("dropping pending unblock of {} on {}: {}", b.address(), b.host(), e.getMessage());
                bans.done(b);
                continue;
            }
            Outcome o = executor.execute(b.host(), List.of(req), Long.MAX_VALUE, () -> !running);
            if (o.status() == ResultStatus.TIMED_OUT) {
                log.warn("unblock of {} on {} (ban of decision {}) not confirmed: {}; retrying in 5 s", b.address(),
                        b.host(), b.decisionId(), o.message());
                bans.schedule(b.host(), b.address(), clock.millis() + 5000, b.decisionId());
                continue;
            }
            metrics.unblockSent();
            String rid = b.decisionId() + UNBLOCK_SUFFIX;
            long now = clock.millis();
            MitigationResult res = MitigationResult.newBuilder().setDecisionId(rid).setHost(b.host()).setInsId(-1)
                    .setAction(Action.UNBLOCK.name()).setStatus(o.status()).setErrno(o.errno())
                    .setMessage("ban of " + b.address() + " ended (decision " + b.decisionId() + "): " + o.message())
                    .setAppliedAtMs(now).setLatencyMs(Math.max(0, now - b.dueMs())).build();
            produceDurably(new ProducerRecord<>(cfg.resultsTopic(), null, rid.getBytes(StandardCharsets.UTF_8),
                    results.serialize(cfg.resultsTopic(), res)));
            metrics.result(o.status(), now - b.dueMs());
            bans.done(b);
        }
    }

    private ProducerRecord<byte[], byte[]> resultRecord(MitigationDecision d, String id, Outcome o, long now) {
        long latency = Math.max(0, now - d.getCreatedAtMs());
        MitigationResult res = MitigationResult.newBuilder().setDecisionId(id).setHost(d.getHost())
                .setInsId(d.getInsId()).setAction(d.getAction().name()).setStatus(o.status()).setErrno(o.errno())
                .setMessage(o.message()).setAppliedAtMs(now).setLatencyMs(latency).build();
        byte[] value = results.serialize(cfg.resultsTopic(), res);
        if (o.status() != ResultStatus.SKIPPED_DUPLICATE) {
            applied.add(id);
        }
        metrics.result(o.status(), latency);
        if (o.status() == ResultStatus.APPLIED) {
            log.info("decision {} {} on {} applied in {} ms: {}", id, d.getAction(), d.getHost(), latency, o.message());
        } else {
            log.warn("decision {} {} on {}: {} {}", id, d.getAction(), d.getHost(), o.status(), o.message());
        }
        return new ProducerRecord<>(cfg.resultsTopic(), null, id.getBytes(StandardCharsets.UTF_8), value);
    }

    private ProducerRecord<byte[], byte[]> deadLetter(ConsumerRecord<byte[], byte[]> r, String reason) {
        RecordHeaders h = new RecordHeaders();
        for (Header x : r.headers()) {
            h.add(x);
        }
        h.add(H_REASON, reason.getBytes(StandardCharsets.UTF_8));
        h.add(H_TOPIC, r.topic().getBytes(StandardCharsets.UTF_8));
        h.add(H_PARTITION, Integer.toString(r.partition()).getBytes(StandardCharsets.UTF_8));
        h.add(H_OFFSET, Long.toString(r.offset()).getBytes(StandardCharsets.UTF_8));
        h.add(H_TIMESTAMP, Long.toString(clock.millis()).getBytes(StandardCharsets.UTF_8));
        metrics.dlq();
        log.warn("decision record {}-{}@{} sent to {}: {}", r.topic(), r.partition(), r.offset(), cfg.dlqTopic(), reason);
        return new ProducerRecord<>(cfg.dlqTopic(), null, r.key(), r.value(), h);
    }

    /**
     * Produces and waits for the acknowledgement, retrying (with the producer's own retries inside)
     * until it succeeds or the sink stops: the offset of a decision is committed only after its
     * result or dead letter is safely in Kafka.
     */
    private void produceDurably(ProducerRecord<byte[], byte[]> rec) throws InterruptedException {
        long backoff = 500;
        while (true) {
            try {
                producer.send(rec).get();
                return;
            } catch (ExecutionException e) {
                lastError = "produce to " + rec.topic() + " failed: " + e.getCause();
                if (!running) {
                    throw new InterruptedException("sink stopping with an unacknowledged record for " + rec.topic());
                }
                log.error("cannot produce to {} ({}); retrying in {} ms (is Kafka up?)", rec.topic(), e.getCause(), backoff);
                Thread.sleep(backoff);
                backoff = Math.min(10_000, backoff * 2);
            }
        }
    }

    /** True when the loop ended on an error (not on {@link #stop()}). */
    public boolean failed() {
        return failed;
    }

    public boolean isRunning() {
        return running;
    }

    /** Epoch ms of the last completed poll (health: a stuck loop shows an old value). */
    public long lastPollMs() {
        return lastPollMs;
    }

    public String lastError() {
        return lastError;
    }

    /** Asks the loop to stop; pending decisions are not committed and will be redelivered. */
    public void stop() {
        running = false;
        consumer.wakeup();
    }

    /** Waits for the loop to end. */
    public boolean awaitStopped(Duration d) throws InterruptedException {
        return stopped.await(d.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    @Override
    public void close() {
        stop();
    }
}
