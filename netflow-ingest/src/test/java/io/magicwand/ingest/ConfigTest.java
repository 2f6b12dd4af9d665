package io.magicwand.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ConfigTest {

    @Test
    void parsesSources() {
        List<SourceSpec> s = SourceSpec.parseList("host1=127.0.0.1:2055, host2=[::1]:2056");
        assertEquals(new SourceSpec("host1", "127.0.0.1", 2055), s.get(0));
        assertEquals(new SourceSpec("host2", "::1", 2056), s.get(1));
        assertEquals("host2=[::1]:2056", s.get(1).toString());
    }

    @Test
    void rejectsBadSources() {
        for (String bad : new String[] {"127.0.0.1:2055", "h=127.0.0.1", "h=127.0.0.1:x", "h=1.2.3.4:70000",
                "a/b=1.2.3.4:1", "h=[::1:5", "h=1.2.3.4:1,h=1.2.3.4:2"}) {
            assertThrows(IllegalArgumentException.class, () -> SourceSpec.parseList(bad), bad);
        }
    }

    @Test
    void defaultsAndOverrides() {
        IngestConfig c = IngestConfig.fromProperties(Map.of());
        assertEquals("mw.socket-events", c.topic);
        assertEquals("lz4", c.compression);
        assertEquals(18091, c.opsPort);
        c = IngestConfig.fromProperties(Map.of("compression", "zstd", "netflow.sources", "a=127.0.0.1:1",
                "kafka.linger.ms", "50", "kafka.acks", "all"));
        Map<String, Object> p = c.producerProperties();
        assertEquals("zstd", p.get("compression.type"));
        assertEquals("50", p.get("linger.ms"));
        assertEquals("true", p.get("enable.idempotence"));
        assertEquals(1, c.sources.size());
    }

    @Test
    void badValuesGiveOneLineErrorsNamingTheKey() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> IngestConfig.fromProperties(Map.of("compression", "lzma")));
        assertTrue(e.getMessage().startsWith("compression"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> IngestConfig.fromProperties(Map.of("ops.port", "x")));
        assertTrue(e.getMessage().contains("ops.port"));
        e = assertThrows(IllegalArgumentException.class, () -> IngestConfig.fromProperties(Map.of("nope", "1")));
        assertTrue(e.getMessage().contains("unknown setting 'nope'"));
        e = assertThrows(IllegalArgumentException.class, () -> IngestConfig.fromProperties(
                Map.of("reconnect.initial.ms", "500", "reconnect.max.ms", "100")));
        assertTrue(e.getMessage().contains("reconnect.max.ms"));
        assertTrue(!e.getMessage().contains("\n"));
    }

    @Test
    void backoffGrowsWithJitterAndCaps() {
        Backoff b = new Backoff(100, 1000);
        long d1 = b.nextDelayMs();
        assertTrue(d1 >= 50 && d1 <= 100, "first " + d1);
        long d2 = b.nextDelayMs();
        assertTrue(d2 >= 100 && d2 <= 200, "second " + d2);
        for (int i = 0; i < 40; i++) {
            long d = b.nextDelayMs();
            assertTrue(d >= 500 && d <= 1000 || i < 3, "capped " + d);
        }
        b.reset();
        assertTrue(b.nextDelayMs() <= 100);
    }

    @Test
    void tokensPerSourceFromConfigCommandLineAndFile(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp)
            throws Exception {
        IngestConfig c = IngestConfig.fromProperties(Map.of("netflow.sources", "a=127.0.0.1:1,b=127.0.0.1:2",
                "netflow.token.a", " spaced token "));
        assertEquals(" spaced token ", new String(c.tokens.get("a"), java.nio.charset.StandardCharsets.UTF_8));
        assertEquals(null, c.tokens.get("b"));
        assertTrue(!c.toString().contains("spaced"), "toString must not show a token: " + c);

        java.nio.file.Path f = tmp.resolve("tok");
        java.nio.file.Files.writeString(f, "from-file\nsecond line ignored\n");
        c = IngestMain.parse(new String[] {"--source", "a=127.0.0.1:1", "--token", "a=@" + f});
        assertEquals("from-file", new String(c.tokens.get("a"), java.nio.charset.StandardCharsets.UTF_8));
        c = IngestMain.parse(new String[] {"--source=a=127.0.0.1:1", "--token=a=x=y"});
        assertEquals("x=y", new String(c.tokens.get("a"), java.nio.charset.StandardCharsets.UTF_8));
    }

    @Test
    void rejectsBadTokens() {
        String src = "a=127.0.0.1:1";
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> IngestConfig.fromProperties(
                Map.of("netflow.sources", src, "netflow.token.zz", "t")));
        assertTrue(e.getMessage().startsWith("netflow.token.zz: no NetFlow source has the host tag 'zz'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> IngestConfig.fromProperties(
                Map.of("netflow.sources", src, "netflow.token.a", "x".repeat(65))));
        assertEquals("netflow.token.a: a NetFlow token must be 1..64 bytes, got 65", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> IngestConfig.fromProperties(
                Map.of("netflow.sources", src, "netflow.token.a", "")));
        assertTrue(e.getMessage().contains("got 0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> IngestConfig.fromProperties(
                Map.of("netflow.sources", src, "netflow.token.a", "@/nonexistent/tok")));
        assertTrue(e.getMessage().startsWith("netflow.token.a: cannot read the token file /nonexistent/tok"), e.getMessage());
        assertThrows(RuntimeException.class, () -> IngestMain.parse(new String[] {"--source", src, "--token", "a"}));
        assertThrows(RuntimeException.class, () -> IngestMain.parse(new String[] {"--source", src, "--token"}));
    }
}
