package io.magicwand.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.magicwand.netflow.FeatureResponse;
import io.magicwand.netflow.NetflowCodec;
import io.magicwand.netflow.NetflowInfo;
import io.magicwand.ops.OpsServer;
import io.magicwand.testkit.EmbeddedKafkaBroker;
import io.magicwand.testkit.TestRegistry;
import io.vertx.core.buffer.Buffer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * netflow-ingest against a scripted NetFlow source (a Vert.x NetServer), a real in-process Kafka
 * broker and the real schema registry.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class IngestIT {

    static EmbeddedKafkaBroker broker;
    static String registry;

    @TempDir
    Path tmp;

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

    static IngestConfig config(String topic, int port) {
        IngestConfig c = new IngestConfig();
        c.bootstrapServers = broker.bootstrapServers();
        c.registryUrl = registry;
        c.sources = List.of(new SourceSpec("h1", "127.0.0.1", port));
        c.topic = topic;
        c.partitions = 4;
        c.maxInFlight = 256;
        c.reconnectInitialMs = 50;
        c.reconnectMaxMs = 400;
        c.opsPort = 0;
        return c;
    }

    static IngestService start(IngestConfig c) throws Exception {
        IngestMain.ensureTopic(c);
        IngestService s = new IngestService(c);
        s.start().toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
        return s;
    }

    static void waitFor(String what, long timeoutMs, BooleanSupplier cond) throws InterruptedException {
        long end = System.currentTimeMillis() + timeoutMs;
        while (!cond.getAsBoolean()) {
            if (System.currentTimeMillis() > end) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(50);
        }
    }

    static NetflowInfo rec(long seq, long sock) {
        int obs = switch ((int) (seq % 4)) {
            case 0 -> NetflowInfo.OBS_ACCEPT;
            case 1 -> NetflowInfo.OBS_RECV;
            case 2 -> NetflowInfo.OBS_SEND;
            default -> NetflowInfo.OBS_CLOSE;
        };
        return TestRecords.info(seq, obs, sock, seq * 10, seq * 20);
    }

    static Buffer records(long from, long to, int sockets) {
        Buffer b = Buffer.buffer();
        for (long s = from; s < to; s++) {
            b.appendBytes(NetflowCodec.encode(rec(s, s % sockets)));
        }
        return b;
    }

    static void assertPerKeyOrder(List<KafkaCheck.Got> got) {
        Map<String, Long> last = new LinkedHashMap<>();
        Map<String, Integer> part = new LinkedHashMap<>();
        for (KafkaCheck.Got g : got) {
            Long prev = last.put(g.key(), g.seq());
            assertTrue(prev == null || prev < g.seq(), "out of order for " + g.key() + ": " + prev + " then " + g.seq());
            Integer p = part.put(g.key(), g.partition());
            assertTrue(p == null || p == g.partition(), g.key() + " in two partitions");
            assertEquals("h1/" + g.value().get("socket_id"), g.key());
        }
    }

    @Test
    void everyRecordArrivesDecodableWithGapsCountedAndBackpressure() throws Exception {
        String topic = "it-all-" + System.nanoTime();
        // seq 0..5999 on 50 sockets, 1000..1009 left out (a gap of 10), one feature response mixed in
        Buffer stream = records(0, 1000, 50)
                .appendBytes(NetflowCodec.encode(FeatureResponse.error(42, 2)))
                .appendBuffer(records(1010, 6000, 50));
        int expected = 5990;
        runAll(topic, stream, expected);
    }

    private void runAll(String topic, Buffer stream, int expected) throws Exception {
        try (ScriptedNetflowSource src = new ScriptedNetflowSource((n, sock) ->
                ScriptedNetflowSource.writeChunked(sock, stream, 7, null))) {
            IngestConfig cfg = config(topic, src.port());
            try (IngestService svc = start(cfg); OpsServer ops = OpsEndpoint.start(cfg, svc)) {
                SourceStats st = svc.stats().get("h1");
                waitFor("all produced", 120_000, () -> st.eventsProduced.sum() >= expected);
                HttpClient http = HttpClient.newHttpClient();
                HttpResponse<String> health = http.send(HttpRequest.newBuilder(URI.create(ops.url() + "/health"))
                        .build(), HttpResponse.BodyHandlers.ofString());
                assertEquals(200, health.statusCode(), health.body());
                assertTrue(health.body().contains("\"UP\""), health.body());
                String metrics = http.send(HttpRequest.newBuilder(URI.create(ops.url() + "/metrics")).build(),
                        HttpResponse.BodyHandlers.ofString()).body();
                assertTrue(metrics.contains("mw_ingest_events_in_total{host=\"h1\"} " + expected), metrics);
                assertTrue(metrics.contains("mw_ingest_events_produced_total{host=\"h1\"} " + expected), metrics);
                assertTrue(metrics.contains("mw_ingest_sequence_gaps_total{host=\"h1\"} 1"), metrics);
                assertTrue(metrics.contains("mw_ingest_records_lost_in_gaps_total{host=\"h1\"} 10"), metrics);
                assertTrue(metrics.contains("mw_ingest_lag_seconds{host=\"h1\"}"), metrics);
                assertEquals(1, st.gaps.sum());
                assertEquals(10, st.lostInGaps.sum());
                assertEquals(1, st.otherMessages.sum());
                assertEquals(0, st.produceErrors.sum());
                assertTrue(st.pauses.sum() > 0, "reading never paused with max.in.flight.records=256");
                assertTrue(st.lagSeconds(System.currentTimeMillis()) < 600);
                src.close();
                waitFor("disconnect noticed", 10_000, () -> !st.connected);
                HttpResponse<String> down = http.send(HttpRequest.newBuilder(URI.create(ops.url() + "/health"))
                        .build(), HttpResponse.BodyHandlers.ofString());
                assertEquals(503, down.statusCode(), down.body());
                assertTrue(down.body().contains("h1"), down.body());
            }
        }
        List<KafkaCheck.Got> got = new KafkaCheck(broker.bootstrapServers(), registry)
                .readAll(topic, expected, Duration.ofSeconds(60));
        assertEquals(expected, got.size());
        Set<Long> seqs = new HashSet<>();
        for (KafkaCheck.Got g : got) {
            assertTrue(seqs.add(g.seq()), "duplicate seq " + g.seq());
            long s = g.seq();
            NetflowInfo want = rec(s, s % 50);
            assertEquals("h1", g.value().get("host").toString());
            assertEquals(-1, g.value().get("ins_id"));
            assertEquals(want.sockfd(), g.value().get("socket_id"));
            assertEquals(NetflowInfo.obsName(want.obs()).toUpperCase(), g.value().get("obs").toString());
            assertEquals(want.bytesIn(), g.value().get("bytes_in"));
            assertEquals(want.bytesOut(), g.value().get("bytes_out"));
            assertEquals("10.1.2.3", g.value().get("local_addr").toString());
            assertEquals(want.remote().addressText(), g.value().get("remote_addr").toString());
            assertTrue((Long) g.value().get("ingest_ts_ms") > 0);
        }
        assertFalse(seqs.contains(1005L));
        assertPerKeyOrder(got);
    }

    @Test
    void garbageAndMidRecordDisconnectLoseNothingElse() throws Exception {
        String topic = "it-garbage-" + System.nanoTime();
        byte[] partial = NetflowCodec.encode(rec(200, 0));
        try (ScriptedNetflowSource src = new ScriptedNetflowSource((n, sock) -> {
            switch (n) {
                case 0 -> ScriptedNetflowSource.writeChunked(sock, records(0, 100, 10)
                        .appendBytes(new byte[] {(byte) 0xba, (byte) 0xd0, 1, 2, 3, 4, 5, 6, 7, 8}), 1, null);
                case 1 -> ScriptedNetflowSource.writeChunked(sock, records(100, 200, 10)
                        .appendBytes(partial, 0, 50), 2, sock::close);
                case 2 -> ScriptedNetflowSource.writeChunked(sock, records(201, 300, 10), 3, null);
                default -> { }
            }
        }); LogCapture logs = new LogCapture(SourceClient.class)) {
            IngestConfig cfg = config(topic, src.port());
            try (IngestService svc = start(cfg)) {
                SourceStats st = svc.stats().get("h1");
                waitFor("299 produced", 60_000, () -> st.eventsProduced.sum() >= 299);
                Thread.sleep(500);
                assertEquals(299, st.eventsIn.sum());
                assertEquals(1, st.formatErrors.sum());
                assertEquals(1, st.partialDropped.sum());
                assertTrue(st.reconnects.sum() >= 2);
                assertEquals(3, src.connections.get());
                assertTrue(st.connected);
            }
            List<String> garbage = logs.matching("garbage in the stream");
            assertEquals(1, garbage.size(), logs.lines.toString());
            assertTrue(garbage.get(0).contains("h1") && garbage.get(0).contains("offset 11600")
                    && garbage.get(0).contains("0xbad0"), garbage.get(0));
            List<String> partialLog = logs.matching("inside a message");
            assertEquals(1, partialLog.size(), logs.lines.toString());
            assertTrue(partialLog.get(0).contains("h1") && partialLog.get(0).contains("offset 11600")
                    && partialLog.get(0).contains("50 byte"), partialLog.get(0));
        }
        List<KafkaCheck.Got> got = new KafkaCheck(broker.bootstrapServers(), registry)
                .readAll(topic, 299, Duration.ofSeconds(60));
        Set<Long> seqs = new HashSet<>();
        for (KafkaCheck.Got g : got) {
            assertTrue(seqs.add(g.seq()), "duplicate " + g.seq());
        }
        Set<Long> want = new HashSet<>();
        for (long s = 0; s < 300; s++) {
            if (s != 200) {
                want.add(s);
            }
        }
        assertEquals(want, seqs);
        assertPerKeyOrder(got);
    }

    @Test
    void brokerRestartLosesAndDuplicatesNothing() throws Exception {
        String topic = "it-restart-" + System.nanoTime();
        int total = 40_000;
        // A broker of its own: the restart must not leave state behind for the other tests.
        try (EmbeddedKafkaBroker own = new EmbeddedKafkaBroker().start()) {
            restartDuringIngest(own, topic, total);
        }
    }

    private void restartDuringIngest(EmbeddedKafkaBroker broker, String topic, int total) throws Exception {
        try (ScriptedNetflowSource src = new ScriptedNetflowSource((n, sock) -> {
            long[] next = {0};
            // 1,000 records every 100 ms: about 4 s of traffic, with the broker restart in the middle
            src0(sock, next, total);
        })) {
            IngestConfig cfg = config(topic, src.port());
            cfg.bootstrapServers = broker.bootstrapServers();
            cfg.maxInFlight = 5000;
            try (IngestService svc = start(cfg)) {
                SourceStats st = svc.stats().get("h1");
                waitFor("first records", 30_000, () -> st.eventsProduced.sum() > 2000);
                assertTrue(st.eventsIn.sum() < total / 2, "the restart must come in the middle of the stream");
                broker.restart();
                waitFor("all produced", 180_000, () -> st.eventsProduced.sum() + st.produceErrors.sum() >= total);
                assertEquals(0, st.produceErrors.sum());
                assertEquals(total, st.eventsIn.sum());
                assertEquals(total, st.eventsProduced.sum());
            }
        }
        List<KafkaCheck.Got> got = new KafkaCheck(broker.bootstrapServers(), registry)
                .readAll(topic, total, Duration.ofSeconds(120));
        Set<Long> seqs = new HashSet<>();
        for (KafkaCheck.Got g : got) {
            assertTrue(seqs.add(g.seq()), "duplicate seq " + g.seq());
        }
        assertEquals(total, got.size());
        assertEquals(total, seqs.size());
        assertPerKeyOrder(got);
    }

    private static void src0(io.vertx.core.net.NetSocket sock, long[] next, int total) {
        io.vertx.core.Vertx v = io.vertx.core.Vertx.currentContext().owner();
        v.setPeriodic(100, id -> {
            long from = next[0];
            long to = Math.min(total, from + 1000);
            if (!sock.writeQueueFull()) {
                sock.write(records(from, to, 64));
                next[0] = to;
            }
            if (next[0] >= total) {
                v.cancelTimer(id);
            }
        });
    }

    @Test
    void captureThenReplayGivesTheSameRecordsInTheSameOrder() throws Exception {
        String topic = "it-capture-" + System.nanoTime();
        String replayTopic = topic + "-replay";
        Path capture = tmp.resolve("capture");
        int total = 3000;
        try (ScriptedNetflowSource src = new ScriptedNetflowSource((n, sock) ->
                ScriptedNetflowSource.writeChunked(sock, records(0, total, 30), 11, null))) {
            IngestConfig cfg = config(topic, src.port());
            cfg.captureDir = capture;
            cfg.captureRotateBytes = 64 * 1024; // several files
            try (IngestService svc = start(cfg)) {
                SourceStats st = svc.stats().get("h1");
                waitFor("all produced", 60_000, () -> st.eventsProduced.sum() >= total);
            }
        }
        long files;
        try (var s = Files.list(capture)) {
            files = s.filter(p -> p.toString().endsWith(".mwcap")).count();
        }
        assertTrue(files >= 3, files + " capture files");
        int rc = Replay.run(new String[] {capture.toString(), "--max", "--topic", replayTopic,
                "--bootstrap-servers", broker.bootstrapServers(), "--registry", registry});
        assertEquals(0, rc);
        KafkaCheck k = new KafkaCheck(broker.bootstrapServers(), registry);
        List<KafkaCheck.Got> live = k.readAll(topic, total, Duration.ofSeconds(60));
        List<KafkaCheck.Got> replayed = k.readAll(replayTopic, total, Duration.ofSeconds(60));
        assertEquals(total, live.size());
        assertEquals(total, replayed.size());
        assertEquals(perKey(live), perKey(replayed));
    }

    static Path shadedJar() {
        Path jar = Path.of(System.getProperty("mw.root", "..")).resolve("netflow-ingest/target/netflow-ingest-all.jar");
        assertTrue(Files.isRegularFile(jar), "no shaded jar at " + jar + " (the package phase builds it)");
        return jar;
    }

    static Process java(String... args) throws java.io.IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx256m");
        cmd.add("-jar");
        cmd.add(shadedJar().toString());
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true).start();
    }

    static Process javaToFile(Path out, String... args) throws java.io.IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx256m");
        cmd.add("-jar");
        cmd.add(shadedJar().toString());
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
    }

    @Test
    void shadedJarRunsServesHealthAndExits2OnBadConfig() throws Exception {
        Process bad = java("--source", "h=127.0.0.1:1", "--compression", "lzma");
        String out = new String(bad.getInputStream().readAllBytes()).trim();
        assertTrue(bad.waitFor(60, TimeUnit.SECONDS));
        assertEquals(2, bad.exitValue(), out);
        assertEquals(1, out.lines().count(), out);
        assertTrue(out.contains("compression") && out.contains("lzma"), out);
        Process unknown = java("--bogus");
        String out2 = new String(unknown.getInputStream().readAllBytes()).trim();
        assertTrue(unknown.waitFor(60, TimeUnit.SECONDS));
        assertEquals(2, unknown.exitValue(), out2);

        String topic = "it-jar-" + System.nanoTime();
        int opsPort;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            opsPort = s.getLocalPort();
        }
        try (ScriptedNetflowSource src = new ScriptedNetflowSource((n, sock) ->
                ScriptedNetflowSource.writeChunked(sock, records(0, 500, 5), 5, null))) {
            Process p = javaToFile(tmp.resolve("jar.log"), "--source", "h1=127.0.0.1:" + src.port(),
                    "--bootstrap-servers", broker.bootstrapServers(), "--registry", registry, "--topic", topic,
                    "--ops-port", String.valueOf(opsPort), "--partitions", "3");
            Path logFile = tmp.resolve("jar.log");
            try {
                HttpClient http = HttpClient.newHttpClient();
                String[] metrics = {""};
                waitFor("500 events produced by the jar", 90_000, () -> {
                    try {
                        metrics[0] = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + opsPort
                                + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
                        return metrics[0].contains("mw_ingest_events_produced_total{host=\"h1\"} 500");
                    } catch (Exception e) {
                        return false;
                    }
                });
                HttpResponse<String> h = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + opsPort
                        + "/health")).build(), HttpResponse.BodyHandlers.ofString());
                assertEquals(200, h.statusCode(), h.body());
            } finally {
                p.destroy(); // SIGTERM: flush and stop
                assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the jar did not stop on SIGTERM");
            }
            String log = Files.readString(logFile);
            assertTrue(log.contains("netflow-ingest stopping") && log.contains("netflow-ingest stopped"),
                    "exit " + p.exitValue() + ": " + log);
        }
        assertEquals(500, new KafkaCheck(broker.bootstrapServers(), registry)
                .readAll(topic, 500, Duration.ofSeconds(60)).size());
    }

    static Map<String, List<String>> perKey(List<KafkaCheck.Got> got) {
        Map<String, List<String>> m = new LinkedHashMap<>();
        for (KafkaCheck.Got g : got) {
            m.computeIfAbsent(g.key(), x -> new ArrayList<>()).add(g.value().toString());
        }
        return new java.util.TreeMap<>(m);
    }
}
