package io.magicwand.testkit;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import kafka.tools.StorageTool;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.utils.Time;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An in-process, single-node Apache Kafka broker for integration tests: one KRaft server in combined
 * broker+controller mode on loopback ports, with its data in a temporary directory.
 *
 * <p>It is set up the way an operator would: a generated {@code server.properties}, the storage
 * formatted with {@link StorageTool} (the class behind {@code kafka-storage.sh format}), then
 * {@link KafkaRaftServer} (what {@code kafka-server-start.sh} runs in KRaft mode) started with that
 * config. The controller quorum is static ({@code controller.quorum.voters}), so nothing about the
 * ports is written into the formatted storage.
 *
 * <pre>{@code
 * try (EmbeddedKafkaBroker kafka = new EmbeddedKafkaBroker().start()) {
 *     kafka.createTopic("mw.socket-events", 3);
 *     props.put("bootstrap.servers", kafka.bootstrapServers());
 *     ...
 * }
 * }</pre>
 *
 * Ports are ephemeral (chosen when first started) and kept across {@link #restart()}, so clients
 * configured with {@link #bootstrapServers()} reconnect to the restarted broker.
 */
public final class EmbeddedKafkaBroker implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(EmbeddedKafkaBroker.class);
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(90);
    private static final int NODE_ID = 1;

    private final Map<String, String> overrides;
    private Path dir;
    private Path configFile;
    private int brokerPort;
    private int controllerPort;
    private KafkaRaftServer server;
    private boolean formatted;
    private boolean closed;
    private Thread cleanupHook;

    /** A broker with the defaults below. */
    public EmbeddedKafkaBroker() {
        this(Map.of());
    }

    /**
     * A broker with extra or overriding broker properties (for example
     * {@code auto.create.topics.enable=false}). Listener, port, node and directory settings are
     * managed here and cannot be overridden.
     */
    public EmbeddedKafkaBroker(Map<String, String> brokerOverrides) {
        this.overrides = Map.copyOf(brokerOverrides);
    }

    /**
     * Formats the storage (first time only) and starts the broker; returns when it accepts client
     * requests.
     *
     * @throws IllegalStateException when the broker does not come up (the message says why)
     */
    public synchronized EmbeddedKafkaBroker start() {
        if (closed) {
            throw new IllegalStateException("broker was closed");
        }
        if (server != null) {
            return this;
        }
        try {
            if (dir == null) {
                dir = Files.createTempDirectory("mw-kafka-");
                Path created = dir;
                // The hook must not take this object's lock: a test thread stuck in start() would
                // otherwise keep the JVM from exiting.
                cleanupHook = new Thread(() -> deleteTree(created), "mw-kafka-cleanup");
                Runtime.getRuntime().addShutdownHook(cleanupHook);
            }
            boolean fixedPorts = brokerPort != 0;
            for (int attempt = 1; ; attempt++) {
                if (!fixedPorts) {
                    brokerPort = freePort();
                    controllerPort = freePort();
                }
                writeConfig();
                if (!formatted) {
                    format();
                    formatted = true;
                }
                try {
                    startServer();
                    break;
                } catch (RuntimeException e) {
                    stopServer();
                    // Another process may grab a probed port between probe and bind; retry with new ports
                    // on the first start, or wait for the old ports to be released on restart.
                    if (!isBindFailure(e) || attempt >= 5) {
                        throw e;
                    }
                    log.warn("port {} or {} was taken, retrying ({})", brokerPort, controllerPort, e.toString());
                    sleep(500L * attempt);
                }
            }
            awaitReady();
            log.info("embedded Kafka broker up at {} (data in {})", bootstrapServers(), dir);
            return this;
        } catch (IOException e) {
            stopServer();
            throw new UncheckedIOException("embedded Kafka broker: cannot prepare " + dir, e);
        } catch (RuntimeException e) {
            stopServer();
            throw new IllegalStateException("embedded Kafka broker did not start (data dir " + dir + "): " + e, e);
        }
    }

    /** {@code 127.0.0.1:PORT} of the PLAINTEXT listener. */
    public synchronized String bootstrapServers() {
        if (brokerPort == 0) {
            throw new IllegalStateException("broker not started yet");
        }
        return "127.0.0.1:" + brokerPort;
    }

    /** The broker's PLAINTEXT port (stable across {@link #restart()}). */
    public synchronized int port() {
        return brokerPort;
    }

    /** The data directory (log.dirs), a temporary directory deleted by {@link #close()}. */
    public synchronized Path dataDir() {
        return dir;
    }

    /** True while the broker runs. */
    public synchronized boolean isRunning() {
        return server != null;
    }

    /** Creates a topic with replication factor 1 and waits until every partition has a leader. */
    public void createTopic(String name, int partitions) {
        createTopic(name, partitions, Map.of());
    }

    /** Creates a topic with topic-level configs (e.g. {@code cleanup.policy=compact}); waits for leaders. */
    public void createTopic(String name, int partitions, Map<String, String> topicConfigs) {
        try (Admin admin = admin()) {
            try {
                admin.createTopics(List.of(new NewTopic(name, partitions, (short) 1).configs(topicConfigs)))
                        .all().get(30, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof TopicExistsException)) {
                    throw new IllegalStateException("cannot create topic " + name + ": " + e.getCause(), e.getCause());
                }
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (true) {
                try {
                    TopicDescription d = admin.describeTopics(Set.of(name)).allTopicNames().get(10, TimeUnit.SECONDS).get(name);
                    if (d.partitions().size() == partitions && d.partitions().stream().allMatch(p -> p.leader() != null && !p.leader().isEmpty())) {
                        return;
                    }
                } catch (ExecutionException e) {
                    // metadata not propagated yet (UnknownTopicOrPartition): retry below
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("topic " + name + " has no leader for every partition after 30 s");
                }
                sleep(50);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating topic " + name, e);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("timed out creating topic " + name, e);
        }
    }

    /** An Admin client for this broker (the caller closes it). */
    public Admin admin() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "20000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
        return Admin.create(p);
    }

    /** Stops the broker (keeping its data); {@link #start()} brings it back on the same ports. */
    public synchronized void stop() {
        stopServer();
    }

    /** Stops the broker and starts it again with the same data directory and the same ports. */
    public synchronized void restart() {
        if (server == null && !formatted) {
            throw new IllegalStateException("broker was never started");
        }
        stopServer();
        start();
    }

    /** Stops the broker and deletes its data directory. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        stopServer();
        deleteDir();
        if (cleanupHook != null) {
            try {
                Runtime.getRuntime().removeShutdownHook(cleanupHook);
            } catch (IllegalStateException shuttingDown) {
                // the JVM is exiting; the hook runs anyway and finds nothing left to delete
            }
        }
    }

    // ---- internals -------------------------------------------------------------------------

    private void writeConfig() throws IOException {
        Map<String, String> c = new LinkedHashMap<>();
        // Defaults suited to a single node; callers may override these.
        c.put("num.partitions", "1");
        c.put("default.replication.factor", "1");
        c.put("min.insync.replicas", "1");
        c.put("offsets.topic.replication.factor", "1");
        c.put("offsets.topic.num.partitions", "3");
        c.put("transaction.state.log.replication.factor", "1");
        c.put("transaction.state.log.min.isr", "1");
        c.put("transaction.state.log.num.partitions", "3");
        c.put("share.coordinator.state.topic.replication.factor", "1");
        c.put("share.coordinator.state.topic.min.isr", "1");
        c.put("group.initial.rebalance.delay.ms", "0");
        c.put("log.segment.bytes", Integer.toString(16 * 1024 * 1024));
        c.put("auto.create.topics.enable", "true");
        c.putAll(overrides);
        // Managed settings: the listeners, the quorum and the data directory.
        c.put("process.roles", "broker,controller");
        c.put("node.id", Integer.toString(NODE_ID));
        c.put("controller.quorum.voters", NODE_ID + "@127.0.0.1:" + controllerPort);
        c.put("listeners", "PLAINTEXT://127.0.0.1:" + brokerPort + ",CONTROLLER://127.0.0.1:" + controllerPort);
        c.put("advertised.listeners", "PLAINTEXT://127.0.0.1:" + brokerPort);
        c.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        c.put("controller.listener.names", "CONTROLLER");
        c.put("inter.broker.listener.name", "PLAINTEXT");
        c.put("log.dirs", dir.resolve("logs").toString());

        configFile = dir.resolve("server.properties");
        Properties props = new Properties();
        props.putAll(c);
        try (Writer w = Files.newBufferedWriter(configFile, StandardCharsets.UTF_8)) {
            props.store(w, "generated by io.magicwand.testkit.EmbeddedKafkaBroker");
        }
    }

    /** {@code kafka-storage.sh format --cluster-id ID --config server.properties}, in process. */
    private void format() {
        String clusterId = Uuid.randomUuid().toString();
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        int rc;
        try (PrintStream out = new PrintStream(captured, true, StandardCharsets.UTF_8)) {
            rc = StorageTool.execute(new String[] {"format", "--cluster-id", clusterId, "--config", configFile.toString()}, out);
        }
        if (rc != 0) {
            throw new IllegalStateException("formatting the storage in " + dir + " failed (exit " + rc + "): "
                    + captured.toString(StandardCharsets.UTF_8).strip());
        }
    }

    private void startServer() {
        Properties props = new Properties();
        try (var r = Files.newBufferedReader(configFile, StandardCharsets.UTF_8)) {
            props.load(r);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        KafkaRaftServer s = new KafkaRaftServer(KafkaConfig.fromProps(props, false), Time.SYSTEM);
        server = s;
        s.startup();
    }

    private void awaitReady() {
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        Exception last = null;
        try (Admin admin = admin()) {
            while (System.nanoTime() < deadline) {
                try {
                    if (!admin.describeCluster().nodes().get(10, TimeUnit.SECONDS).isEmpty()) {
                        return;
                    }
                } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
                    last = e;
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while waiting for the broker", e);
                }
                sleep(100);
            }
        }
        throw new IllegalStateException("broker at " + bootstrapServers() + " did not serve within "
                + READY_TIMEOUT.toSeconds() + " s" + (last != null ? ": " + last : ""));
    }

    private void stopServer() {
        KafkaRaftServer s = server;
        server = null;
        if (s == null) {
            return;
        }
        try {
            s.shutdown();
            s.awaitShutdown();
        } catch (RuntimeException e) {
            log.warn("embedded Kafka broker shutdown: {}", e.toString());
        }
    }

    private void deleteDir() {
        deleteTree(dir);
    }

    private static void deleteTree(Path d) {
        if (d == null || !Files.exists(d)) {
            return;
        }
        try (Stream<Path> s = Files.walk(d)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException | UncheckedIOException e) {
            log.warn("cannot delete {}: {}", d, e.toString());
        }
    }

    private static boolean isBindFailure(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof BindException || String.valueOf(t.getMessage()).contains("Address already in use")) {
                return true;
            }
        }
        return false;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0));
            return s.getLocalPort();
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
