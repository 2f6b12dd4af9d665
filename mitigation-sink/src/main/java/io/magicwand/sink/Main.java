package io.magicwand.sink;

import io.magicwand.avro.MitigationDecision;
import io.magicwand.avro.MitigationResult;
import io.magicwand.avro.ResultStatus;
import io.magicwand.config.CliConfig;
import io.magicwand.config.ConfigException;
import io.magicwand.kafka.ClientProps;
import io.magicwand.kafka.Topics;
import io.magicwand.ops.Health;
import io.magicwand.ops.OpsServer;
import io.magicwand.serde.AvroSerde;
import io.magicwand.serde.AvroSerdes;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
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
        Properties base = cfg.kafkaProperties();
        if (cfg.createTopics()) {
            try (Admin admin = Admin.create(ClientProps.admin(base, "mw-mitigation-sink-admin"))) {
                Topics.ensure(admin, cfg.decisionsTopic(), 1, 0);
                // Results are the idempotency record (key = decision id): compaction keeps the latest per id.
                Topics.ensure(admin, cfg.resultsTopic(), 1, 0, Map.of("cleanup.policy", "compact,delete",
                        "retention.ms", Long.toString(Math.max(cfg.idempotencyWindowMs(), 7L * 24 * 3600 * 1000))),
                        Topics.DEFAULT_TIMEOUT);
                Topics.ensure(admin, cfg.dlqTopic(), 1, 0);
            }
        }
        Map<String, Object> serdeCfg = Map.of("schema.registry.url", cfg.registryUrl());
        SinkMetrics metrics = new SinkMetrics();
        metrics.registry().registerJvmMetrics();
        AppliedIds applied = new AppliedIds(cfg.idempotencyMaxIds());
        Properties cprops = ClientProps.consumer(base, cfg.groupId(), "mw-mitigation-sink");
        cprops.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        cprops.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        cprops.putIfAbsent(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "100");
        applied.loadFrom(cprops, cfg.resultsTopic(), cfg.idempotencyWindowMs(), System.currentTimeMillis());
        Properties pprops = ClientProps.producer(base, "mw-mitigation-sink");
        pprops.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        pprops.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        pprops.put(ProducerConfig.LINGER_MS_CONFIG, "0"); // one result at a time, waited for: no batching delay

        BanScheduler bans = new BanScheduler(cfg.stateDir());
        try (AvroSerde<MitigationDecision> dserde = AvroSerdes.specific(MitigationDecision.class, serdeCfg, false);
             AvroSerde<MitigationResult> rserde = AvroSerdes.specific(MitigationResult.class, serdeCfg, false);
             NetflowTargets targets = new NetflowTargets(cfg);
             KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(cprops);
             KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(pprops)) {
            targets.connectAll();
            RequestExecutor executor = new RequestExecutor(targets, cfg, Clock.systemUTC(), metrics);
            MitigationSink sink = new MitigationSink(cfg, consumer, producer, dserde.deserializer(), rserde.serializer(),
                    executor, applied, bans, Clock.systemUTC(), metrics);
            metrics.registry().gauge("mw_sink_pending_unblocks", "Bans waiting for their unblock", bans::size);
            metrics.registry().gauge("mw_sink_known_decision_ids", "Decision ids remembered for idempotency", applied::size);
            for (Map.Entry<String, NetflowConnection> e : targets.snapshot().entrySet()) {
                NetflowConnection c = e.getValue();
                metrics.registry().gauge("mw_sink_netflow_connected", "1 while the NetFlow connection is up",
                        Map.of("host", c.host()), () -> c.isConnected() ? 1 : 0);
                metrics.registry().counterFunction("mw_sink_netflow_reconnects_total", "NetFlow connections lost",
                        Map.of("host", c.host()), c::disconnects);
            }
            try (OpsServer ops = OpsServer.start(cfg.opsHost(), cfg.opsPort(), metrics.registry(),
                    () -> health(sink, targets, metrics, cfg))) {
                Thread loop = new Thread(sink, "mitigation-sink");
                Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                    log.info("stopping: decisions in progress are not committed and will be redelivered");
                    sink.stop();
                    try {
                        loop.join(15_000);
                    } catch (InterruptedException ignored) {
                        Thread.currentThread().interrupt();
                    }
                }, "mitigation-sink-shutdown"));
                loop.start();
                loop.join();
                return sink.failed() ? 1 : 0;
            }
        }
    }

    static Health health(MitigationSink sink, NetflowTargets targets, SinkMetrics m, SinkConfig cfg) {
        Map<String, Object> d = new LinkedHashMap<>();
        Map<String, Object> nf = new LinkedHashMap<>();
        targets.snapshot().forEach((h, c) -> nf.put(c.host(), Map.of("address", c.address().toString(),
                "connected", c.isConnected(), "last_error", c.isConnected() ? "" : c.lastError())));
        d.put("netflow", nf);
        d.put("received", m.receivedCount());
        d.put("applied", m.resultCount(ResultStatus.APPLIED));
        d.put("dlq", m.dlqCount());
        if (!sink.isRunning()) {
            return Health.down("sink loop stopped: " + sink.lastError(), d);
        }
        long age = System.currentTimeMillis() - sink.lastPollMs();
        // A single decision may legitimately wait for an unreachable mwcomms (netflow.unavailable.max.ms);
        // beyond that the loop is stuck.
        if (age > cfg.unavailableMaxMs() + 60_000) {
            return Health.down("no poll for " + age + " ms", d);
        }
        // A lost NetFlow connection is reported but is not "unhealthy": the sink keeps retrying and
        // reports every decision it cannot apply.
        return Health.up(d);
    }
}
