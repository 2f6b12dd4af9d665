package io.magicwand.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.magicwand.avro.MitigationDecision;
import io.magicwand.avro.MitigationResult;
import io.magicwand.avro.ResultStatus;
import io.magicwand.netflow.FeatureNames;
import io.magicwand.netflow.FeatureRequest;
import io.magicwand.serde.AvroSerde;
import io.magicwand.serde.AvroSerdes;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.MockConsumer;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The consume-apply-report loop with Kafka's mock clients (the real-broker version is
 * {@code MitigationSinkIT}) and a real loopback NetFlow server: idempotency, TTL, dead letters,
 * invalid decisions, ban expiry, offsets committed after the result.
 */
class MitigationSinkTest {
    private static final String TOPIC = "mw.mitigation-decisions";
    private static final TopicPartition TP = new TopicPartition(TOPIC, 0);

    private final String scope = "mock://sink-" + UUID.randomUUID();
    private ScriptedNetflowServer server;
    private NetflowTargets targets;
    private MockConsumer<byte[], byte[]> consumer;
    private MockProducer<byte[], byte[]> producer;
    private AvroSerde<MitigationDecision> decisionSerde;
    private AvroSerde<MitigationResult> resultSerde;
    private SinkMetrics metrics;
    private MitigationSink sink;
    private long nextOffset;

    @TempDir
    Path tmp;

    @BeforeEach
    void setUp() throws Exception {
        server = new ScriptedNetflowServer(ScriptedNetflowServer.OK);
        decisionSerde = AvroSerdes.specific(MitigationDecision.class, Map.of("schema.registry.url", scope), false);
        resultSerde = AvroSerdes.specific(MitigationResult.class, Map.of("schema.registry.url", scope), false);
    }

    private void start(Map<String, String> extra) {
        start(extra, true);
    }

    private void start(Map<String, String> extra, boolean autoComplete) {
        Map<String, String> p = new HashMap<>();
        p.put("netflow.targets", "host1=" + server.address());
        p.put("netflow.request.timeout.ms", "500");
        p.put("netflow.max.retries", "1");
        p.put("netflow.unavailable.max.ms", "2000");
        p.put("schema.registry.url", scope);
        p.put("sink.batch.wait.ms", "10000"); // each poll waits for its decisions: deterministic tests
        p.putAll(extra);
        SinkConfig cfg = SinkConfig.of(p);
        targets = new NetflowTargets(cfg);
        metrics = new SinkMetrics();
        consumer = new MockConsumer<>("earliest");
        producer = new MockProducer<>(autoComplete, null, new ByteArraySerializer(), new ByteArraySerializer());
        sink = new MitigationSink(cfg, consumer, producer, decisionSerde.deserializer(), resultSerde.serializer(),
                new RequestExecutor(targets, cfg, Clock.systemUTC(), metrics), new AppliedIds(1000),
                new BanScheduler(cfg.stateDir()), Clock.systemUTC(), metrics);
        consumer.subscribe(List.of(TOPIC));
        consumer.rebalance(List.of(TP));
        consumer.updateBeginningOffsets(Map.of(TP, 0L));
    }

    @AfterEach
    void tearDown() throws Exception {
        if (targets != null) {
            targets.close();
        }
        server.close();
        decisionSerde.close();
        resultSerde.close();
    }

    private void add(byte[] value) {
        consumer.addRecord(new ConsumerRecord<>(TOPIC, 0, nextOffset++, "k".getBytes(StandardCharsets.UTF_8), value));
    }

    private void add(MitigationDecision d) {
        add(decisionSerde.serializer().serialize(TOPIC, d));
    }

    private List<MitigationResult> results() {
        return producer.history().stream().filter(r -> r.topic().equals("mw.mitigation-results"))
                .map(r -> resultSerde.deserializer().deserialize(r.topic(), r.value())).collect(Collectors.toList());
    }

    private List<ProducerRecord<byte[], byte[]>> dlq() {
        return producer.history().stream().filter(r -> r.topic().equals("mw.mitigation-decisions.dlq"))
                .collect(Collectors.toList());
    }

    private long committed() {
        var m = consumer.committed(Set.of(TP));
        return m.get(TP) == null ? -1 : m.get(TP).offset();
    }

    private static String header(ProducerRecord<byte[], byte[]> r, String name) {
        Header h = r.headers().lastHeader(name);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    @Test
    void appliedDecisionIsReportedAndCommitted() throws Exception {
        start(Map.of());
        add(Decisions.close("d1", 42));
        assertEquals(1, sink.pollOnce());
        List<MitigationResult> rs = results();
        assertEquals(1, rs.size());
        MitigationResult r = rs.get(0);
        assertEquals("d1", r.getDecisionId().toString());
        assertEquals(ResultStatus.APPLIED, r.getStatus());
        assertEquals("CLOSE", r.getAction().toString());
        assertEquals("host1", r.getHost().toString());
        assertTrue(r.getLatencyMs() >= 0);
        assertEquals("d1", new String(producer.history().get(0).key(), StandardCharsets.UTF_8), "result key = decision id");
        assertEquals(1, committed());
        FeatureRequest seen = server.requests().get(0);
        assertEquals(FeatureNames.IS_OPEN, seen.name());
        assertEquals(42, seen.identSocket());
        assertEquals(1, metrics.resultCount(ResultStatus.APPLIED));
        assertEquals(1, metrics.latencyCount());
    }

    @Test
    void redeliveredDecisionIsNotAppliedTwice() throws Exception {
        start(Map.of());
        MitigationDecision d = Decisions.block("dup", "127.0.0.5", 0);
        add(d);
        add(d);
        assertEquals(2, sink.pollOnce());
        assertEquals(1, server.requests().size(), "applied once");
        List<ResultStatus> rs = results().stream().map(MitigationResult::getStatus).sorted().collect(Collectors.toList());
        assertEquals(List.of(ResultStatus.APPLIED, ResultStatus.SKIPPED_DUPLICATE), rs);
        assertEquals(2, committed());
    }

    @Test
    void expiredDecisionIsSkippedWithoutARequest() throws Exception {
        start(Map.of());
        add(Decisions.base("old", io.magicwand.avro.Action.CLOSE, io.magicwand.avro.TargetKind.SOCKET).setSocketId(1L)
                .setCreatedAtMs(System.currentTimeMillis() - 10_000).setTtlMs(1000).build());
        // ttl 0 = no expiry, even when old
        add(Decisions.base("ancient", io.magicwand.avro.Action.CLOSE, io.magicwand.avro.TargetKind.SOCKET).setSocketId(2L)
                .setCreatedAtMs(System.currentTimeMillis() - 3_600_000).setTtlMs(0).build());
        sink.pollOnce();
        List<MitigationResult> rs = results();
        assertEquals(ResultStatus.SKIPPED_EXPIRED, rs.get(0).getStatus());
        assertTrue(rs.get(0).getMessage().toString().contains("expired"), rs.get(0).getMessage().toString());
        assertEquals(ResultStatus.APPLIED, rs.get(1).getStatus());
        assertEquals(1, server.requests().size());
        assertEquals(2, server.requests().get(0).identSocket());
    }

    @Test
    void poisonPillGoesToTheDeadLetterTopicAndTheNextDecisionIsApplied() throws Exception {
        start(Map.of());
        add("not avro at all".getBytes(StandardCharsets.UTF_8));
        add(new byte[] {0, 0, 0, 0x7f, 0x7f, 1, 2}); // wire format, unknown schema id
        add((byte[]) null); // tombstone
        add(Decisions.close("after", 7));
        assertEquals(4, sink.pollOnce());
        List<ProducerRecord<byte[], byte[]>> dead = dlq();
        assertEquals(3, dead.size());
        assertEquals("not avro at all", new String(dead.get(0).value(), StandardCharsets.UTF_8), "raw bytes kept");
        assertTrue(header(dead.get(0), MitigationSink.H_REASON).contains("magic byte"), header(dead.get(0), MitigationSink.H_REASON));
        assertEquals(TOPIC, header(dead.get(0), MitigationSink.H_TOPIC));
        assertEquals("0", header(dead.get(0), MitigationSink.H_PARTITION));
        assertEquals("0", header(dead.get(0), MitigationSink.H_OFFSET));
        assertTrue(header(dead.get(1), MitigationSink.H_REASON).contains("schema id"), header(dead.get(1), MitigationSink.H_REASON));
        assertEquals("1", header(dead.get(1), MitigationSink.H_OFFSET));
        assertTrue(header(dead.get(2), MitigationSink.H_REASON).contains("tombstone"));
        List<MitigationResult> rs = results();
        assertEquals(1, rs.size());
        assertEquals("after", rs.get(0).getDecisionId().toString());
        assertEquals(ResultStatus.APPLIED, rs.get(0).getStatus());
        assertEquals(4, committed());
        assertEquals(3, metrics.dlqCount());
        assertEquals(4, metrics.receivedCount());
    }

    @Test
    void invalidDecisionFailsWithEinvalAndNoRequest() throws Exception {
        start(Map.of());
        add(Decisions.block("bad", "not-an-ip", 0));
        sink.pollOnce();
        MitigationResult r = results().get(0);
        assertEquals(ResultStatus.FAILED, r.getStatus());
        assertEquals(22, r.getErrno());
        assertTrue(r.getMessage().toString().contains("not-an-ip"));
        assertEquals(0, server.requests().size());
    }

    @Test
    void refusedDecisionReportsTheErrno() throws Exception {
        server.script(r -> io.magicwand.netflow.FeatureResponse.error(r.id(), 2));
        start(Map.of());
        add(Decisions.close("gone", 99));
        sink.pollOnce();
        MitigationResult r = results().get(0);
        assertEquals(ResultStatus.FAILED, r.getStatus());
        assertEquals(2, r.getErrno());
        assertTrue(r.getMessage().toString().contains("ENOENT"), r.getMessage().toString());
    }

    @Test
    void banEndsWithAnUnblockSentByTheSink() throws Exception {
        start(Map.of("sink.state.dir", tmp.toString()));
        add(Decisions.block("ban1", "127.0.0.77", 300));
        sink.pollOnce();
        assertEquals(1, server.requests().size());
        assertEquals(1, server.requests().get(0).valU32());
        assertTrue(java.nio.file.Files.readString(tmp.resolve("pending-unblocks.tsv")).contains("127.0.0.77"),
                "pending unblock persisted");
        Thread.sleep(400);
        sink.pollOnce();
        assertEquals(2, server.requests().size());
        FeatureRequest un = server.requests().get(1);
        assertEquals(FeatureNames.ADDRESS_BLOCK, un.name());
        assertEquals(0, un.valU32());
        assertEquals("127.0.0.77", un.identAddress().getHostAddress());
        MitigationResult r = results().get(1);
        assertEquals("ban1" + MitigationSink.UNBLOCK_SUFFIX, r.getDecisionId().toString());
        assertEquals("UNBLOCK", r.getAction().toString());
        assertEquals(ResultStatus.APPLIED, r.getStatus());
        assertEquals("", java.nio.file.Files.readString(tmp.resolve("pending-unblocks.tsv")));
        sink.pollOnce();
        assertEquals(2, server.requests().size(), "unblocked once");
    }

    @Test
    void noUnblockWhenTheDetectorLiftsBansItself() throws Exception {
        start(Map.of("sink.unblock.on.expiry", "false"));
        add(Decisions.block("ban2", "127.0.0.78", 100));
        sink.pollOnce();
        Thread.sleep(200);
        sink.pollOnce();
        assertEquals(1, server.requests().size());
    }

    @Test
    void explicitUnblockCancelsThePendingOne() throws Exception {
        start(Map.of());
        add(Decisions.block("ban3", "127.0.0.79", 300));
        add(Decisions.unblock("un3", "127.0.0.79"));
        sink.pollOnce();
        Thread.sleep(400);
        sink.pollOnce();
        assertEquals(2, server.requests().size(), "block + explicit unblock, no timer unblock");
    }

    @Test
    void differentTargetsAreAppliedConcurrentlySameTargetInOrder() throws Exception {
        // A slow mwcomms that works on requests concurrently: each answer comes 400 ms later.
        server.script(r -> {
            server.answerLater(io.magicwand.netflow.FeatureResponse.ok(r.id(), r.val()), 400);
            return null;
        });
        start(Map.of("sink.parallelism", "8", "netflow.request.timeout.ms", "3000"));
        for (int i = 1; i <= 6; i++) {
            add(Decisions.close("par" + i, 100 + i));
        }
        add(Decisions.block("b-then-u-1", "127.0.0.90", 0));
        add(Decisions.unblock("b-then-u-2", "127.0.0.90"));
        long t0 = System.nanoTime();
        assertEquals(8, sink.pollOnce());
        long ms = (System.nanoTime() - t0) / 1_000_000;
        // 8 requests of 400 ms each: serially 3.2 s; 7 targets in parallel, the address's two in order.
        assertTrue(ms < 2500, "took " + ms + " ms");
        List<FeatureRequest> seen = server.requests();
        assertEquals(8, seen.size());
        int block = -1;
        int unblock = -1;
        for (int i = 0; i < seen.size(); i++) {
            if (seen.get(i).name() == FeatureNames.ADDRESS_BLOCK) {
                if (seen.get(i).valU32() == 1) {
                    block = i;
                } else {
                    unblock = i;
                }
            }
        }
        assertTrue(block >= 0 && unblock > block, "BLOCK before UNBLOCK of the same address");
        List<MitigationResult> rs = results();
        List<String> ids = rs.stream().map(r -> r.getDecisionId().toString()).collect(Collectors.toList());
        assertEquals(List.of("b-then-u-1", "b-then-u-2", "par1", "par2", "par3", "par4", "par5", "par6"),
                ids.stream().sorted().collect(Collectors.toList()));
        assertTrue(ids.indexOf("b-then-u-1") < ids.indexOf("b-then-u-2"), "same target: results in order");
        assertTrue(rs.stream().allMatch(r -> r.getStatus() == ResultStatus.APPLIED));
        assertEquals(8, committed());
    }

    @Test
    void offsetsAreCommittedOnlyOnceTheResultsAreAcknowledged() throws Exception {
        start(Map.of("sink.parallelism", "1"), false); // results sent in record order
        add(Decisions.close("ack1", 1));
        add(Decisions.close("ack2", 2));
        assertEquals(2, sink.pollOnce());
        assertEquals(2, server.requests().size(), "applied without waiting for acknowledgements");
        assertEquals(-1, committed(), "results not acknowledged yet: nothing committed");
        assertTrue(producer.completeNext());
        sink.pollOnce();
        assertEquals(1, committed(), "the first result is acknowledged, the second not yet");
        // the second send fails: it is produced again and only then committed
        assertTrue(producer.errorNext(new org.apache.kafka.common.errors.TimeoutException("broker slow")));
        Thread t = new Thread(() -> {
            try {
                while (producer.history().size() < 3) {
                    Thread.sleep(10);
                }
                producer.completeNext();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        t.start();
        sink.pollOnce();
        t.join(5000);
        assertEquals(2, committed());
        assertEquals(3, producer.history().size(), "the failed result was sent again");
    }

    @Test
    void aSlowTargetDoesNotDelayLaterDecisionsOnOtherTargets() throws Exception {
        // mwcomms answers about socket 1 after 1.5 s, everything else at once
        server.script(r -> {
            if (r.isBySocket() && r.identSocket() == 1) {
                server.answerLater(io.magicwand.netflow.FeatureResponse.ok(r.id(), r.val()), 1500);
                return null;
            }
            return io.magicwand.netflow.FeatureResponse.ok(r.id(), r.val());
        });
        start(Map.of("sink.batch.wait.ms", "100", "netflow.request.timeout.ms", "5000"));
        add(Decisions.close("slow", 1));
        sink.pollOnce();
        add(Decisions.block("fast", "127.0.0.66", 0));
        long t0 = System.nanoTime();
        sink.pollOnce();
        assertTrue((System.nanoTime() - t0) / 1_000_000 < 1000, "the poll did not wait for the slow socket");
        List<MitigationResult> rs = results();
        assertEquals(1, rs.size());
        assertEquals("fast", rs.get(0).getDecisionId().toString(), "the BLOCK is applied while the CLOSE still waits");
        assertEquals(-1, committed(), "nothing committed past the unfinished first record");
        long end = System.currentTimeMillis() + 5000;
        while (results().size() < 2 && System.currentTimeMillis() < end) {
            sink.pollOnce();
        }
        sink.pollOnce();
        assertEquals(2, results().size());
        assertEquals(2, committed(), "both committed once the slow one is reported");
    }

    @Test
    void sameIdTwiceInOneBatchIsAppliedOnce() throws Exception {
        start(Map.of());
        add(Decisions.close("twice", 5));
        add(Decisions.close("twice", 5));
        sink.pollOnce();
        assertEquals(1, server.requests().size());
        assertEquals(List.of(ResultStatus.APPLIED, ResultStatus.SKIPPED_DUPLICATE),
                results().stream().map(MitigationResult::getStatus).sorted().collect(Collectors.toList()));
    }

    @Test
    void pendingUnblocksSurviveARestart() throws Exception {
        BanScheduler a = new BanScheduler(tmp);
        a.schedule("h", "127.0.0.1", 1000, "x");
        a.schedule("h", "127.0.0.1", 500, "y"); // earlier end does not shorten the ban
        a.schedule("h", "::1", 2000, "z");
        BanScheduler b = new BanScheduler(tmp);
        assertEquals(2, b.size());
        assertEquals(List.of(new BanScheduler.Ban("h", "127.0.0.1", 1000, "x")), b.due(1500));
        b.done(b.due(1500).get(0));
        assertEquals(1, new BanScheduler(tmp).size());
        assertNotNull(new BanScheduler(null)); // in-memory only works too
    }
}
