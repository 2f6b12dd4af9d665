package io.magicwand.sink;

import io.magicwand.avro.MitigationDecision;
import io.magicwand.avro.MitigationResult;
import io.magicwand.avro.ResultStatus;
import io.magicwand.kafka.ClientProps;
import io.magicwand.kafka.Topics;
import io.magicwand.ops.Health;
import io.magicwand.ops.OpsServer;
import io.magicwand.serde.AvroSerde;
import io.magicwand.serde.AvroSerdes;
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

/**
 * The running sink: Kafka clients, NetFlow connections, the loop thread and the ops endpoint, wired
 * from a {@link SinkConfig}. {@link Main} runs one until SIGTERM; integration tests start and stop
 * them directly.
 */
public final class SinkService implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SinkService.class);

    private final SinkConfig cfg;
    private final SinkMetrics metrics;
    private final NetflowTargets targets;
    private final AvroSerde<MitigationDecision> dserde;
    private final AvroSerde<MitigationResult> rserde;
    private final KafkaConsumer<byte[], byte[]> consumer;
    private final KafkaProducer<byte[], byte[]> producer;
    private final MitigationSink sink;
    private final Thread loop;
    private final OpsServer ops;
    private boolean closed;

    private SinkService(SinkConfig cfg) throws Exception {
        this.cfg = cfg;
        Properties base = cfg.kafkaProperties();
        if (cfg.createTopics()) {
            try (Admin admin = Admin.create(ClientProps.admin(base, "mw-mitigation-sink-admin"))) {
                Topics.ensure(admin, cfg.decisionsTopic(), 1, 0);
                // Results are also the idempotency record (key = decision id): compaction keeps the
                // latest result per id, time retention bounds the rest.
                Topics.ensure(admin, cfg.resultsTopic(), 1, 0, Map.of("cleanup.policy", "compact,delete",
                        "retention.ms", Long.toString(Math.max(cfg.idempotencyWindowMs(), 7L * 24 * 3600 * 1000))),
                        Topics.DEFAULT_TIMEOUT);
                Topics.ensure(admin, cfg.dlqTopic(), 1, 0);
            }
        }
        Map<String, Object> serdeCfg = Map.of("schema.registry.url", cfg.registryUrl());
        metrics = new SinkMetrics();
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

        dserde = AvroSerdes.specific(MitigationDecision.class, serdeCfg, false);
        rserde = AvroSerdes.specific(MitigationResult.class, serdeCfg, false);
        targets = new NetflowTargets(cfg);
        consumer = new KafkaConsumer<>(cprops);
        producer = new KafkaProducer<>(pprops);
        targets.connectAll();
        RequestExecutor executor = new RequestExecutor(targets, cfg, Clock.systemUTC(), metrics);
        sink = new MitigationSink(cfg, consumer, producer, dserde.deserializer(), rserde.serializer(), executor, applied,
                bans, Clock.systemUTC(), metrics);
        metrics.registry().gauge("mw_sink_pending_unblocks", "Bans waiting for their unblock", bans::size);
        metrics.registry().gauge("mw_sink_known_decision_ids", "Decision ids remembered for idempotency", applied::size);
        for (NetflowConnection c : targets.snapshot().values()) {
            metrics.registry().gauge("mw_sink_netflow_connected", "1 while the NetFlow connection is up",
                    Map.of("host", c.host()), () -> c.isConnected() ? 1 : 0);
            metrics.registry().counterFunction("mw_sink_netflow_reconnects_total", "NetFlow connections lost",
                    Map.of("host", c.host()), c::disconnects);
        }
        ops = OpsServer.start(cfg.opsHost(), cfg.opsPort(), metrics.registry(), this::health);
        loop = new Thread(sink, "mitigation-sink");
        loop.start();
    }

    /** Builds and starts everything; fails with a clear exception when Kafka or the ops port is not usable. */
    public static SinkService start(SinkConfig cfg) throws Exception {
        return new SinkService(cfg);
    }

    public SinkMetrics metrics() {
        return metrics;
    }

    /** The ops endpoint's base URL, e.g. http://127.0.0.1:18094. */
    public String opsUrl() {
        return ops.url();
    }

    /** Waits for the loop to end; true when it ended on an error. */
    public boolean awaitTermination() throws InterruptedException {
        loop.join();
        return sink.failed();
    }

    Health health() {
        Map<String, Object> d = new LinkedHashMap<>();
        Map<String, Object> nf = new LinkedHashMap<>();
        targets.snapshot().values().forEach(c -> nf.put(c.host(), Map.of("address", c.address().toString(),
                "connected", c.isConnected(), "last_error", c.isConnected() ? "" : c.lastError())));
        d.put("netflow", nf);
        d.put("received", metrics.receivedCount());
        d.put("applied", metrics.resultCount(ResultStatus.APPLIED));
        d.put("dlq", metrics.dlqCount());
        if (!sink.isRunning()) {
            return Health.down("sink loop stopped" + (sink.lastError().isEmpty() ? "" : ": " + sink.lastError()), d);
        }
        long age = System.currentTimeMillis() - sink.lastPollMs();
        // One decision may legitimately wait netflow.unavailable.max.ms for a lost mwcomms; longer is stuck.
        if (age > cfg.unavailableMaxMs() + 60_000) {
            return Health.down("no poll for " + age + " ms", d);
        }
        // A lost NetFlow connection is shown but is not "down": the sink reconnects by itself and
        // reports every decision it cannot apply.
        return Health.up(d);
    }

    /** Stops the loop (in-flight decisions are redelivered later), then closes everything. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        sink.stop();
        try {
            loop.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (loop.isAlive()) {
            log.warn("sink loop did not stop within 30 s");
        }
        ops.close();
        closeQuietly(consumer);
        closeQuietly(producer);
        targets.close();
        dserde.close();
        rserde.close();
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            log.warn("error while closing {}: {}", c.getClass().getSimpleName(), e.toString());
        }
    }
}
