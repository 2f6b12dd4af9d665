package io.magicwand.ingest;

import io.magicwand.avro.SocketEvent;
import io.magicwand.ingest.capture.CaptureWriter;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.apache.kafka.clients.producer.Producer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The ingest event loop: one {@link SourceClient} per configured NetFlow source, all feeding one
 * {@link EventSink}. Everything here runs on this verticle's context; the producer's blocking
 * close runs on a worker.
 */
public final class IngestVerticle extends VerticleBase {

    private static final Logger log = LoggerFactory.getLogger(IngestVerticle.class);

    private final IngestConfig config;
    private final Supplier<Producer<String, SocketEvent>> producerFactory;
    private final Map<String, SourceStats> stats;
    private final List<SourceClient> clients = new ArrayList<>();
    private volatile EventSink sink;
    private NetClient netClient;
    private CaptureWriter capture;
    private long flushTimer = -1;

    /**
     * @param stats per-host counters, one entry per configured source (owned by the caller so that
     *              /metrics can read them)
     */
    public IngestVerticle(IngestConfig config, Supplier<Producer<String, SocketEvent>> producerFactory,
                          Map<String, SourceStats> stats) {
        this.config = config;
        this.producerFactory = producerFactory;
        this.stats = stats;
    }

    @Override
    public Future<?> start() throws IOException {
        if (config.captureDir != null) {
            capture = new CaptureWriter(config.captureDir, "netflow", config.captureRotateBytes,
                    config.captureRotateSeconds * 1_000_000_000L);
            flushTimer = vertx.setPeriodic(1000, id -> flushCapture());
            log.info("capturing the raw NetFlow stream to {}", config.captureDir);
        }
        // Creating the producer loads classes and may look up the registry: not on the event loop.
        return vertx.executeBlocking(producerFactory::get, false).compose(this::startSources);
    }

    private Future<?> startSources(Producer<String, SocketEvent> producer) {
        sink = new EventSink(producer, config.topic, context, config.maxInFlight,
                new EventSink.Listener() {
                    @Override
                    public void produced(String host) {
                        stats.get(host).eventsProduced.increment();
                    }

                    @Override
                    public void failed(String host, Exception error) {
                        stats.get(host).produceErrors.increment();
                    }
                });
        netClient = vertx.createNetClient(new NetClientOptions()
                .setConnectTimeout(5000)
                .setTcpNoDelay(true)
                .setReceiveBufferSize(1 << 20));
        List<Future<Void>> started = new ArrayList<>();
        for (SourceSpec s : config.sources) {
            SourceClient c = new SourceClient(vertx, netClient, s, config.tokens.get(s.host()), sink,
                    stats.get(s.host()), capture, new Backoff(config.reconnectInitialMs, config.reconnectMaxMs));
            clients.add(c);
            started.add(c.start());
        }
        return Future.all(started);
    }

    private void flushCapture() {
        try {
            capture.flush();
        } catch (IOException e) {
            log.error("flushing the capture file {} failed: {}", capture.currentFile(), e.toString());
        }
    }

    @Override
    public Future<?> stop() {
        List<Future<Void>> stopped = new ArrayList<>();
        for (SourceClient c : clients) {
            stopped.add(c.stop());
        }
        if (flushTimer >= 0) {
            vertx.cancelTimer(flushTimer);
        }
        return Future.join(stopped)
                .transform(ar -> vertx.executeBlocking(() -> {
                    EventSink s = sink;
                    if (s != null) {
                        s.close(); // flushes what was sent, waits up to 30 s
                    }
                    if (capture != null) {
                        capture.close();
                    }
                    return null;
                }, false))
                .transform(ar -> netClient.close());
    }

    /** The sink, once started (for /health). */
    public EventSink sink() {
        return sink;
    }
}
