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
    /** Results and dead letters sent but not yet known to be acknowledged, and the offsets they cover. */
    private final List<ProducerRecord<byte[], byte[]>> pendingRecords = new ArrayList<>();
    private final List<Future<RecordMetadata>> pendingAcks = new ArrayList<>();
    private final Map<TopicPartition, OffsetAndMetadata> pendingCommit = new HashMap<>();
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
                        finishPending(true); // commit what is reported before another sink takes over
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
                finishPending(true);
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

    /** One decision record of a poll batch on its way to a result. */
    private static final class Work {
        final ConsumerRecord<byte[], byte[]> rec;
        MitigationDecision decision;
        String id;
        List<FeatureRequest> requests;
        long expiresAt;
        String dlqReason;
        Outcome outcome; // null until known
        long outcomeAtMs;

        Work(ConsumerRecord<byte[], byte[]> rec) {
            this.rec = rec;
        }

        boolean done() {
            return dlqReason != null || outcome != null;
        }
    }

    /**
     * One poll: classify the records (decode, duplicate, expiry, mapping), apply the ones that need
     * NetFlow requests — serially per target (same address, same socket, same INS), in parallel across
     * targets — then produce every result and dead letter, wait for their acknowledgements, and
     * commit. Finally lift due bans. Returns the number of records handled.
     */
    int pollOnce() throws InterruptedException {
        ConsumerRecords<byte[], byte[]> recs = consumer.poll(Duration.ofMillis(cfg.pollTimeoutMs()));
        lastPollMs = clock.millis();
        long t0 = System.nanoTime();
        for (ConsumerRecord<byte[], byte[]> r : recs) {
            metrics.queued(lastPollMs - r.timestamp()); // time from produce to our poll (Kafka side)
        }
        List<Work> batch = new ArrayList<>();
        Map<TopicPartition, Long> retryFrom = new HashMap<>();
        Set<String> batchIds = new HashSet<>();
        for (TopicPartition tp : recs.partitions()) {
            for (ConsumerRecord<byte[], byte[]> r : recs.records(tp)) {
                Work w = new Work(r);
                if (!classify(w, batchIds)) {
                    // Not decodable now (registry unreachable): re-read it and the rest of this partition later.
                    retryFrom.put(tp, r.offset());
                    break;
                }
                batch.add(w);
            }
        }
        InterruptedException interrupted = null;
        try {
            apply(batch);
        } catch (InterruptedException e) {
            interrupted = e; // shutting down: report what is known, the rest is redelivered
        }
        int n = report(batch);
        if (n > 0 && System.nanoTime() - t0 > 500_000_000L) {
            log.info("slow batch: {} decisions took {} ms", n, (System.nanoTime() - t0) / 1_000_000);
        }
        // Commit per partition up to the first record without a result; re-read from there.
        Map<TopicPartition, OffsetAndMetadata> commit = new HashMap<>();
        Map<TopicPartition, Long> firstOpen = new HashMap<>();
        for (Work w : batch) {
            TopicPartition tp = new TopicPartition(w.rec.topic(), w.rec.partition());
            if (firstOpen.containsKey(tp)) {
                continue;
            }
            if (w.done()) {
                commit.put(tp, new OffsetAndMetadata(w.rec.offset() + 1));
            } else {
                firstOpen.put(tp, w.rec.offset());
            }
        }
        firstOpen.forEach((tp, off) -> retryFrom.merge(tp, off, Math::min));
        pendingCommit.putAll(commit);
        retryFrom.forEach(consumer::seek);
        if (interrupted != null) {
            finishPending(true);
            throw interrupted;
        }
        finishPending(false);
        liftDueBans();
        return n;
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
    private boolean classify(Work w, Set<String> batchIds) throws InterruptedException {
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
        if (applied.contains(w.id) || !batchIds.add(w.id)) {
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

    /** Applies the batch's pending decisions: serially per target, up to sink.parallelism targets at once. */
    private void apply(List<Work> batch) throws InterruptedException {
        Map<String, List<Work>> byTarget = new LinkedHashMap<>();
        for (Work w : batch) {
            if (!w.done() && w.requests != null) {
                byTarget.computeIfAbsent(targetKey(w.decision), k -> new ArrayList<>()).add(w);
            }
        }
        if (byTarget.isEmpty()) {
            return;
        }
        if (byTarget.size() == 1 || pool == null) {
            for (List<Work> group : byTarget.values()) {
                applyGroup(group);
            }
            return;
        }
        List<Future<?>> futures = new ArrayList<>();
        for (List<Work> group : byTarget.values()) {
            futures.add(pool.submit(() -> {
                applyGroup(group);
                return null;
            }));
        }
        InterruptedException interrupted = null;
        for (Future<?> f : futures) {
            try {
                f.get();
            } catch (ExecutionException e) {
                if (e.getCause() instanceof InterruptedException ie) {
                    interrupted = ie;
                } else {
                    throw new IllegalStateException("applying decisions failed: " + e.getCause(), e.getCause());
                }
            }
        }
        if (interrupted != null) {
            throw interrupted;
        }
    }

    private void applyGroup(List<Work> group) throws InterruptedException {
        for (Work w : group) {
            Outcome o = executor.execute(w.decision.getHost().toString(), w.requests, w.expiresAt, () -> !running);
            w.outcomeAtMs = clock.millis();
            w.outcome = o;
        }
    }

    /**
     * Produces the results and dead letters of the batch (in record order), waits until Kafka has
     * acknowledged all of them, and only then counts the decisions as handled.
     */
    private int report(List<Work> batch) {
        int n = 0;
        for (Work w : batch) {
            ProducerRecord<byte[], byte[]> rec;
            if (w.dlqReason != null) {
                rec = deadLetter(w.rec, w.dlqReason);
            } else if (w.outcome != null) {
                if (w.outcome.status() == ResultStatus.APPLIED) {
                    trackBan(w.decision, w.id);
                }
                rec = resultRecord(w.decision, w.id, w.outcome, w.outcomeAtMs);
            } else {
                continue;
            }
            pendingRecords.add(rec);
            pendingAcks.add(sendQuietly(rec));
            n++;
        }
        return n;
    }

    /**
     * Commits the offsets of the decisions whose results (and dead letters) Kafka has acknowledged.
     * Not blocking: while acknowledgements are outstanding nothing is committed and the next poll
     * goes on (so a slow broker acknowledgement does not delay the next mitigation); blocking: waits
     * for them (shutdown, partitions revoked). A failed send is retried until acknowledged before its
     * offset is committed.
     */
    void finishPending(boolean block) throws InterruptedException {
        if (pendingAcks.isEmpty() && pendingCommit.isEmpty()) {
            return;
        }
        if (!block) {
            for (Future<RecordMetadata> f : pendingAcks) {
                if (!f.isDone()) {
                    return;
                }
            }
        } else {
            producer.flush();
        }
        for (int i = 0; i < pendingAcks.size(); i++) {
            try {
                pendingAcks.get(i).get();
            } catch (ExecutionException e) {
                produceDurably(pendingRecords.get(i)); // retried until acknowledged (or the sink stops)
            }
        }
        pendingAcks.clear();
        pendingRecords.clear();
        Map<TopicPartition, OffsetAndMetadata> c = new HashMap<>(pendingCommit);
        pendingCommit.clear();
        commitSync(c);
    }

    private Future<RecordMetadata> sendQuietly(ProducerRecord<byte[], byte[]> rec) {
        try {
            return producer.send(rec);
        } catch (RuntimeException e) {
            CompletableFuture<RecordMetadata> f = new CompletableFuture<>();
            f.completeExceptionally(e);
            return f;
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
