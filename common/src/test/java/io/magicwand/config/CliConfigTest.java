package io.magicwand.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CliConfigTest {

    private static CliConfig.Spec spec() {
        return CliConfig.spec("mw-test", "A test service.")
                .option("netflow", "netflow.address", "HOST:PORT", "NetFlow server", "127.0.0.1:2055")
                .intOption("ops-port", "ops.port", "PORT", "ops HTTP port", 18091)
                .durationOption("linger", "producer.linger", "TIME", "linger", "5ms")
                .flag("dry-run", "dry.run", "do not write")
                .defaultValue("topic.events", "mw.socket-events")
                .defaultValue(CliConfig.BOOTSTRAP_SERVERS, "127.0.0.1:19092");
    }

    @Test
    void defaults() {
        CliConfig c = spec().parse();
        assertEquals("127.0.0.1:2055", c.get("netflow.address"));
        assertEquals(18091, c.getInt("ops.port"));
        assertEquals(Duration.ofMillis(5), c.getDuration("producer.linger"));
        assertFalse(c.getBoolean("dry.run"));
        assertEquals("mw.socket-events", c.get("topic.events"));
        assertEquals("127.0.0.1:19092", c.bootstrapServers());
        assertEquals("default", c.sourceOf("ops.port"));
        assertFalse(c.helpRequested());
    }

    @Test
    void precedenceDefaultsThenFilesThenOptionsInOrder(@TempDir Path tmp) throws Exception {
        Path f1 = tmp.resolve("a.properties");
        Files.writeString(f1, "ops.port=1000\ntopic.events=from-file\nkafka.security.protocol=SSL\nkafka.bootstrap.servers=file:9092\n");
        Path f2 = tmp.resolve("b.properties");
        Files.writeString(f2, "ops.port=2000\n");
        // --config given after the options still loses to them; later files win over earlier ones.
        CliConfig c = spec().parse("--ops-port", "3000", "--set", "topic.events=from-set", "--config", f1.toString(),
                "--config=" + f2, "--bootstrap-servers", "cli:9092", "--dry-run", "--registry", "http://r/apis/ccompat/v7");
        assertEquals(3000, c.getInt("ops.port"));
        assertEquals("--ops-port", c.sourceOf("ops.port"));
        assertEquals("from-set", c.get("topic.events"));
        assertEquals("cli:9092", c.bootstrapServers());
        assertEquals("http://r/apis/ccompat/v7", c.registryUrl());
        assertTrue(c.getBoolean("dry.run"));

        Properties kp = c.kafkaProperties();
        assertEquals("cli:9092", kp.getProperty("bootstrap.servers"));
        assertEquals("SSL", kp.getProperty("security.protocol"));
        assertEquals(2, kp.size());
        assertEquals(Map.of("bootstrap.servers", "cli:9092", "security.protocol", "SSL"), c.kafkaConfig());

        CliConfig fileOnly = spec().parse("--config", f1.toString(), "--config", f2.toString());
        assertEquals(2000, fileOnly.getInt("ops.port"));
        assertTrue(fileOnly.sourceOf("ops.port").contains("b.properties"));

        // Later options win over earlier ones, and --set of an option's key counts like the option.
        assertEquals(5, spec().parse("--ops-port", "4", "--set", "ops.port=5").getInt("ops.port"));
        assertEquals(4, spec().parse("--set", "ops.port=5", "--ops-port=4").getInt("ops.port"));
    }

    @Test
    void errorsNameTheOption(@TempDir Path tmp) throws Exception {
        assertEquals("unknown option --nope (see --help)", msg("--nope"));
        assertEquals("unknown option -x (see --help)", msg("-x"));
        assertEquals("option --ops-port needs a value: --ops-port PORT", msg("--ops-port"));
        assertEquals("option --netflow needs a value: --netflow HOST:PORT", msg("--netflow", "--dry-run"));
        assertEquals("bad value for --ops-port: 'abc', expected an integer", msg("--ops-port", "abc"));
        assertEquals("bad value for --set ops.port: '12x', expected an integer", msg("--set", "ops.port=12x"));
        assertEquals("bad value for --linger: 'soon', expected a duration such as 500ms, 5s, 2m, 1h", msg("--linger", "soon"));
        assertEquals("bad value for --dry-run: 'maybe', expected true or false", msg("--dry-run=maybe"));
        assertEquals("option --set needs KEY=VALUE, got 'novalue'", msg("--set", "novalue"));
        assertEquals("unexpected argument 'stray' (options start with --; see --help)", msg("stray"));
        assertTrue(msg("--config", tmp.resolve("missing.properties").toString()).startsWith("option --config: file not found: "));
        Path bad = tmp.resolve("bad.properties");
        Files.writeString(bad, "ops.port=eleven\n");
        String m = msg("--config", bad.toString());
        assertTrue(m.startsWith("bad value for ops.port in ") && m.endsWith("'eleven', expected an integer"), m);
        assertFalse(m.contains("\n"));
    }

    @Test
    void typedGettersReportTheSource(@TempDir Path tmp) throws Exception {
        CliConfig c = spec().parse("--set", "batch.size=big", "--set", "flag=perhaps", "--set", "window=3 fortnights");
        ConfigException e = assertThrows(ConfigException.class, () -> c.getInt("batch.size"));
        assertEquals("bad value for batch.size (from --set): 'big', expected an integer", e.getMessage());
        assertThrows(ConfigException.class, () -> c.getBoolean("flag"));
        assertThrows(ConfigException.class, () -> c.getDuration("window"));
        e = assertThrows(ConfigException.class, () -> c.get("not.there"));
        assertEquals("missing required setting not.there (give --set not.there=VALUE)", e.getMessage());
        CliConfig none = CliConfig.spec("p", "d").parse();
        e = assertThrows(ConfigException.class, none::registryUrl);
        assertEquals("missing required setting schema.registry.url (give --registry URL)", e.getMessage());
        assertEquals(7, c.getInt("absent", 7));
    }

    @Test
    void durationsAndLists() {
        CliConfig c = spec().parse("--set", "a=250ms", "--set", "b=5s", "--set", "c=2m", "--set", "d=1h", "--set", "e=PT3S",
                "--set", "f=100", "--set", "l= x, y ,,z ");
        assertEquals(Duration.ofMillis(250), c.getDuration("a"));
        assertEquals(Duration.ofSeconds(5), c.getDuration("b"));
        assertEquals(Duration.ofMinutes(2), c.getDuration("c"));
        assertEquals(Duration.ofHours(1), c.getDuration("d"));
        assertEquals(Duration.ofSeconds(3), c.getDuration("e"));
        assertEquals(Duration.ofMillis(100), c.getDuration("f"));
        assertEquals(List.of("x", "y", "z"), c.getList("l"));
    }

    @Test
    void helpAndPositionals() {
        CliConfig c = spec().parse("--ops-port", "notchecked-because-help", "--help");
        assertTrue(c.helpRequested());
        assertTrue(spec().parse("-h").helpRequested());
        String help = c.helpText();
        assertTrue(help.startsWith("Usage: mw-test [OPTIONS]\n\nA test service.\n"), help);
        assertTrue(help.contains("--ops-port PORT"), help);
        assertTrue(help.contains("ops HTTP port [key ops.port, default 18091]"), help);
        assertTrue(help.contains("--bootstrap-servers HOSTS"), help);
        assertTrue(help.contains("--config FILE"), help);
        assertTrue(help.contains("--set KEY=VALUE"), help);
        assertTrue(help.contains("--registry URL"), help);
        assertTrue(help.contains("--dry-run "), help);
        assertTrue(help.contains("topic.events=mw.socket-events"), help);

        CliConfig p = spec().positionals("FILE...", "capture files").parse("a.cap", "--dry-run", "--", "--b.cap");
        assertEquals(List.of("a.cap", "--b.cap"), p.positionals());
        assertTrue(p.getBoolean("dry.run"));
        assertTrue(spec().positionals("FILE...", "capture files").helpText().contains("Usage: mw-test [OPTIONS] FILE..."));
    }

    @Test
    void negativeNumbersAreValuesAndSecretsAreMasked() {
        CliConfig c = CliConfig.spec("p", "d").intOption("offset", "x.offset", "N", "offset", null)
                .parse("--offset", "-5", "--set", "kafka.sasl.jaas.config=secret-stuff", "--set", "kafka.ssl.key.password=pw");
        assertEquals(-5, c.getInt("x.offset"));
        String d = c.describe();
        assertTrue(d.contains("x.offset=-5 (--offset)"), d);
        assertFalse(d.contains("secret-stuff"), d);
        assertFalse(d.contains("=pw"), d);
    }

    @Test
    void specRejectsBadDeclarations() {
        assertThrows(IllegalArgumentException.class, () -> CliConfig.spec("p", "d").option("set", "k", "V", "h", null));
        assertThrows(IllegalArgumentException.class, () -> CliConfig.spec("p", "d").option("Bad Name", "k", "V", "h", null));
        assertThrows(IllegalArgumentException.class, () -> CliConfig.spec("p", "d").option("x", "k", null, "h", null));
    }

    private static String msg(String... args) {
        return assertThrows(ConfigException.class, () -> spec().parse(args)).getMessage();
    }
}
