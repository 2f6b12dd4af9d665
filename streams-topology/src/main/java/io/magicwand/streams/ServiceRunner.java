package io.magicwand.streams;

import io.magicwand.config.CliConfig;
import io.magicwand.kafka.ClientProps;
import io.magicwand.kafka.Topics;
import io.magicwand.ops.Health;
import io.magicwand.ops.Metrics;
import io.magicwand.ops.OpsServer;
import io.magicwand.streams.internal.Counters;
import io.magicwand.streams.internal.DeadLetters;
import io.magicwand.streams.internal.Settings;
import io.magicwand.streams.internal.StreamsAppSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The lifecycle both apps share: parse the command line, build the topology, create missing topics,
 * run Kafka Streams with a state listener, an uncaught-exception handler (replace the thread) and a
 * shutdown hook, and serve /health (RUNNING or REBALANCING = up) and /metrics.
 */
final class ServiceRunner {
    private static final Logger LOG = LoggerFactory.getLogger(ServiceRunner.class);
    static final String OPS_PORT = "ops.port";
    static final String STATE_DIR = "state.dir";
    static final String CREATE_TOPICS = "create.topics";
    private static final Set<String> CLI_ONLY = Set.of(OPS_PORT, STATE_DIR, CREATE_TOPICS);

    /** What differs between the two apps. */
    interface App<C extends StreamsAppSettings> {
        C config(Map<String, String> settings);

        void build(StreamsBuilder builder, C config, Counters counters);

        String applicationId(C config);

        String registryUrl(C config);

        /** The topics the app reads (each also gets a dead-letter topic). */
        List<String> inputTopics(C config);
    }

    private ServiceRunner() {
    }

    static <C extends StreamsAppSettings> int run(String program, String description, int defaultOpsPort, App<C> app,
                                        Function<Map<String, String>, C> defaultsForHelp, String[] args) {
        CliConfig.Spec spec = CliConfig.spec(program, description)
                .option("state-dir", STATE_DIR, "DIR", "Kafka Streams state directory", defaultStateDir(program))
                .intOption("ops-port", OPS_PORT, "PORT", "port of /health and /metrics on 127.0.0.1 (0 = ephemeral)", defaultOpsPort)
                .defaultValue(CliConfig.BOOTSTRAP_SERVERS, "127.0.0.1:19092")
                .defaultValue(CliConfig.REGISTRY_URL, "http://127.0.0.1:18081/apis/ccompat/v7")
                .defaultValue(CREATE_TOPICS, "true");
        C config;
        CliConfig cfg;
        try {
            cfg = spec.parse(args);
            if (cfg.helpRequested()) {
                System.out.println(cfg.helpText());
                System.out.println("\nSettings (--set KEY=VALUE), with defaults:");
                for (Settings.Key k : defaultsForHelp.apply(Map.of()).declaredKeys()) {
                    System.out.printf("  %-28s %-40s %s%n", k.name(), k.dflt(), k.doc());
                }
                System.out.println("  kafka.<property>              Kafka Streams/client property, e.g. --set kafka.num.stream.threads=2");
                return 0;
            }
            Map<String, String> settings = new LinkedHashMap<>();
            cfg.asMap().forEach((k, v) -> {
                if (!CLI_ONLY.contains(k)) {
                    settings.put(k, v);
                }
            });
            config = app.config(settings);
        } catch (io.magicwand.config.ConfigException | org.apache.kafka.common.config.ConfigException e) {
            System.err.println(program + ": error: " + e.getMessage());
            return 2;
        }
        String bootstrap = cfg.bootstrapServers();
        Path stateDir = Path.of(cfg.get(STATE_DIR));
        try {
            Files.createDirectories(stateDir);
        } catch (IOException e) {
            System.err.println(program + ": error: cannot create state directory " + stateDir + ": " + e.getMessage());
            return 1;
        }
        LOG.info("{} starting: bootstrap {}, registry {}, state {}, application.id {}", program, bootstrap,
                app.registryUrl(config), stateDir, app.applicationId(config));

        Map<String, String> kafka = new HashMap<>(config.kafkaProperties());
        if (cfg.getBoolean(CREATE_TOPICS)) {
            try {
                ensureTopics(app, config, kafka);
            } catch (RuntimeException e) {
                System.err.println(program + ": error: cannot create topics on " + bootstrap + ": " + e.getMessage()
                        + " (is Kafka running? give --bootstrap-servers)");
                return 1;
            }
        }

        Counters counters = new Counters();
        StreamsBuilder builder = new StreamsBuilder();
        app.build(builder, config, counters);
        Topology topology = builder.build();
        LOG.info("topology:\n{}", topology.describe());
        Map<String, String> overrides = new HashMap<>(kafka);
        overrides.remove("bootstrap.servers");
        Properties props = StreamsSettings.streamsProperties(app.applicationId(config), bootstrap, stateDir.toString(), overrides);
        KafkaStreams streams = new KafkaStreams(topology, props);

        Metrics metrics = new Metrics().registerJvmMetrics();
        ScheduledExecutorService exporter = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, program + "-metrics");
            t.setDaemon(true);
            return t;
        });
        Set<String> exported = ConcurrentHashMap.newKeySet();
        Runnable export = () -> exportCounters(metrics, counters, exported);
        export.run();
        exporter.scheduleAtFixedRate(export, 1, 1, TimeUnit.SECONDS);
        metrics.counterFunction("mw_dead_letters_total", "records sent to a dead-letter topic", Map.of(), () -> DeadLetters.COUNT.get());
        registerStreamsMetrics(metrics, streams);

        CountDownLatch done = new CountDownLatch(1);
        AtomicBoolean failed = new AtomicBoolean();
        streams.setStateListener((now, before) -> {
            LOG.info("state {} -> {}", before, now);
            if (now == KafkaStreams.State.ERROR) {
                failed.set(true);
                done.countDown();
            } else if (now == KafkaStreams.State.NOT_RUNNING) {
                done.countDown();
            }
        });
        streams.setUncaughtExceptionHandler(e -> {
            LOG.error("stream thread failed; replacing it (the failed task is retried from its last commit)", e);
            counters.inc("mw_stream_thread_failures_total");
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.REPLACE_THREAD;
        });
        OpsServer ops;
        try {
            ops = OpsServer.start(cfg.getInt(OPS_PORT), metrics, () -> health(streams));
        } catch (IOException e) {
            System.err.println(program + ": error: " + e.getMessage());
            streams.close();
            return 1;
        }
        LOG.info("ops endpoint {}", ops.url());
        Thread hook = new Thread(() -> {
            LOG.info("shutting down");
            streams.close(Duration.ofSeconds(30));
            done.countDown();
        }, program + "-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        streams.start();
        try {
            done.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        streams.close(Duration.ofSeconds(30));
        ops.close();
        exporter.shutdownNow();
        if (failed.get()) {
            System.err.println(program + ": error: Kafka Streams entered ERROR state (see the log above)");
            return 1;
        }
        return 0;
    }

    static Health health(KafkaStreams streams) {
        KafkaStreams.State s = streams.state();
        Map<String, Object> details = Map.of("state", s.name());
        return s == KafkaStreams.State.RUNNING || s == KafkaStreams.State.REBALANCING
                ? Health.up(details) : Health.down("kafka streams state " + s, details);
    }

    private static <C extends StreamsAppSettings> void ensureTopics(App<C> app, C config, Map<String, String> kafka) {
        Properties base = new Properties();
        base.putAll(kafka);
        try (Admin admin = Admin.create(ClientProps.admin(base, "mw-" + app.applicationId(config) + "-admin"))) {
            int partitions = config.topicPartitions();
            short replication = config.topicReplication();
            for (String in : app.inputTopics(config)) {
                Topics.ensure(admin, in, partitions, replication);
                Topics.ensure(admin, DeadLetters.topicFor(in), partitions, replication);
            }
            for (String out : config.outputTopics()) {
                Topics.ensure(admin, out, partitions, replication);
            }
        }
    }

    private static final Pattern NAME = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(.*)})?");
    private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"([^\"]*)\"");

    /** Counters appear when first bumped (labels such as the decision kind are open-ended). */
    static void exportCounters(Metrics metrics, Counters counters, Set<String> exported) {
        for (String full : counters.snapshot().keySet()) {
            if (!exported.add(full)) {
                continue;
            }
            Matcher m = NAME.matcher(full);
            if (!m.matches()) {
                continue;
            }
            Map<String, String> labels = new LinkedHashMap<>();
            if (m.group(3) != null) {
                Matcher l = LABEL.matcher(m.group(3));
                while (l.find()) {
                    labels.put(l.group(1), l.group(2));
                }
            }
            try {
                metrics.counterFunction(m.group(1), m.group(1).replace('_', ' '), labels, () -> counters.get(full));
            } catch (RuntimeException e) {
                LOG.warn("cannot export counter {}: {}", full, e.getMessage());
            }
        }
    }

    /** A few Kafka Streams client/thread metrics, summed over threads. */
    private static void registerStreamsMetrics(Metrics metrics, KafkaStreams streams) {
        for (String[] m : List.of(
                new String[] {"process-total", "stream-thread-metrics", "mw_streams_process_total", "records processed by stream threads"},
                new String[] {"punctuate-total", "stream-thread-metrics", "mw_streams_punctuate_total", "punctuations run"},
                new String[] {"commit-total", "stream-thread-metrics", "mw_streams_commit_total", "commits"},
                new String[] {"process-rate", "stream-thread-metrics", "mw_streams_process_rate", "records processed per second"},
                new String[] {"alive-stream-threads", "stream-metrics", "mw_streams_alive_threads", "live stream threads"})) {
            boolean counter = m[0].endsWith("-total");
            java.util.function.DoubleSupplier s = () -> sum(streams, m[0], m[1]);
            if (counter) {
                metrics.counterFunction(m[2], m[3], Map.of(), s);
            } else {
                metrics.gauge(m[2], m[3], s);
            }
        }
        metrics.gauge("mw_streams_state_running", "1 when Kafka Streams is RUNNING or REBALANCING", () -> health(streams).healthy() ? 1 : 0);
    }

    private static double sum(KafkaStreams streams, String name, String group) {
        double total = 0;
        for (Map.Entry<MetricName, ? extends Metric> e : streams.metrics().entrySet()) {
            if (e.getKey().name().equals(name) && e.getKey().group().equals(group)) {
                Object v = e.getValue().metricValue();
                if (v instanceof Number n && !Double.isNaN(n.doubleValue())) {
                    total += n.doubleValue();
                }
            }
        }
        return total;
    }

    private static String defaultStateDir(String program) {
        return Path.of(System.getProperty("java.io.tmpdir"), program).toString();
    }
}
