package io.magicwand.ingest;

import io.magicwand.kafka.ClientProps;
import io.magicwand.netflow.NetflowAuth;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Properties;
import org.apache.kafka.clients.admin.AdminClientConfig;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Configuration of netflow-ingest, with defaults. Built from flat properties (a config file,
 * {@code --set k=v} and the command-line flags; see docs/ingest.md). Every problem is an
 * {@link IllegalArgumentException} whose message is one line naming the key.
 */
public final class IngestConfig {

    /** Set by {@code --bootstrap-servers} (CliConfig's key; a Kafka client property like any {@code kafka.*}). */
    public static final String BOOTSTRAP = io.magicwand.config.CliConfig.BOOTSTRAP_SERVERS;
    public static final String REGISTRY = io.magicwand.config.CliConfig.REGISTRY_URL;
    public static final String SOURCES = "netflow.sources";
    /** {@code netflow.token.HOST}: the token of source HOST (auth 0xd330 sent first on connect). */
    public static final String TOKEN_PREFIX = "netflow.token.";
    public static final String TOPIC = "topic";
    public static final String PARTITIONS = "topic.partitions";
    public static final String REPLICATION = "topic.replication";
    public static final String COMPRESSION = "compression";
    public static final String MAX_IN_FLIGHT = "max.in.flight.records";
    public static final String RECONNECT_INITIAL = "reconnect.initial.ms";
    public static final String RECONNECT_MAX = "reconnect.max.ms";
    public static final String OPS_HOST = "ops.host";
    public static final String OPS_PORT = "ops.port";
    public static final String CAPTURE_DIR = "capture.dir";
    public static final String CAPTURE_ROTATE_BYTES = "capture.rotate.bytes";
    public static final String CAPTURE_ROTATE_SECONDS = "capture.rotate.seconds";
    public static final String KAFKA_PREFIX = io.magicwand.config.CliConfig.KAFKA_PREFIX;

    public static final Set<String> KNOWN = Set.of(REGISTRY, SOURCES, TOPIC, PARTITIONS, REPLICATION,
            COMPRESSION, MAX_IN_FLIGHT, RECONNECT_INITIAL, RECONNECT_MAX, OPS_HOST, OPS_PORT, CAPTURE_DIR,
            CAPTURE_ROTATE_BYTES, CAPTURE_ROTATE_SECONDS);

    private static final Set<String> COMPRESSIONS = Set.of("none", "gzip", "snappy", "lz4", "zstd");

    public String bootstrapServers = "127.0.0.1:19092";
    public String registryUrl = "http://127.0.0.1:18081/apis/ccompat/v7";
    public List<SourceSpec> sources = List.of();
    public String topic = "mw.socket-events";
    public int partitions = 6;
    public short replication = 1;
    public String compression = "lz4";
    public int maxInFlight = 50_000;
    public long reconnectInitialMs = 100;
    public long reconnectMaxMs = 10_000;
    public String opsHost = "127.0.0.1";
    /** 0 = ephemeral; -1 = no ops server (tests). */
    public int opsPort = 18091;
    public Path captureDir;
    public long captureRotateBytes = 256L << 20;
    public long captureRotateSeconds = 3600;
    /**
     * Per-source NetFlow tokens by host tag (1..64 bytes each): a source with a token gets the auth
     * message as the first bytes of every connection. Never logged.
     */
    public Map<String, byte[]> tokens = new LinkedHashMap<>();
    /** Kafka client properties passed through (the {@code kafka.} prefix removed). */
    public Map<String, String> kafka = new LinkedHashMap<>();

    /**
     * Builds the config from flat properties (e.g. {@link io.magicwand.config.CliConfig#asMap()});
     * unknown keys (other than {@code kafka.*}) are an error.
     */
    public static IngestConfig fromProperties(Map<String, String> props) {
        IngestConfig c = new IngestConfig();
        for (Map.Entry<String, String> e : props.entrySet()) {
            String k = e.getKey();
            String v = e.getValue() == null ? "" : e.getValue().trim();
            if (k.equals(BOOTSTRAP)) {
                c.bootstrapServers = nonEmpty(k, v);
                continue;
            }
            if (k.startsWith(KAFKA_PREFIX)) {
                c.kafka.put(k.substring(KAFKA_PREFIX.length()), v);
                continue;
            }
            if (k.startsWith(TOKEN_PREFIX)) {
                // the raw value: a token's spaces are part of it
                c.tokens.put(k.substring(TOKEN_PREFIX.length()), token(k, e.getValue() == null ? "" : e.getValue()));
                continue;
            }
            switch (k) {
                case REGISTRY -> c.registryUrl = nonEmpty(k, v);
                case SOURCES -> c.sources = parseSources(v);
                case TOPIC -> c.topic = nonEmpty(k, v);
                case PARTITIONS -> c.partitions = (int) number(k, v, 1, 10_000);
                case REPLICATION -> c.replication = (short) number(k, v, 1, 32);
                case COMPRESSION -> {
                    String z = v.toLowerCase(Locale.ROOT);
                    if (!COMPRESSIONS.contains(z)) {
                        throw new IllegalArgumentException(k + ": '" + v + "' is not one of " + COMPRESSIONS);
                    }
                    c.compression = z;
                }
                case MAX_IN_FLIGHT -> c.maxInFlight = (int) number(k, v, 2, 10_000_000);
                case RECONNECT_INITIAL -> c.reconnectInitialMs = number(k, v, 1, 3_600_000);
                case RECONNECT_MAX -> c.reconnectMaxMs = number(k, v, 1, 3_600_000);
                case OPS_HOST -> c.opsHost = nonEmpty(k, v);
                case OPS_PORT -> c.opsPort = (int) number(k, v, -1, 65535);
                case CAPTURE_DIR -> c.captureDir = v.isEmpty() ? null : Path.of(v);
                case CAPTURE_ROTATE_BYTES -> c.captureRotateBytes = number(k, v, 4096, Long.MAX_VALUE);
                case CAPTURE_ROTATE_SECONDS -> c.captureRotateSeconds = number(k, v, 0, Long.MAX_VALUE);
                default -> throw new IllegalArgumentException("unknown setting '" + k + "' (known: "
                        + String.join(", ", new java.util.TreeSet<>(KNOWN)) + ", " + TOKEN_PREFIX + "HOST, kafka.*)");
            }
        }
        c.validate();
        return c;
    }

    /** Cross-field checks. */
    public IngestConfig validate() {
        for (String host : tokens.keySet()) {
            if (sources.stream().noneMatch(s -> s.host().equals(host))) {
                throw new IllegalArgumentException(TOKEN_PREFIX + host + ": no NetFlow source has the host tag '" + host
                        + "' (sources: " + sources + ")");
            }
        }
        if (reconnectMaxMs < reconnectInitialMs) {
            throw new IllegalArgumentException(RECONNECT_MAX + " (" + reconnectMaxMs + ") is below "
                    + RECONNECT_INITIAL + " (" + reconnectInitialMs + ")");
        }
        return this;
    }

    /** Parses {@code host1=addr:port,host2=...}. */
    public static List<SourceSpec> parseSources(String v) {
        try {
            return List.copyOf(SourceSpec.parseList(v));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(SOURCES + ": " + e.getMessage());
        }
    }

    /**
     * A token value: the text itself, or {@code @FILE} for the first line of FILE (keeps the token
     * out of the command line, which other users can read in /proc). 1..64 bytes of UTF-8.
     */
    static byte[] token(String k, String v) {
        String t = v;
        if (v.startsWith("@")) {
            Path file = Path.of(v.substring(1));
            try {
                List<String> lines = java.nio.file.Files.readAllLines(file, StandardCharsets.UTF_8);
                t = lines.isEmpty() ? "" : lines.get(0).strip();
            } catch (java.io.IOException | java.io.UncheckedIOException e) {
                throw new IllegalArgumentException(k + ": cannot read the token file " + file + ": " + e);
            }
        }
        byte[] b = t.getBytes(StandardCharsets.UTF_8);
        if (b.length == 0 || b.length > NetflowAuth.TOKEN_MAX) {
            throw new IllegalArgumentException(k + ": a NetFlow token must be 1.." + NetflowAuth.TOKEN_MAX
                    + " bytes, got " + b.length);
        }
        return b;
    }

    private static String nonEmpty(String k, String v) {
        if (v.isEmpty()) {
            throw new IllegalArgumentException(k + " must not be empty");
        }
        return v;
    }

    private static long number(String k, String v, long min, long max) {
        long n;
        try {
            n = Long.parseLong(v.replace("_", ""));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(k + ": '" + v + "' is not a number");
        }
        if (n < min || n > max) {
            throw new IllegalArgumentException(k + ": " + n + " is out of range " + min + ".." + max);
        }
        return n;
    }

    /**
     * Producer properties: ingest's defaults (compression, batching), then the {@code kafka.*}
     * pass-through (which may override them), then the project's producer defaults where nothing
     * was set ({@link ClientProps#producer}: idempotent, acks=all). Includes
     * {@code schema.registry.url} for the serializer.
     */
    public Map<String, Object> producerProperties() {
        Properties base = new Properties();
        base.put("bootstrap.servers", bootstrapServers);
        base.put("compression.type", compression);
        base.put("linger.ms", "10");
        base.put("batch.size", String.valueOf(256 * 1024));
        base.putAll(kafka);
        Map<String, Object> p = ClientProps.asMap(ClientProps.producer(base, "mw-netflow-ingest"));
        p.put("schema.registry.url", registryUrl);
        return p;
    }

    /** Admin client properties (topic creation): bootstrap plus the pass-through keys an admin client knows. */
    public Map<String, Object> adminProperties() {
        Properties base = new Properties();
        base.put("bootstrap.servers", bootstrapServers);
        Set<String> known = AdminClientConfig.configNames();
        kafka.forEach((k, v) -> {
            if (known.contains(k)) {
                base.put(k, v);
            }
        });
        return ClientProps.asMap(ClientProps.admin(base, "mw-netflow-ingest-admin"));
    }

    @Override
    public String toString() {
        return "bootstrap=" + bootstrapServers + " registry=" + registryUrl + " sources=" + sources + " topic=" + topic
                + " partitions=" + partitions + " compression=" + compression + " maxInFlight=" + maxInFlight
                + " ops=" + opsHost + ":" + opsPort + (captureDir != null ? " capture=" + captureDir : "")
                + (tokens.isEmpty() ? "" : " tokens-for=" + tokens.keySet()); // never the tokens themselves
    }
}
