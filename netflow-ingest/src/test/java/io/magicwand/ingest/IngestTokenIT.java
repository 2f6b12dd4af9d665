package io.magicwand.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.magicwand.testkit.EmbeddedKafkaBroker;
import io.magicwand.testkit.TestRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The token option against the real NetFlow server code: {@code native/build/mwnf serve-script
 * --token} runs mwcomms' server (token handshake, constant-time compare, EACCES and disconnect).
 * With the right token every record arrives in Kafka; with a wrong one nothing is ingested, the
 * refusal is counted and retried. Skipped (with the reason) when native/build is not built.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class IngestTokenIT {

    // ASCII only: the C server's compare refuses every token byte >= 0x80 (signed char in
    // token_equal, native/mwcomms/netflow_server.c), whoever the client is
    static final String TOKEN = "it-token with spaces & symbols:=@!";
    static final int RECORDS = 300;

    static EmbeddedKafkaBroker broker;
    static String registry;
    static Path mwnf;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() {
        mwnf = TestRecords.root().resolve("native/build/mwnf");
        assumeTrue(Files.isExecutable(mwnf), "native/build/mwnf not built (make -C native): skipping the token tests");
        registry = TestRegistry.url();
        broker = new EmbeddedKafkaBroker().start();
    }

    @AfterAll
    static void stop() {
        if (broker != null) {
            broker.close();
        }
    }

    /** serve-script with a token; emits RECORDS records 1 s after the first client connected. */
    private Process serve(Path out, Path err) throws Exception {
        Path script = tmp.resolve("script.nf");
        // the pause lets the client finish the handshake: records before it are not queued for it
        Files.writeString(script, "wait-clients 1\nsleep 1000\nrepeat " + RECORDS
                + " send 100 local=10.0.0.1:80 remote=198.51.100.4:999 in=1 out=2\nwait-drained\n");
        return new ProcessBuilder(mwnf.toString(), "serve-script", script.toString(), "--port", "0",
                "--bind", "127.0.0.1", "--token", TOKEN)
                .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    }

    private static IngestConfig config(String topic, int port) {
        IngestConfig c = new IngestConfig();
        c.bootstrapServers = broker.bootstrapServers();
        c.registryUrl = registry;
        c.sources = List.of(new SourceSpec("h1", "127.0.0.1", port));
        c.topic = topic;
        c.partitions = 2;
        c.reconnectInitialMs = 50;
        c.reconnectMaxMs = 400;
        c.opsPort = 0;
        return c;
    }

    private static int port(Path out, Process p) throws Exception {
        Pattern pat = Pattern.compile("^listening \\S+:(\\d+)", Pattern.MULTILINE);
        for (int i = 0; i < 100; i++) {
            Matcher m = pat.matcher(Files.readString(out));
            if (m.find()) {
                return Integer.parseInt(m.group(1));
            }
            assertTrue(p.isAlive(), "serve-script exited: " + Files.readString(out));
            Thread.sleep(100);
        }
        throw new AssertionError("serve-script printed no 'listening' line");
    }

    private static void kill(Process p) throws InterruptedException {
        p.destroy();
        if (!p.waitFor(20, TimeUnit.SECONDS)) {
            p.destroyForcibly();
        }
    }

    @Test
    void rightTokenGetsEveryRecord() throws Exception {
        Path out = tmp.resolve("out");
        Path err = tmp.resolve("err");
        Process p = serve(out, err);
        try {
            String topic = "it-token-" + System.nanoTime();
            IngestConfig cfg = config(topic, port(out, p));
            cfg.tokens = Map.of("h1", TOKEN.getBytes(StandardCharsets.UTF_8));
            try (IngestService svc = IngestIT.start(cfg)) {
                SourceStats st = svc.stats().get("h1");
                IngestIT.waitFor("all produced", 120_000, () -> st.eventsProduced.sum() >= RECORDS);
                assertTrue(st.connected);
                assertEquals(0, st.authFailures.sum());
                assertEquals(0, st.gaps.sum(), "records lost for the ingest client");
                assertEquals(0, st.otherMessages.sum(), "the auth answer is not counted as another message");
                assertEquals(RECORDS, st.eventsIn.sum());
            }
            List<KafkaCheck.Got> got = new KafkaCheck(broker.bootstrapServers(), registry)
                    .readAll(topic, RECORDS, Duration.ofSeconds(60));
            Set<Long> seqs = new TreeSet<>();
            got.forEach(g -> seqs.add(g.seq()));
            assertEquals(RECORDS, got.size());
            assertEquals(RECORDS, seqs.size());
            assertEquals(0L, seqs.iterator().next(), "the first record this client was sent is seq 0");
            assertFalse(Files.readString(err).contains("wrong token"), Files.readString(err));
        } finally {
            kill(p);
        }
    }

    @Test
    void wrongTokenIsRefusedCountedAndRetried() throws Exception {
        Path out = tmp.resolve("out");
        Path err = tmp.resolve("err");
        Process p = serve(out, err);
        try (LogCapture logs = new LogCapture(SourceClient.class)) {
            IngestConfig cfg = config("it-token-bad-" + System.nanoTime(), port(out, p));
            cfg.tokens = Map.of("h1", "not-the-token".getBytes(StandardCharsets.UTF_8));
            try (IngestService svc = IngestIT.start(cfg)) {
                SourceStats st = svc.stats().get("h1");
                IngestIT.waitFor("two refusals", 60_000, () -> st.authFailures.sum() >= 2);
                Thread.sleep(1500); // the script's records are emitted by now
                assertFalse(st.connected);
                assertEquals(0, st.eventsIn.sum());
                assertTrue(st.reconnects.sum() >= 2);
            }
            assertTrue(Files.readString(err).contains("wrong token"), "server log: " + Files.readString(err));
            String text = String.join("\n", logs.lines);
            assertTrue(text.contains("refused the token (EACCES): check netflow.token.h1"), text);
            assertFalse(text.contains("not-the-token"), "the token must never be logged");
        } finally {
            kill(p);
        }
    }
}
