package io.magicwand.sink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.magicwand.avro.Action;
import io.magicwand.avro.MitigationDecision;
import io.magicwand.avro.MitigationResult;
import io.magicwand.avro.ResultStatus;
import io.magicwand.avro.TargetKind;
import io.magicwand.netflow.FeatureNames;
import io.magicwand.netflow.FeatureRequest;
import io.magicwand.netflow.FeatureResponse;
import io.magicwand.netflow.NetflowCodec;
import io.magicwand.serde.AvroSerde;
import io.magicwand.serde.AvroSerdes;
import io.magicwand.testkit.EmbeddedKafkaBroker;
import io.magicwand.testkit.TestRegistry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The sink end to end against real peers: an in-process KRaft broker, the real schema registry
 * (TestRegistry), and a scripted loopback NetFlow server. Each test uses its own topics.
 */
class MitigationSinkIT {
    private static EmbeddedKafkaBroker broker;
    private static String registry;

    private ScriptedNetflowServer server;
    private AvroSerde<MitigationDecision> dserde;
    private AvroSerde<MitigationResult> rserde;
    private KafkaProducer<byte[], byte[]> producer;
    private final List<SinkService> services = new ArrayList<>();
    private String decisions;
    private String results;
    private String dlq;

    @BeforeAll
    static void startBroker() {
        registry = TestRegistry.url();
        broker = new EmbeddedKafkaBroker().start();
    }

    @AfterAll
    static void stopBroker() {
        if (broker != null) {
            broker.close();
        }
    }

    @BeforeEach
    void setUp() throws Exception {
        String run = UUID.randomUUID().toString().substring(0, 8);
        decisions = "it-decisions-" + run;
        results = "it-results-" + run;
        dlq = decisions + ".dlq";
        server = new ScriptedNetflowServer(ScriptedNetflowServer.OK);
        Map<String, Object> serdeCfg = Map.of("schema.registry.url", registry);
        dserde = AvroSerdes.specific(MitigationDecision.class, serdeCfg, false);
        rserde = AvroSerdes.specific(MitigationResult.class, serdeCfg, false);
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        producer = new KafkaProducer<>(p);
    }

    @AfterEach
    void tearDown() throws Exception {
        services.forEach(SinkService::close);
        producer.close();
        dserde.close();
        rserde.close();
        server.close();
    }

    private SinkService startSink(String group, Map<String, String> extra) throws Exception {
        Map<String, String> m = new HashMap<>();
        m.put(SinkConfig.BOOTSTRAP, broker.bootstrapServers());
        m.put(SinkConfig.REGISTRY, registry);
        m.put("group.id", group);
        m.put("topic.decisions", decisions);
        m.put("topic.results", results);
        m.put("topic.dlq", dlq);
        m.put("netflow.targets", "host1=" + server.address());
        m.put("netflow.request.timeout.ms", "1000");
        m.put("netflow.max.retries", "2");
        m.put("netflow.reconnect.backoff.ms", "50");
        m.put("netflow.reconnect.backoff.max.ms", "500");
        m.put("netflow.unavailable.max.ms", "20000");
        m.put("ops.port", "0");
        m.putAll(extra);
        SinkService s = SinkService.start(SinkConfig.of(m));
        services.add(s);
        return s;
    }

    private void send(MitigationDecision d) throws Exception {
        producer.send(new ProducerRecord<>(decisions, d.getDecisionId().toString().getBytes(StandardCharsets.UTF_8),
                dserde.serializer().serialize(decisions, d))).get();
    }

    private void sendRaw(byte[] value) throws Exception {
        producer.send(new ProducerRecord<>(decisions, "poison".getBytes(StandardCharsets.UTF_8), value)).get();
    }

    /** Reads topic from the start until {@code done} holds for what was read (or the timeout). */
    private List<ConsumerRecord<byte[], byte[]>> readUntil(String topic, Predicate<List<ConsumerRecord<byte[], byte[]>>> done,
                                                           Duration timeout) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "it-reader-" + UUID.randomUUID());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        long end = System.currentTimeMillis() + timeout.toMillis();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
            c.subscribe(List.of(topic));
            while (!done.test(out) && System.currentTimeMillis() < end) {
                c.poll(Duration.ofMillis(200)).forEach(out::add);
            }
        }
        return out;
    }

    private List<MitigationResult> awaitResults(int n) {
        List<MitigationResult> rs = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : readUntil(results, l -> l.size() >= n, Duration.ofSeconds(60))) {
            MitigationResult m = rserde.deserializer().deserialize(results, r.value());
            assertEquals(m.getDecisionId().toString(), new String(r.key(), StandardCharsets.UTF_8), "result key = decision id");
            rs.add(m);
        }
        assertTrue(rs.size() >= n, "expected " + n + " results, got " + rs);
        return rs;
    }

    private static String z(int n) {
        return "00".repeat(n);
    }

    /** The request bytes after the base header (flags, name, val, ident): what the sink chose, not the id. */
    private static String body(byte[] raw) {
        return HexFormat.of().formatHex(Arrays.copyOfRange(raw, 6, raw.length));
    }

    @Test
    void decisionsBecomeByteExactRequestsAndResults() throws Exception {
        SinkService svc = startSink("g-" + UUID.randomUUID(), Map.of());
        send(Decisions.close("it-close", 17));
        send(Decisions.block("it-block", "127.0.0.9", 0));
        send(Decisions.setAttr("it-rcvtimeo", 3, FeatureNames.RCVTIMEO, 1500));
        send(Decisions.base("it-spawn", Action.INS_SPAWN, TargetKind.INS).setCount(2).build());
        List<MitigationResult> rs = awaitResults(4);
        // Different targets are applied concurrently: results (and requests) in any order.
        assertEquals(List.of("it-block", "it-close", "it-rcvtimeo", "it-spawn"),
                rs.stream().map(r -> r.getDecisionId().toString()).sorted().toList());
        rs.forEach(r -> assertEquals(ResultStatus.APPLIED, r.getStatus(), r.getMessage().toString()));
        List<byte[]> raw = server.rawRequests();
        assertEquals(4, raw.size());
        for (byte[] b : raw) {
            assertEquals("d320", HexFormat.of().formatHex(b, 0, 2));
            assertTrue(((FeatureRequest) NetflowCodec.decode(b)).id() != 0);
        }
        assertEquals(List.of(
                        "0001" + "1103" + "00000001" + z(12) + "00000004" + "7f000009" + z(12),
                        "0001" + "2003" + "00000002" + z(12) + z(20),
                        "0003" + "0101" + z(16) + "0000000000000011" + z(12),
                        "0003" + "010c" + "0000000000000001" + "000000000007a120" + "0000000000000003" + z(12)),
                raw.stream().map(MitigationSinkIT::body).sorted().toList());

        HttpClient http = HttpClient.newHttpClient();
        HttpResponse<String> health = http.send(HttpRequest.newBuilder(URI.create(svc.opsUrl() + "/health")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, health.statusCode(), health.body());
        String metrics = http.send(HttpRequest.newBuilder(URI.create(svc.opsUrl() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        assertTrue(metrics.contains("mw_sink_results_total{status=\"applied\"} 4"), metrics);
        assertTrue(metrics.contains("mw_sink_decisions_received_total 4"), metrics);
        assertTrue(metrics.contains("mw_sink_decision_latency_seconds_count 4"), metrics);
    }

    @Test
    void redeliveredDecisionIsNotAppliedTwiceAcrossARestart() throws Exception {
        SinkService first = startSink("g-first-" + UUID.randomUUID(), Map.of());
        send(Decisions.block("it-once", "127.0.0.10", 0));
        assertEquals(ResultStatus.APPLIED, awaitResults(1).get(0).getStatus());
        first.close();
        // A new consumer group re-reads the decision from the start: the same decision delivered again.
        startSink("g-second-" + UUID.randomUUID(), Map.of());
        List<MitigationResult> rs = awaitResults(2);
        assertEquals(ResultStatus.SKIPPED_DUPLICATE, rs.get(1).getStatus());
        assertEquals("it-once", rs.get(1).getDecisionId().toString());
        assertEquals(1, server.requests().size(), "the block was sent once");
    }

    @Test
    void expiredDecisionIsSkipped() throws Exception {
        startSink("g-" + UUID.randomUUID(), Map.of());
        send(Decisions.base("it-old", Action.CLOSE, TargetKind.SOCKET).setSocketId(5L)
                .setCreatedAtMs(System.currentTimeMillis() - 60_000).setTtlMs(1000).build());
        send(Decisions.close("it-fresh", 6));
        List<MitigationResult> rs = awaitResults(2);
        assertEquals(ResultStatus.SKIPPED_EXPIRED, rs.get(0).getStatus());
        assertEquals(ResultStatus.APPLIED, rs.get(1).getStatus());
        assertEquals(1, server.requests().size());
        assertEquals(6, server.requests().get(0).identSocket());
    }

    @Test
    void poisonPillGoesToTheDeadLetterTopicAndTheNextDecisionIsApplied() throws Exception {
        startSink("g-" + UUID.randomUUID(), Map.of());
        byte[] garbage = "{\"action\":\"CLOSE\"}".getBytes(StandardCharsets.UTF_8);
        sendRaw(garbage);
        send(Decisions.close("it-after-pill", 8));
        List<MitigationResult> rs = awaitResults(1);
        assertEquals("it-after-pill", rs.get(0).getDecisionId().toString());
        assertEquals(ResultStatus.APPLIED, rs.get(0).getStatus());
        List<ConsumerRecord<byte[], byte[]>> dead = readUntil(dlq, l -> !l.isEmpty(), Duration.ofSeconds(30));
        assertEquals(1, dead.size());
        assertArrayEquals(garbage, dead.get(0).value(), "the raw record is kept");
        String reason = new String(dead.get(0).headers().lastHeader(MitigationSink.H_REASON).value(), StandardCharsets.UTF_8);
        assertTrue(reason.contains("magic byte"), reason);
        assertEquals(decisions, new String(dead.get(0).headers().lastHeader(MitigationSink.H_TOPIC).value(),
                StandardCharsets.UTF_8));
        assertEquals("0", new String(dead.get(0).headers().lastHeader(MitigationSink.H_OFFSET).value(),
                StandardCharsets.UTF_8));
    }

    @Test
    void mwcommsKilledAndRestartedThePendingDecisionIsRetriedAndApplied() throws Exception {
        AtomicInteger seen = new AtomicInteger();
        server.script(r -> seen.incrementAndGet() == 1 ? null : FeatureResponse.ok(r.id(), r.val()));
        startSink("g-" + UUID.randomUUID(), Map.of("netflow.request.timeout.ms", "10000"));
        send(Decisions.block("it-pending", "127.0.0.11", 0));
        assertTrue(server.awaitRequests(1, 30_000), "first request reached mwcomms");
        server.stop(); // mwcomms dies while the request is pending
        Thread.sleep(1500); // the sink keeps trying to reconnect meanwhile
        server.restart();
        List<MitigationResult> rs = awaitResults(1);
        assertEquals(ResultStatus.APPLIED, rs.get(0).getStatus(), rs.get(0).getMessage().toString());
        assertEquals(2, server.requests().size(), "the request was sent again after the reconnect");
        assertEquals(server.requests().get(0).name(), server.requests().get(1).name());
        assertArrayEquals(server.requests().get(0).ident(), server.requests().get(1).ident());
    }
}
