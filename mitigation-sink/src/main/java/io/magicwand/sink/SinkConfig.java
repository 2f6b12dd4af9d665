package io.magicwand.sink;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

/**
 * Configuration of the mitigation sink: every key with its default, parsed and checked once. Built
 * from flat string properties (a config file, {@code --set k=v}, the launcher). Keys starting with
 * {@code kafka.} are passed to the Kafka clients with the prefix removed.
 */
public final class SinkConfig {

    /** Kafka bootstrap servers key (a pass-through Kafka client property, as io.magicwand.config.CliConfig names it). */
    public static final String BOOTSTRAP = "kafka.bootstrap.servers";
    public static final String REGISTRY = "schema.registry.url";

    /** Every key with its default value and meaning, in the order `--help` prints them. */
    public static final Map<String, String[]> KEYS = new LinkedHashMap<>();

    static {
        key(BOOTSTRAP, "127.0.0.1:19092", "Kafka bootstrap servers (--bootstrap-servers)");
        key(REGISTRY, "http://127.0.0.1:18081/apis/ccompat/v7", "Confluent-compatible schema registry (--registry)");
        key("group.id", "mw-mitigation-sink", "consumer group of the sink");
        key("topic.decisions", "mw.mitigation-decisions", "decisions topic (input)");
        key("topic.results", "mw.mitigation-results", "results topic (output; also read back at start-up for idempotency)");
        key("topic.dlq", "mw.mitigation-decisions.dlq", "dead-letter topic for undecodable decisions");
        key("topics.create", "true", "create the three topics when missing");
        key("netflow.targets", "", "host tag to mwcomms NetFlow address, e.g. host1=127.0.0.1:2055,host2=10.0.0.2:2055");
        key("netflow.default.target", "", "NetFlow address used for a host not listed in netflow.targets (empty: such decisions FAIL with EHOSTUNREACH)");
        key("netflow.request.timeout.ms", "1000", "wait for one response");
        key("netflow.max.retries", "3", "re-sends of a request that got no response (then TIMED_OUT)");
        key("netflow.retry.backoff.ms", "100", "pause before a re-send");
        key("netflow.connect.timeout.ms", "2000", "TCP connect timeout");
        key("netflow.reconnect.backoff.ms", "100", "first reconnect delay (doubles, with jitter)");
        key("netflow.reconnect.backoff.max.ms", "5000", "longest reconnect delay");
        key("netflow.unavailable.max.ms", "60000", "how long a decision waits for a lost mwcomms connection before TIMED_OUT");
        key("sink.batch.wait.ms", "200", "how long a poll waits for its own decisions before polling again (the rest go on in the background)");
        key("sink.parallelism", "16", "decisions on different targets (address, socket, INS) applied at once; same target: in order");
        key("sink.block.close.existing", "false", "BLOCK also closes the address's open connections (ADDRESS_BLOCK val 2, an extension; false = val 1 of the original protocol)");
        key("sink.unblock.on.expiry", "true", "send UNBLOCK when a BLOCK's ttl_ms runs out (turn off if the detector sends its own unblocks)");
        key("sink.state.dir", "", "directory for the pending-unblock file (empty: kept in memory only)");
        key("idempotency.window.ms", "86400000", "results younger than this are read back at start-up to skip already-handled decisions");
        key("idempotency.max.ids", "1000000", "most decision ids remembered (oldest forgotten first)");
        key("poll.timeout.ms", "100", "consumer poll timeout (also the granularity of the unblock timer)");
        key("ops.host", "127.0.0.1", "bind address of /health and /metrics");
        key("ops.port", "18094", "port of /health and /metrics (0 = ephemeral)");
    }

    private static void key(String k, String def, String help) {
        KEYS.put(k, new String[] {def, help});
    }

    private final Map<String, String> values;
    private final Map<String, InetSocketAddress> targets;
    private final InetSocketAddress defaultTarget;

    private SinkConfig(Map<String, String> values) {
        this.values = values;
        this.targets = parseTargets(get("netflow.targets"));
        String def = get("netflow.default.target").trim();
        this.defaultTarget = def.isEmpty() ? null : parseAddress("netflow.default.target", def);
        // Validate every number now, so a typo fails at start-up with the key's name.
        for (String k : KEYS.keySet()) {
            if (k.endsWith(".ms") || k.endsWith(".retries") || k.endsWith(".port") || k.endsWith(".ids")) {
                long v = num(k);
                if (v < 0) {
                    throw new IllegalArgumentException(k + " must not be negative, got " + v);
                }
            }
        }
        if (num("netflow.request.timeout.ms") == 0) {
            throw new IllegalArgumentException("netflow.request.timeout.ms must be > 0");
        }
        if (num("ops.port") > 65535) {
            throw new IllegalArgumentException("ops.port must be 0..65535, got " + num("ops.port"));
        }
        bool("topics.create");
        bool("sink.unblock.on.expiry");
        bool("sink.block.close.existing");
    }

    /** Defaults overridden by {@code props}. Unknown keys (other than {@code kafka.*}) are an error. */
    public static SinkConfig of(Map<String, String> props) {
        Map<String, String> v = new TreeMap<>();
        KEYS.forEach((k, d) -> v.put(k, d[0]));
        for (Map.Entry<String, String> e : props.entrySet()) {
            String k = e.getKey();
            if (!KEYS.containsKey(k) && !k.startsWith("kafka.")) {
                throw new IllegalArgumentException("unknown mitigation-sink config key '" + k
                        + "' (known: " + String.join(", ", KEYS.keySet()) + ", kafka.*)");
            }
            v.put(k, e.getValue() == null ? "" : e.getValue());
        }
        return new SinkConfig(v);
    }

    public static SinkConfig defaults() {
        return of(Map.of());
    }

    public String get(String key) {
        String v = values.get(key);
        if (v == null) {
            throw new IllegalArgumentException("no config key " + key);
        }
        return v;
    }

    long num(String key) {
        String v = get(key).trim();
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key + " must be an integer, got '" + v + "'");
        }
    }

    boolean bool(String key) {
        String v = get(key).trim().toLowerCase(java.util.Locale.ROOT);
        if (v.equals("true")) {
            return true;
        }
        if (v.equals("false")) {
            return false;
        }
        throw new IllegalArgumentException(key + " must be true or false, got '" + v + "'");
    }

    public String bootstrapServers() { return get(BOOTSTRAP); }
    public String registryUrl() { return get(REGISTRY); }
    public String groupId() { return get("group.id"); }
    public String decisionsTopic() { return get("topic.decisions"); }
    public String resultsTopic() { return get("topic.results"); }
    public String dlqTopic() { return get("topic.dlq"); }
    public boolean createTopics() { return bool("topics.create"); }
    public long requestTimeoutMs() { return num("netflow.request.timeout.ms"); }
    public int maxRetries() { return (int) num("netflow.max.retries"); }
    public long retryBackoffMs() { return num("netflow.retry.backoff.ms"); }
    public int connectTimeoutMs() { return (int) num("netflow.connect.timeout.ms"); }
    public long reconnectBackoffMs() { return num("netflow.reconnect.backoff.ms"); }
    public long reconnectBackoffMaxMs() { return num("netflow.reconnect.backoff.max.ms"); }
    public long unavailableMaxMs() { return num("netflow.unavailable.max.ms"); }
    public boolean unblockOnExpiry() { return bool("sink.unblock.on.expiry"); }
    public boolean blockClosesExisting() { return bool("sink.block.close.existing"); }
    public long batchWaitMs() { return num("sink.batch.wait.ms"); }
    public int parallelism() { return (int) Math.max(1, Math.min(256, num("sink.parallelism"))); }
    public long idempotencyWindowMs() { return num("idempotency.window.ms"); }
    public int idempotencyMaxIds() { return (int) Math.min(Integer.MAX_VALUE, num("idempotency.max.ids")); }
    public long pollTimeoutMs() { return num("poll.timeout.ms"); }
    public String opsHost() { return get("ops.host"); }
    public int opsPort() { return (int) num("ops.port"); }

    /** The pending-unblock state directory, or null when state is in memory only. */
    public Path stateDir() {
        String d = get("sink.state.dir").trim();
        return d.isEmpty() ? null : Path.of(d);
    }

    /** host tag -> NetFlow address, as configured. */
    public Map<String, InetSocketAddress> targets() {
        return targets;
    }

    /** The address for hosts not in {@link #targets()}, or null. */
    public InetSocketAddress defaultTarget() {
        return defaultTarget;
    }

    /** Kafka client properties: every {@code kafka.X=Y} as {@code X=Y} (bootstrap.servers included). */
    public Properties kafkaProperties() {
        Properties p = new Properties();
        values.forEach((k, v) -> {
            if (k.startsWith("kafka.")) {
                p.put(k.substring("kafka.".length()), v);
            }
        });
        return p;
    }

    static Map<String, InetSocketAddress> parseTargets(String spec) {
        Map<String, InetSocketAddress> m = new LinkedHashMap<>();
        if (spec == null || spec.isBlank()) {
            return m;
        }
        for (String part : spec.split(",")) {
            String p = part.trim();
            if (p.isEmpty()) {
                continue;
            }
            int eq = p.indexOf('=');
            if (eq <= 0 || eq == p.length() - 1) {
                throw new IllegalArgumentException("netflow.targets entry '" + p + "' is not HOST=ADDRESS:PORT");
            }
            String host = p.substring(0, eq).trim();
            if (m.put(host, parseAddress("netflow.targets entry " + host, p.substring(eq + 1).trim())) != null) {
                throw new IllegalArgumentException("netflow.targets names host '" + host + "' twice");
            }
        }
        return m;
    }

    static InetSocketAddress parseAddress(String what, String hp) {
        int colon = hp.lastIndexOf(':');
        if (colon <= 0 || colon == hp.length() - 1) {
            throw new IllegalArgumentException(what + ": '" + hp + "' is not ADDRESS:PORT");
        }
        String h = hp.substring(0, colon);
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(hp.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(what + ": port of '" + hp + "' is not a number");
        }
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException(what + ": port " + port + " is out of range 1..65535");
        }
        return new InetSocketAddress(h, port);
    }

    /** Every effective value (for the start-up log line). */
    public Map<String, String> asMap() {
        return new TreeMap<>(values);
    }
}
