package io.magicwand.ingest;

import io.magicwand.avro.SocketEvent;
import io.magicwand.ingest.capture.CaptureWriter;
import io.magicwand.netflow.FeatureResponse;
import io.magicwand.netflow.NetflowAuth;
import io.magicwand.netflow.NetflowCodec;
import io.magicwand.netflow.NetflowFormatException;
import io.magicwand.netflow.NetflowInfo;
import io.magicwand.netflow.NetflowMessage;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
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
 *
 * <p>With a token, every connection starts with the auth message (0xd330, docs/protocol.md); the
 * source answers with a feature response carrying {@link #AUTH_ID}: status 0, or EACCES and a
 * disconnect. Until then {@link SourceStats#connected} stays false. A refusal is counted
 * ({@link SourceStats#authFailures}), logged with what to check, and retried with the backoff (the
 * token may be fixed on the source's side). Records arriving before the answer are ingested: a
 * source sends them only when it needs no token.
 */
public final class SourceClient {

    private static final Logger log = LoggerFactory.getLogger(SourceClient.class);
    /** Id of the auth message; the ingest sends no other request, so its answer is unambiguous. */
    static final long AUTH_ID = 1;
    private static final int EACCES = 13;
    private static final int EPROTO = 71;

    private final Vertx vertx;
    private final NetClient client;
    private final SourceSpec spec;
    private final byte[] authMessage; // null without a token
    private final EventSink sink;
    private final SourceStats stats;
    private final CaptureWriter capture;
    private final Backoff backoff;
    private final SequenceTracker seq = new SequenceTracker();
    private final org.apache.kafka.clients.producer.Callback callback;

    private NetSocket socket;
    private NetflowFramer framer;
    private boolean paused;
    private boolean authPending;
    private boolean stopped;
    private long reconnectTimer = -1;
    private long connection; // counts connections, to ignore callbacks of an old one
    private Promise<Void> firstAttempt;

    /**
     * @param token the source's NetFlow token (1..64 bytes), or null when it needs none
     */
    public SourceClient(Vertx vertx, NetClient client, SourceSpec spec, byte[] token, EventSink sink,
                        SourceStats stats, CaptureWriter capture, Backoff backoff) {
        this.vertx = vertx;
        this.client = client;
        this.spec = spec;
        this.authMessage = token == null ? null : NetflowCodec.encode(new NetflowAuth(AUTH_ID, token));
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
        authPending = authMessage != null;
        if (authPending) {
            log.info("NetFlow source {}: connected to {}:{}, sending the token", spec.host(), spec.address(),
                    spec.port());
            sock.write(Buffer.buffer(authMessage)); // the first bytes of the connection
        } else {
            stats.connected = true;
            log.info("NetFlow source {}: connected to {}:{}", spec.host(), spec.address(), spec.port());
        }
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
        sock.closeHandler(v -> drop(conn, authPending
                ? "connection closed by the source before it answered the token handshake"
                : "connection closed by the source"));
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
        if (authPending && msg instanceof FeatureResponse r && (r.id() == AUTH_ID || r.status() == EPROTO)) {
            onAuthAnswer(r);
            return;
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

    private void onAuthAnswer(FeatureResponse r) {
        long conn = connection;
        authPending = false;
        if (r.isOk()) {
            stats.connected = true;
            log.info("NetFlow source {}: token accepted, receiving the stream", spec.host());
            return;
        }
        stats.authFailures.increment();
        String why = r.status() == EACCES
                ? "refused the token (EACCES): check " + IngestConfig.TOKEN_PREFIX + spec.host()
                        + " against the token mwcomms was started with"
                : r.status() == EPROTO
                        ? "does not know the token handshake (EPROTO): it is not mwcomms or predates the auth"
                                + " extension; remove " + IngestConfig.TOKEN_PREFIX + spec.host()
                        : "answered the token handshake with status " + r.status();
        log.error("NetFlow source {} ({}:{}) {}", spec.host(), spec.address(), spec.port(), why);
        if (framer != null) {
            framer.pause(); // nothing after a refusal belongs to us: deliver no more of this connection
        }
        drop(conn, "token handshake failed");
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
