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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
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
    }

    @Override
    public void run() {
        try {
            consumer.subscribe(List.of(cfg.decisionsTopic()));
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
            stopped.countDown();
        }
    }

    /** One poll: handle the records, commit, lift due bans. Returns the number of records handled. */
    int pollOnce() throws InterruptedException {
        ConsumerRecords<byte[], byte[]> recs = consumer.poll(Duration.ofMillis(cfg.pollTimeoutMs()));
        lastPollMs = clock.millis();
        int n = 0;
        Map<TopicPartition, OffsetAndMetadata> commit = new HashMap<>();
        for (TopicPartition tp : recs.partitions()) {
            for (ConsumerRecord<byte[], byte[]> r : recs.records(tp)) {
                if (!running) {
                    consumer.seek(tp, r.offset());
                    break;
                }
                boolean done;
                try {
                    done = handle(r);
                } catch (InterruptedException e) {
                    consumer.seek(tp, r.offset()); // shutting down mid-decision: it is redelivered next time
                    commitSync(commit);
                    throw e;
                }
                if (!done) {
                    // Not handled now (registry unreachable): re-read it and the rest of this partition later.
                    consumer.seek(tp, r.offset());
                    break;
                }
                commit.put(tp, new OffsetAndMetadata(r.offset() + 1));
                n++;
            }
        }
        commitSync(commit);
        liftDueBans();
        return n;
    }

    private void commitSync(Map<TopicPartition, OffsetAndMetadata> commit) {
        if (!commit.isEmpty()) {
            consumer.commitSync(commit);
            commit.clear();
        }
    }

    /** Handles one record; false when it must be retried later (nothing was reported for it). */
    boolean handle(ConsumerRecord<byte[], byte[]> r) throws InterruptedException {
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
            deadLetter(r, e.getMessage() != null ? e.getMessage() : e.toString());
            return true;
        }
        String id = d.getDecisionId() == null ? "" : d.getDecisionId().toString();
        if (id.isBlank()) {
            deadLetter(r, "decision has an empty decision_id (results and idempotency are keyed by it)");
            return true;
        }
        long now = clock.millis();
        if (applied.contains(id)) {
            publish(d, id, new Outcome(ResultStatus.SKIPPED_DUPLICATE, 0,
                    "decision " + id + " was already handled (redelivery); not applied again", 0), now);
            return true;
        }
        long ttl = d.getTtlMs();
        long expiresAt = ttl > 0 ? d.getCreatedAtMs() + ttl : Long.MAX_VALUE;
        if (now > expiresAt) {
            publish(d, id, Outcome.expired("expired " + (now - expiresAt) + " ms before it could be applied (created_at_ms "
                    + d.getCreatedAtMs() + ", ttl_ms " + ttl + ")", 0), now);
            return true;
        }
        List<FeatureRequest> reqs;
        try {
            reqs = DecisionMapper.map(d);
        } catch (InvalidDecisionException e) {
            publish(d, id, Outcome.failed(Errno.EINVAL, "invalid decision: " + e.getMessage(), 0), now);
            return true;
        }
        Outcome o = executor.execute(d.getHost().toString(), reqs, expiresAt, () -> !running);
        if (o.status() == ResultStatus.APPLIED) {
            trackBan(d, id);
        }
        publish(d, id, o, clock.millis());
        return true;
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

    private void publish(MitigationDecision d, String id, Outcome o, long now) throws InterruptedException {
        long latency = Math.max(0, now - d.getCreatedAtMs());
        MitigationResult res = MitigationResult.newBuilder().setDecisionId(id).setHost(d.getHost())
                .setInsId(d.getInsId()).setAction(d.getAction().name()).setStatus(o.status()).setErrno(o.errno())
                .setMessage(o.message()).setAppliedAtMs(now).setLatencyMs(latency).build();
        byte[] value = results.serialize(cfg.resultsTopic(), res);
        produceDurably(new ProducerRecord<>(cfg.resultsTopic(), null, id.getBytes(StandardCharsets.UTF_8), value));
        if (o.status() != ResultStatus.SKIPPED_DUPLICATE) {
            applied.add(id);
        }
        metrics.result(o.status(), latency);
        if (o.status() == ResultStatus.APPLIED) {
            log.info("decision {} {} on {} applied in {} ms: {}", id, d.getAction(), d.getHost(), latency, o.message());
        } else {
            log.warn("decision {} {} on {}: {} {}", id, d.getAction(), d.getHost(), o.status(), o.message());
        }
    }

    private void deadLetter(ConsumerRecord<byte[], byte[]> r, String reason) throws InterruptedException {
        RecordHeaders h = new RecordHeaders();
        for (Header x : r.headers()) {
            h.add(x);
        }
        h.add(H_REASON, reason.getBytes(StandardCharsets.UTF_8));
        h.add(H_TOPIC, r.topic().getBytes(StandardCharsets.UTF_8));
        h.add(H_PARTITION, Integer.toString(r.partition()).getBytes(StandardCharsets.UTF_8));
        h.add(H_OFFSET, Long.toString(r.offset()).getBytes(StandardCharsets.UTF_8));
        h.add(H_TIMESTAMP, Long.toString(clock.millis()).getBytes(StandardCharsets.UTF_8));
        produceDurably(new ProducerRecord<>(cfg.dlqTopic(), null, r.key(), r.value(), h));
        metrics.dlq();
        log.warn("decision record {}-{}@{} sent to {}: {}", r.topic(), r.partition(), r.offset(), cfg.dlqTopic(), reason);
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
