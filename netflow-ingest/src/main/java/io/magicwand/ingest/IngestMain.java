package io.magicwand.ingest;

import io.magicwand.config.CliConfig;
import io.magicwand.config.ConfigException;
import io.magicwand.kafka.Topics;
import java.util.ArrayList;
import java.util.Properties;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Thin main of netflow-ingest: parse the command line into {@link IngestConfig}, make sure the
 * topic exists, start the ops endpoint and the ingest verticle, stop cleanly on SIGTERM.
 * A bad command line or config prints one line and exits 2.
 */
public final class IngestMain {

    private static final Logger log = LoggerFactory.getLogger(IngestMain.class);

    /** The command line; {@code --source} may be repeated (collected before CliConfig sees it). */
    public static final CliConfig.Spec SPEC = CliConfig.spec("mw-netflow-ingest",
                    "Reads NetFlow telemetry from one or more mwcomms endpoints and produces Avro SocketEvents to"
                            + " Kafka.")
            .option("source", IngestConfig.SOURCES, "HOST=ADDR:PORT", "a NetFlow endpoint and its host tag"
                    + " (repeatable; or a comma-separated list)", null)
            .option("token", IngestConfig.TOKEN_PREFIX + "HOST", "HOST=TOKEN", "NetFlow token of source HOST, sent"
                    + " first on every connection (repeatable; TOKEN or @FILE; or netflow.token.HOST in the config)",
                    null)
            .option("topic", IngestConfig.TOPIC, "TOPIC", "topic of the socket events", "mw.socket-events")
            .intOption("partitions", IngestConfig.PARTITIONS, "N", "partitions when creating the topic", 6)
            .option("compression", IngestConfig.COMPRESSION, "CODEC", "producer compression: none, gzip, snappy, lz4,"
                    + " zstd", "lz4")
            .option("capture-dir", IngestConfig.CAPTURE_DIR, "DIR", "also write the raw NetFlow stream to rotating"
                    + " capture files in DIR", null)
            .intOption("ops-port", IngestConfig.OPS_PORT, "PORT", "port of /health and /metrics", 18091)
            .option("ops-host", IngestConfig.OPS_HOST, "ADDR", "address of /health and /metrics", "127.0.0.1")
            .intOption("max-in-flight", IngestConfig.MAX_IN_FLIGHT, "N", "unacknowledged records before reading"
                    + " pauses", 50_000)
            .defaultValue(IngestConfig.BOOTSTRAP, "127.0.0.1:19092")
            .defaultValue(IngestConfig.REGISTRY, "http://127.0.0.1:18081/apis/ccompat/v7")
            .defaultValue(IngestConfig.REPLICATION, "1")
            .defaultValue(IngestConfig.RECONNECT_INITIAL, "100")
            .defaultValue(IngestConfig.RECONNECT_MAX, "10000")
            .defaultValue(IngestConfig.CAPTURE_ROTATE_BYTES, String.valueOf(256L << 20))
            .defaultValue(IngestConfig.CAPTURE_ROTATE_SECONDS, "3600");

    private IngestMain() {}

    public static void main(String[] args) {
        IngestConfig cfg;
        try {
            cfg = parse(args);
            if (cfg == null) {
                System.out.print(SPEC.helpText());
                System.exit(0);
                return;
            }
        } catch (ConfigException | IllegalArgumentException e) {
            System.err.println("mw-netflow-ingest: " + e.getMessage());
            System.exit(2);
            return;
        }
        System.exit(run(cfg));
    }

    /** Parses the command line; null when --help was asked for. */
    public static IngestConfig parse(String[] args) {
        List<String> rest = new ArrayList<>();
        List<String> sources = new ArrayList<>();
        java.util.Map<String, String> tokens = new java.util.LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--source")) {
                if (i + 1 >= args.length) {
                    throw new ConfigException("option --source needs a value: --source HOST=ADDR:PORT");
                }
                sources.add(args[++i]);
            } else if (a.startsWith("--source=")) {
                sources.add(a.substring("--source=".length()));
            } else if (a.equals("--token") || a.startsWith("--token=")) {
                String v;
                if (a.equals("--token")) {
                    if (i + 1 >= args.length) {
                        throw new ConfigException("option --token needs a value: --token HOST=TOKEN");
                    }
                    v = args[++i];
                } else {
                    v = a.substring("--token=".length());
                }
                int eq = v.indexOf('=');
                if (eq <= 0) {
                    throw new ConfigException("bad --token value: expected HOST=TOKEN (or HOST=@FILE)");
                }
                tokens.put(IngestConfig.TOKEN_PREFIX + v.substring(0, eq), v.substring(eq + 1));
            } else {
                rest.add(a);
            }
        }
        CliConfig c = SPEC.parse(rest.toArray(new String[0]));
        if (c.helpRequested()) {
            return null;
        }
        java.util.Map<String, String> props = new java.util.LinkedHashMap<>(c.asMap());
        if (!sources.isEmpty()) {
            String joined = String.join(",", sources);
            String fromConfig = props.get(IngestConfig.SOURCES);
            props.put(IngestConfig.SOURCES, fromConfig == null || fromConfig.isBlank() ? joined
                    : fromConfig + "," + joined);
        }
        props.putAll(tokens); // --token overrides netflow.token.HOST of the config file
        IngestConfig cfg = IngestConfig.fromProperties(props);
        if (cfg.sources.isEmpty()) {
            throw new ConfigException("no NetFlow source: give --source HOST=ADDR:PORT (or netflow.sources in the"
                    + " config file)");
        }
        return cfg;
    }

    /** Runs until SIGTERM/SIGINT; returns the exit code. */
    static int run(IngestConfig cfg) {
        log.info("netflow-ingest starting: {}", cfg);
        try {
            ensureTopic(cfg);
        } catch (RuntimeException e) {
            log.error("cannot create or check topic {} on {}: {} (is Kafka running? see ./mw status)", cfg.topic,
                    cfg.bootstrapServers, e.getMessage());
            return 1;
        }
        IngestService svc = new IngestService(cfg);
        AutoCloseable ops;
        try {
            ops = OpsEndpoint.start(cfg, svc);
        } catch (Exception e) {
            log.error("cannot start the ops endpoint on {}:{}: {} (port in use? set --ops-port)", cfg.opsHost,
                    cfg.opsPort, e.getMessage());
            svc.close();
            return 1;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            log.info("netflow-ingest stopping (flushing the producer)");
            svc.close();
            try {
                ops.close();
            } catch (Exception e) {
                log.warn("closing the ops endpoint: {}", e.toString());
            }
            log.info("netflow-ingest stopped");
            stopped.countDown();
            // log4j2's own shutdown hook is disabled (log4j2.xml) so that the lines above get out.
            org.apache.logging.log4j.LogManager.shutdown();
        }, "ingest-shutdown"));
        try {
            svc.start().toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            log.error("netflow-ingest failed to start: {}", e.toString());
            return 1;
        }
        log.info("netflow-ingest running: {} source(s), ops on http://{}:{}/health", cfg.sources.size(),
                cfg.opsHost, cfg.opsPort);
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 0;
    }

    /** Creates the topic with the configured partitions if it is missing. */
    static void ensureTopic(IngestConfig cfg) {
        Properties p = new Properties();
        p.putAll(cfg.adminProperties());
        Topics.ensure(p, cfg.topic, cfg.partitions, cfg.replication);
    }
}
