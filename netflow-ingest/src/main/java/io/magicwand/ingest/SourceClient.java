package io.magicwand.ingest;

import io.magicwand.avro.SocketEvent;
import io.magicwand.ingest.capture.CaptureWriter;
import io.magicwand.netflow.NetflowCodec;
import io.magicwand.netflow.NetflowFormatException;
import io.magicwand.netflow.NetflowInfo;
import io.magicwand.netflow.NetflowMessage;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetSocket;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One NetFlow source: connects, frames and decodes the stream, maps info records to events and
 * hands them to the {@link EventSink}; reconnects with backoff and jitter. Runs entirely on the
 * event loop of the verticle that created it.
 *
 * <p>Errors all end in {@link #drop}: a connect failure, a closed or reset connection, or garbage
 * (unknown signature, undecodable message). Everything decoded before the bad byte has already
 * been handed to the sink, so nothing already received is lost; a partial message at a disconnect
 * is counted and logged.
 */
public final class SourceClient {

    private static final Logger log = LoggerFactory.getLogger(SourceClient.class);

    private final Vertx vertx;
    private final NetClient client;
    private final SourceSpec spec;
    private final EventSink sink;
    private final SourceStats stats;
    private final CaptureWriter capture;
    private final Backoff backoff;
    private final SequenceTracker seq = new SequenceTracker();
    private final org.apache.kafka.clients.producer.Callback callback;

    private NetSocket socket;
    private NetflowFramer framer;
    private boolean paused;
    private boolean stopped;
    private long reconnectTimer = -1;
    private long connection; // counts connections, to ignore callbacks of an old one
    private Promise<Void> firstAttempt;

    public SourceClient(Vertx vertx, NetClient client, SourceSpec spec, EventSink sink, SourceStats stats,
                        CaptureWriter capture, Backoff backoff) {
        this.vertx = vertx;
        this.client = client;
        this.spec = spec;
        this.sink = sink;
        this.stats = stats;
        this.capture = capture;
        this.backoff = backoff;
        this.callback = sink.callbackFor(spec.host());
    }

    /** Starts connecting; the future completes after the first attempt, whatever its outcome. */
    public Future<Void> start() {
        firstAttempt = Promise.promise();
        connect();
        return firstAttempt.future();
    }

    private void connect() {
        reconnectTimer = -1;
        if (stopped) {
            return;
        }
        long conn = ++connection;
        client.connect(spec.port(), spec.address()).onComplete(ar -> {
            if (stopped || conn != connection) {
                if (ar.succeeded()) {
                    ar.result().close();
                }
                return;
            }
            if (ar.failed()) {
                stats.connectFailures.increment();
                scheduleReconnect("connect to " + spec.address() + ":" + spec.port() + " failed: "
                        + ar.cause().getMessage());
            } else {
                attach(ar.result(), conn);
            }
            completeFirstAttempt();
        });
    }

    private void completeFirstAttempt() {
        if (firstAttempt != null) {
            firstAttempt.tryComplete();
            firstAttempt = null;
        }
    }

    private void attach(NetSocket sock, long conn) {
        socket = sock;
        paused = false;
        seq.reset(); // a new connection is a new NetFlow client: its sequence starts afresh
        stats.connected = true;
        log.info("NetFlow source {}: connected to {}:{}", spec.host(), spec.address(), spec.port());
        NetflowFramer f = new NetflowFramer(this::onMessage);
        framer = f;
        sock.handler(buf -> {
            if (conn != connection) {
                return;
            }
            stats.bytesIn.add(buf.length());
            try {
                f.handle(buf);
            } catch (NetflowFormatException e) {
                stats.formatErrors.increment();
                log.error("NetFlow source {}: garbage in the stream at offset {}: {}; dropping the connection and"
                        + " reconnecting (the {} bytes before it were ingested)", spec.host(), e.streamOffset(),
                        e.getMessage(), e.streamOffset());
                drop(conn, null);
            }
        });
        sock.closeHandler(v -> drop(conn, "connection closed by the source"));
        sock.exceptionHandler(err -> drop(conn, "connection error: " + err.getMessage()));
    }

    private void onMessage(byte[] raw, long offset) {
        NetflowMessage msg;
        try {
            msg = NetflowCodec.decode(raw);
        } catch (NetflowFormatException e) {
            throw new NetflowFormatException("undecodable message: " + e.getMessage(), offset);
        }
        long nowMs;
        if (capture != null) {
            // One clock reading for both, so a replayed record carries the same ingest_ts_ms.
            java.time.Instant now = java.time.Instant.now();
            long nowNs = now.getEpochSecond() * 1_000_000_000L + now.getNano();
            nowMs = nowNs / 1_000_000L;
            try {
                capture.write(nowNs, spec.host(), raw);
            } catch (IOException e) {
                log.error("NetFlow source {}: writing the capture file {} failed: {} (ingest continues)",
                        spec.host(), capture.currentFile(), e.toString());
            }
        } else {
            nowMs = System.currentTimeMillis();
        }
        if (!(msg instanceof NetflowInfo info)) {
            stats.otherMessages.increment(); // responses to someone else's request: not telemetry
            return;
        }
        backoff.reset();
        switch (seq.observe(info.id())) {
            case GAP -> {
                stats.gaps.increment();
                stats.lostInGaps.add(seq.lastGapSize());
                log.warn("NetFlow source {}: sequence gap, {} record(s) missing before seq {} (offset {})",
                        spec.host(), seq.lastGapSize(), info.id(), offset);
            }
            case BACKWARDS -> {
                stats.sequenceResets.increment();
                log.warn("NetFlow source {}: sequence went back to {} (offset {}); the source restarted its"
                        + " numbering", spec.host(), info.id(), offset);
            }
            default -> { }
        }
        stats.eventsIn.increment();
        stats.lastObservedMs.lazySet(EventMapper.observedAtMs(info));
        SocketEvent ev = EventMapper.toEvent(spec.host(), info, nowMs);
        sink.send(spec.host(), EventMapper.key(spec.host(), info.sockfd()), ev, callback);
        if (!paused && sink.full()) {
            pauseReading();
        }
    }

    private void pauseReading() {
        paused = true;
        stats.pauses.increment();
        NetSocket s = socket;
        NetflowFramer f = framer;
        long conn = connection;
        s.pause();
        f.pause();
        sink.whenDrained(() -> {
            if (conn != connection || stopped) {
                return;
            }
            paused = false;
            f.resume(); // may deliver buffered messages and pause again
            if (!paused) {
                s.resume();
            }
        });
    }

    private void drop(long conn, String reason) {
        if (conn != connection || stopped) {
            return;
        }
        connection++; // ignore anything more from this socket
        stats.connected = false;
        NetflowFramer f = framer;
        if (f != null && f.pendingBytes() > 0 && !f.failed()) {
            stats.partialDropped.increment();
            log.warn("NetFlow source {}: the stream ended inside a message at offset {} ({} byte(s) of a partial"
                    + " message dropped)", spec.host(), f.offset(), f.pendingBytes());
        }
        if (socket != null) {
            socket.close();
            socket = null;
        }
        framer = null;
        scheduleReconnect(reason != null ? reason : "connection dropped after the bad bytes");
    }

    private void scheduleReconnect(String reason) {
        if (stopped) {
            return;
        }
        long delay = backoff.nextDelayMs();
        stats.reconnects.increment();
        log.warn("NetFlow source {}: {}; reconnecting in {} ms (attempt {})", spec.host(), reason, delay,
                backoff.attempts());
        reconnectTimer = vertx.setTimer(delay, id -> connect());
    }

    /** Stops reading and reconnecting. */
    public Future<Void> stop() {
        stopped = true;
        stats.connected = false;
        completeFirstAttempt();
        if (reconnectTimer >= 0) {
            vertx.cancelTimer(reconnectTimer);
        }
        if (socket != null) {
            NetSocket s = socket;
            socket = null;
            return s.close();
        }
        return Future.succeededFuture();
    }

    public SourceSpec spec() {
        return spec;
    }

    public SourceStats stats() {
        return stats;
    }
}
