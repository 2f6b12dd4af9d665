package io.magicwand.ingest;

import io.magicwand.avro.SocketEvent;
import io.magicwand.serde.AvroSerializer;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.ThreadingModel;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.magicwand.ops.Health;
import io.magicwand.ops.Metrics;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The running ingest service: its Vert.x instance, the verticle, the per-host counters, and the
 * health and metrics views the ops endpoint serves. Used by {@link IngestMain}, the benchmark and
 * the integration tests, so they all run the same code.
 */
public final class IngestService implements AutoCloseable {

    static {
        // The generated SocketEvent has hand-written field coders (customEncode); Avro uses them
        // only when asked. Same bytes, a fraction of the reflective writer's cost per event.
        org.apache.avro.specific.SpecificData.getForClass(SocketEvent.class).setCustomCoders(true);
    }

    private final IngestConfig config;
    private final Map<String, SourceStats> stats;
    private final Vertx vertx;
    private final Metrics metrics = new Metrics();
    private IngestVerticle verticle;
    private String deploymentId;

    public IngestService(IngestConfig config) {
        this.config = config;
        Map<String, SourceStats> m = new LinkedHashMap<>();
        for (SourceSpec s : config.sources) {
            m.put(s.host(), new SourceStats(s.host()));
        }
        this.stats = Collections.unmodifiableMap(m);
        registerMetrics();
        this.vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1).setWorkerPoolSize(2)
                .setBlockedThreadCheckInterval(5).setBlockedThreadCheckIntervalUnit(TimeUnit.SECONDS));
    }

    /** Creates the producer: plain KafkaProducer with the project's Avro serializer. */
    public static Producer<String, SocketEvent> createProducer(IngestConfig config) {
        Map<String, Object> props = new HashMap<>(config.producerProperties());
        AvroSerializer<SocketEvent> ser = new AvroSerializer<>();
        ser.configure(props, false);
        // Register (or look up) the schema now, on the caller's worker thread, rather than on the
        // event loop at the first record; an unreachable registry fails the start with its reason.
        try {
            ser.serialize(config.topic, EventMapper.toEvent("-", new io.magicwand.netflow.NetflowInfo(0, 0, 0, 0, 0, 0,
                    0, io.magicwand.netflow.Endpoint.NONE, io.magicwand.netflow.Endpoint.NONE, 0, 0, 0), 0));
        } catch (org.apache.kafka.common.errors.SerializationException e) {
            ser.close();
            throw new IllegalStateException("schema registry " + config.registryUrl + ": " + e.getMessage(), e);
        }
        props.remove("schema.registry.url"); // ours, not the producer's (avoids an unknown-config warning)
        return new KafkaProducer<>(props, new StringSerializer(), ser);
    }

    /** Deploys the ingest verticle; completes when every source made its first connection attempt. */
    public Future<String> start() {
        verticle = new IngestVerticle(config, () -> createProducer(config), stats);
        return vertx.deployVerticle(verticle, new DeploymentOptions().setThreadingModel(ThreadingModel.EVENT_LOOP))
                .onSuccess(id -> deploymentId = id);
    }

    public Map<String, SourceStats> stats() {
        return stats;
    }

    public IngestConfig config() {
        return config;
    }

    /** Every source connected and the producer not failing. */
    public boolean healthy() {
        EventSink s = verticle == null ? null : verticle.sink();
        if (s == null || !s.healthy()) {
            return false;
        }
        for (SourceStats st : stats.values()) {
            if (!st.connected) {
                return false;
            }
        }
        return true;
    }

    /** The /health view: UP when {@link #healthy()}, with per-source details either way. */
    public Health health() {
        EventSink s = verticle == null ? null : verticle.sink();
        Map<String, Object> details = new LinkedHashMap<>();
        Map<String, Object> producer = new LinkedHashMap<>();
        producer.put("healthy", s != null && s.healthy());
        if (s != null) {
            producer.put("inFlight", s.inFlight());
            producer.put("maxInFlight", s.maxInFlight());
            if (!s.healthy() && s.lastError() != null) {
                producer.put("lastError", s.lastError().toString());
            }
        }
        details.put("producer", producer);
        List<Object> sources = new ArrayList<>();
        List<String> down = new ArrayList<>();
        for (SourceSpec spec : config.sources) {
            SourceStats st = stats.get(spec.host());
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("host", spec.host());
            m.put("address", spec.address() + ":" + spec.port());
            m.put("connected", st.connected);
            m.put("events", st.eventsIn.sum());
            sources.add(m);
            if (!st.connected) {
                down.add(spec.host());
            }
        }
        details.put("sources", sources);
        if (s == null) {
            return Health.down("ingest not started", details);
        }
        if (!s.healthy()) {
            return Health.down("Kafka producer failing: " + s.lastError(), details);
        }
        if (!down.isEmpty()) {
            return Health.down("NetFlow source(s) not connected: " + String.join(", ", down), details);
        }
        return Health.up(details);
    }

    /** The metrics registry (per-host series are read from {@link SourceStats} at scrape time). */
    public Metrics metrics() {
        return metrics;
    }

    private void registerMetrics() {
        for (SourceStats s : stats.values()) {
            Map<String, String> l = Map.of("host", s.host);
            counter(l, "mw_ingest_events_in_total", "NetFlow info records received and decoded", s.eventsIn);
            counter(l, "mw_ingest_events_produced_total", "SocketEvents acknowledged by Kafka", s.eventsProduced);
            counter(l, "mw_ingest_produce_errors_total", "SocketEvents Kafka failed to take", s.produceErrors);
            counter(l, "mw_ingest_reconnects_total", "reconnect attempts after a failure or disconnect", s.reconnects);
            counter(l, "mw_ingest_sequence_gaps_total", "gaps in the NetFlow sequence numbers", s.gaps);
            counter(l, "mw_ingest_records_lost_in_gaps_total", "records missing in sequence gaps", s.lostInGaps);
            counter(l, "mw_ingest_sequence_resets_total", "times a source's sequence went backwards", s.sequenceResets);
            counter(l, "mw_ingest_format_errors_total", "connections dropped for garbage in the stream", s.formatErrors);
            counter(l, "mw_ingest_partial_messages_dropped_total", "disconnects in the middle of a message",
                    s.partialDropped);
            counter(l, "mw_ingest_other_messages_total", "non-info NetFlow messages received (ignored)", s.otherMessages);
            counter(l, "mw_ingest_auth_failures_total", "token handshakes the NetFlow source refused",
                    s.authFailures);
            counter(l, "mw_ingest_bytes_in_total", "NetFlow bytes received", s.bytesIn);
            counter(l, "mw_ingest_backpressure_pauses_total", "times reading paused because Kafka lagged", s.pauses);
            metrics.gauge("mw_ingest_source_connected", "1 when connected to the NetFlow source", l,
                    () -> s.connected ? 1 : 0);
            metrics.gauge("mw_ingest_lag_seconds", "now minus the observation time of the last record", l,
                    () -> s.lagSeconds(System.currentTimeMillis()));
        }
        metrics.gauge("mw_ingest_in_flight_records", "records sent to Kafka and not yet acknowledged", () -> {
            EventSink sk = verticle == null ? null : verticle.sink();
            return sk == null ? 0 : sk.inFlight();
        });
        metrics.gauge("mw_ingest_up", "1 when every source is connected and the producer is healthy",
                () -> healthy() ? 1 : 0);
        metrics.registerJvmMetrics();
    }

    private void counter(Map<String, String> labels, String name, String help, java.util.concurrent.atomic.LongAdder a) {
        metrics.counterFunction(name, help, labels, a::sum);
    }

    public Vertx vertx() {
        return vertx;
    }

    /** Undeploys (flushing the producer) and closes Vert.x; waits up to a minute. */
    @Override
    public void close() {
        try {
            if (deploymentId != null) {
                vertx.undeploy(deploymentId).toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
            }
        } catch (Exception e) {
            org.slf4j.LoggerFactory.getLogger(IngestService.class).warn("stopping ingest: {}", e.toString());
        } finally {
            try {
                vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                org.slf4j.LoggerFactory.getLogger(IngestService.class).warn("closing Vert.x: {}", e.toString());
            }
        }
    }
}
