package io.magicwand.sink;

import io.magicwand.config.CliConfig;
import io.magicwand.config.ConfigException;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Thin main of the mitigation sink: parse the command line, wire the parts, run until SIGTERM. */
public final class Main {
    private static final Logger log = LoggerFactory.getLogger(Main.class);

    private Main() {}

    static CliConfig.Spec spec() {
        return CliConfig.spec("mw-mitigation-sink",
                        "Applies mitigation decisions from Kafka as NetFlow feature requests to mwcomms and publishes "
                                + "the results. Every setting is also a --set KEY=VALUE (keys: "
                                + String.join(", ", SinkConfig.KEYS.keySet()) + ", kafka.*).")
                .option("netflow-targets", "netflow.targets", "HOST=ADDR:PORT,...", "mwcomms NetFlow address per host tag", null)
                .option("netflow", "netflow.default.target", "ADDR:PORT", "NetFlow address for hosts not in --netflow-targets", null)
                .option("kafka-config", "sink.kafka.config", "FILE", "Kafka client properties file (security.protocol, ssl.*, ...)", null)
                .option("state-dir", "sink.state.dir", "DIR", "where pending unblocks are kept across restarts", null)
                .option("ops-port", "ops.port", "PORT", "port of /health and /metrics", SinkConfig.KEYS.get("ops.port")[0]);
    }

    /** The sink's settings from a parsed command line (a Kafka client file's keys become kafka.*). */
    static SinkConfig config(CliConfig cli) {
        Map<String, String> m = new LinkedHashMap<>();
        String kfile = cli.asMap().get("sink.kafka.config");
        if (kfile != null && !kfile.isBlank()) {
            Properties p = new Properties();
            try (Reader r = Files.newBufferedReader(Path.of(kfile), StandardCharsets.UTF_8)) {
                p.load(r);
            } catch (IOException e) {
                throw new ConfigException("option --kafka-config: cannot read " + kfile + ": " + e.getMessage());
            }
            p.stringPropertyNames().forEach(k -> m.put("kafka." + k, p.getProperty(k).trim()));
        }
        cli.asMap().forEach((k, v) -> {
            if (v != null && !k.equals("sink.kafka.config")) {
                m.put(k, v);
            }
        });
        try {
            return SinkConfig.of(m);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(e.getMessage());
        }
    }

    public static void main(String[] args) throws Exception {
        CliConfig cli = spec().parseOrExit(args);
        SinkConfig cfg;
        try {
            cfg = config(cli);
        } catch (ConfigException e) {
            System.err.println("mw-mitigation-sink: " + e.getMessage());
            System.exit(2);
            return;
        }
        if (cfg.targets().isEmpty() && cfg.defaultTarget() == null) {
            System.err.println("mw-mitigation-sink: no NetFlow target: give --netflow-targets HOST=ADDR:PORT,... or --netflow ADDR:PORT");
            System.exit(2);
        }
        log.info("mitigation sink starting: {}", cfg.asMap());
        System.exit(run(cfg));
    }

    /** Runs the sink until SIGTERM/SIGINT; returns the exit status. */
    static int run(SinkConfig cfg) throws Exception {
        SinkService svc = SinkService.start(cfg);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            log.info("stopping: decisions in progress are not committed and will be redelivered");
            svc.close();
        }, "mitigation-sink-shutdown"));
        return svc.awaitTermination() ? 1 : 0;
    }

}
