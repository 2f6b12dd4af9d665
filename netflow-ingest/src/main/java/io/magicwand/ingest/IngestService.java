package io.magicwand.ingest;

import io.magicwand.avro.SocketEvent;
import io.magicwand.serde.AvroSerializer;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.ThreadingModel;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import java.util.Collections;
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

    private final IngestConfig config;
    private final Map<String, SourceStats> stats;
    private final Vertx vertx;
    private IngestVerticle verticle;
    private String deploymentId;

    public IngestService(IngestConfig config) {
        this.config = config;
        Map<String, SourceStats> m = new LinkedHashMap<>();
        for (SourceSpec s : config.sources) {
            m.put(s.host(), new SourceStats(s.host()));
        }
        this.stats = Collections.unmodifiableMap(m);
        this.vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1).setWorkerPoolSize(2)
                .setBlockedThreadCheckInterval(5).setBlockedThreadCheckIntervalUnit(TimeUnit.SECONDS));
    }

    /** Creates the producer: plain KafkaProducer with the project's Avro serializer. */
    public static Producer<String, SocketEvent> createProducer(IngestConfig config) {
        Map<String, Object> props = new HashMap<>(config.producerProperties());
        AvroSerializer<SocketEvent> ser = new AvroSerializer<>();
        ser.configure(props, false);
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

    /** The JSON body of /health. */
    public String healthJson() {
        EventSink s = verticle == null ? null : verticle.sink();
        StringBuilder sb = new StringBuilder();
        sb.append("{\"status\":\"").append(healthy() ? "UP" : "DOWN").append("\",\"producer\":{\"healthy\":")
                .append(s != null && s.healthy());
        if (s != null) {
            sb.append(",\"inFlight\":").append(s.inFlight()).append(",\"maxInFlight\":").append(s.maxInFlight());
            if (s.lastError() != null && !s.healthy()) {
                sb.append(",\"lastError\":\"").append(jsonEscape(s.lastError().toString())).append('"');
            }
        }
        sb.append("},\"sources\":[");
        boolean first = true;
        for (SourceSpec spec : config.sources) {
            SourceStats st = stats.get(spec.host());
            if (!first) {
                sb.append(',');
            }
            first = false;
            sb.append("{\"host\":\"").append(jsonEscape(spec.host())).append("\",\"address\":\"")
                    .append(jsonEscape(spec.address() + ":" + spec.port())).append("\",\"connected\":")
                    .append(st.connected).append(",\"events\":").append(st.eventsIn.sum()).append('}');
        }
        return sb.append("]}").toString();
    }

    /** Prometheus text exposition of the ingest counters, per host. */
    public String metricsText() {
        long now = System.currentTimeMillis();
        StringBuilder sb = new StringBuilder(2048);
        counter(sb, "mw_ingest_events_in_total", "NetFlow info records received and decoded", s -> s.eventsIn.sum());
        counter(sb, "mw_ingest_events_produced_total", "SocketEvents acknowledged by Kafka", s -> s.eventsProduced.sum());
        counter(sb, "mw_ingest_produce_errors_total", "SocketEvents Kafka failed to take", s -> s.produceErrors.sum());
        counter(sb, "mw_ingest_reconnects_total", "reconnect attempts after a failure or disconnect", s -> s.reconnects.sum());
        counter(sb, "mw_ingest_sequence_gaps_total", "gaps in the NetFlow sequence numbers", s -> s.gaps.sum());
        counter(sb, "mw_ingest_records_lost_in_gaps_total", "records missing in sequence gaps", s -> s.lostInGaps.sum());
        counter(sb, "mw_ingest_sequence_resets_total", "times a source's sequence went backwards", s -> s.sequenceResets.sum());
        counter(sb, "mw_ingest_format_errors_total", "connections dropped for garbage in the stream", s -> s.formatErrors.sum());
        counter(sb, "mw_ingest_partial_messages_dropped_total", "disconnects in the middle of a message", s -> s.partialDropped.sum());
        counter(sb, "mw_ingest_other_messages_total", "non-info NetFlow messages received (ignored)", s -> s.otherMessages.sum());
        counter(sb, "mw_ingest_bytes_in_total", "NetFlow bytes received", s -> s.bytesIn.sum());
        counter(sb, "mw_ingest_backpressure_pauses_total", "times reading paused because Kafka lagged", s -> s.pauses.sum());
        gauge(sb, "mw_ingest_source_connected", "1 when connected to the NetFlow source", s -> s.connected ? 1 : 0);
        gauge(sb, "mw_ingest_lag_seconds", "now minus the observation time of the last record", s -> s.lagSeconds(now));
        EventSink sk = verticle == null ? null : verticle.sink();
        sb.append("# HELP mw_ingest_in_flight_records records sent to Kafka and not yet acknowledged\n")
                .append("# TYPE mw_ingest_in_flight_records gauge\nmw_ingest_in_flight_records ")
                .append(sk == null ? 0 : sk.inFlight()).append('\n');
        sb.append("# HELP mw_ingest_up 1 when every source is connected and the producer is healthy\n")
                .append("# TYPE mw_ingest_up gauge\nmw_ingest_up ").append(healthy() ? 1 : 0).append('\n');
        return sb.toString();
    }

    private void counter(StringBuilder sb, String name, String help, java.util.function.ToLongFunction<SourceStats> f) {
        sb.append("# HELP ").append(name).append(' ').append(help).append('\n');
        sb.append("# TYPE ").append(name).append(" counter\n");
        for (SourceStats s : stats.values()) {
            sb.append(name).append("{host=\"").append(labelEscape(s.host)).append("\"} ").append(f.applyAsLong(s))
                    .append('\n');
        }
    }

    private void gauge(StringBuilder sb, String name, String help, java.util.function.ToDoubleFunction<SourceStats> f) {
        sb.append("# HELP ").append(name).append(' ').append(help).append('\n');
        sb.append("# TYPE ").append(name).append(" gauge\n");
        for (SourceStats s : stats.values()) {
            sb.append(name).append("{host=\"").append(labelEscape(s.host)).append("\"} ").append(f.applyAsDouble(s))
                    .append('\n');
        }
    }

    static String labelEscape(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }

    static String jsonEscape(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (char ch : s.toCharArray()) {
            switch (ch) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                default -> {
                    if (ch < 0x20) {
                        sb.append(String.format("\\u%04x", (int) ch));
                    } else {
                        sb.append(ch);
                    }
                }
            }
        }
        return sb.toString();
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
