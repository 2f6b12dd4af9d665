package io.magicwand.sink;

import io.magicwand.netflow.FeatureRequest;
import io.magicwand.netflow.FeatureResponse;
import io.magicwand.netflow.NetflowCodec;
import io.magicwand.netflow.NetflowFormatException;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One NetFlow client connection to one mwcomms, kept up by a dedicated thread.
 *
 * <p>Why blocking sockets and a thread: the sink sends a handful of 46-byte requests per decision
 * and waits for each answer, so one reader thread per mwcomms is the simplest design that is
 * obviously correct. The reader frames the stream by signature ({@link NetflowCodec#messageLength})
 * and skips info records (every client gets the whole telemetry stream) without decoding them, so a
 * busy stream costs little. Responses complete the pending request with the same id.
 *
 * <p>When the connection drops, every pending request fails with {@link NetflowUnavailableException}
 * (the caller retries it after the reconnect) and the thread reconnects with exponential backoff and
 * jitter. Garbage on the stream (an unknown signature) cannot be resynchronised: the connection is
 * closed and re-made, and the error is logged with the stream offset.
 */
public final class NetflowConnection implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(NetflowConnection.class);

    /** Extension signature of a socket snapshot record (native/include/mw/netflow.h). */
    static final int SIG_SNAPSHOT = 0xd311;

    private final String host;
    private final InetSocketAddress address;
    private final int connectTimeoutMs;
    private final long backoffMinMs;
    private final long backoffMaxMs;
    private final Map<Long, CompletableFuture<FeatureResponse>> pending = new ConcurrentHashMap<>();
    private final AtomicLong nextId = new AtomicLong(1);
    private final Object stateLock = new Object();
    private final Object writeLock = new Object();
    private final Thread thread;
    private final AtomicLong connects = new AtomicLong();
    private final AtomicLong disconnects = new AtomicLong();
    private final AtomicLong staleResponses = new AtomicLong();
    private volatile Socket socket;
    private volatile OutputStream out;
    private volatile boolean closed;
    private volatile String lastError = "not connected yet";

    public NetflowConnection(String host, InetSocketAddress address, int connectTimeoutMs, long backoffMinMs,
                             long backoffMaxMs) {
        this.host = host;
        this.address = address;
        this.connectTimeoutMs = connectTimeoutMs;
        this.backoffMinMs = Math.max(1, backoffMinMs);
        this.backoffMaxMs = Math.max(this.backoffMinMs, backoffMaxMs);
        this.thread = new Thread(this::run, "netflow-" + host);
        this.thread.setDaemon(true);
    }

    /** Starts the connect/read thread. */
    public NetflowConnection start() {
        thread.start();
        return this;
    }

    public String host() {
        return host;
    }

    public InetSocketAddress address() {
        return address;
    }

    public boolean isConnected() {
        return out != null;
    }

    public long connects() {
        return connects.get();
    }

    public long disconnects() {
        return disconnects.get();
    }

    /** Responses whose request was no longer waiting (answered after its timeout). */
    public long staleResponses() {
        return staleResponses.get();
    }

    public String lastError() {
        return lastError;
    }

    /** Waits up to {@code timeoutMs} for the connection to be up; true when it is. */
    public boolean awaitConnected(long timeoutMs) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        synchronized (stateLock) {
            while (out == null && !closed) {
                long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                if (left <= 0) {
                    return false;
                }
                stateLock.wait(left);
            }
            return out != null;
        }
    }

    /**
     * Sends {@code request} with a fresh request id and returns the future of its response. The
     * future fails with {@link NetflowUnavailableException} when the connection drops before the
     * answer; the caller owns the timeout (and should {@link #cancel} the id when it gives up).
     *
     * @return the id used and the future
     * @throws NetflowUnavailableException when not connected or the write fails
     */
    public Pending send(FeatureRequest request) throws NetflowUnavailableException {
        long id = allocateId();
        FeatureRequest withId = DecisionMapper.withId(request, id);
        byte[] bytes = NetflowCodec.encode(withId);
        CompletableFuture<FeatureResponse> f = new CompletableFuture<>();
        synchronized (writeLock) {
            OutputStream o = out;
            if (o == null) {
                throw new NetflowUnavailableException("NetFlow connection to " + host + " (" + address + ") is down: "
                        + lastError);
            }
            pending.put(id, f);
            try {
                o.write(bytes);
                o.flush();
            } catch (IOException e) {
                pending.remove(id);
                lastError = "write failed: " + e.getMessage();
                closeSocketQuietly();
                throw new NetflowUnavailableException("NetFlow write to " + host + " (" + address + ") failed: "
                        + e.getMessage());
            }
        }
        return new Pending(withId, f);
    }

    /** Forgets a request that the caller gave up on; a late answer is then counted as stale. */
    public void cancel(long id) {
        pending.remove(id);
    }

    /** A request on the wire and the future of its response. */
    public record Pending(FeatureRequest request, CompletableFuture<FeatureResponse> response) {}

    private long allocateId() {
        // u32 ids, never 0 (0 is what an uninitialised field looks like on the wire).
        while (true) {
            long id = nextId.getAndIncrement() & 0xFFFF_FFFFL;
            if (id != 0 && !pending.containsKey(id)) {
                return id;
            }
        }
    }

    private void run() {
        long backoff = backoffMinMs;
        while (!closed) {
            Socket s = new Socket();
            boolean wasUp = false;
            try {
                s.setTcpNoDelay(true);
                s.setKeepAlive(true);
                s.connect(address, connectTimeoutMs);
                synchronized (stateLock) {
                    if (closed) {
                        s.close();
                        break;
                    }
                    socket = s;
                    out = s.getOutputStream();
                    stateLock.notifyAll();
                }
                wasUp = true;
                connects.incrementAndGet();
                backoff = backoffMinMs;
                log.info("NetFlow connection to {} ({}) established", host, address);
                readLoop(s.getInputStream());
                lastError = "connection closed by mwcomms";
            } catch (NetflowFormatException e) {
                lastError = "bad NetFlow stream: " + e.getMessage();
                log.error("NetFlow stream from {} ({}) is not valid at offset {}: {}; reconnecting", host, address,
                        e.streamOffset(), e.getMessage());
            } catch (IOException e) {
                lastError = (wasUp ? "read failed: " : "connect failed: ") + e.getMessage();
            } finally {
                synchronized (writeLock) {
                    synchronized (stateLock) {
                        out = null;
                        socket = null;
                    }
                }
                try {
                    s.close();
                } catch (IOException ignored) {
                    // already broken
                }
                failPending();
            }
            if (closed) {
                break;
            }
            if (wasUp) {
                disconnects.incrementAndGet();
                log.warn("NetFlow connection to {} ({}) lost ({}); reconnecting", host, address, lastError);
            } else {
                log.warn("cannot connect to mwcomms NetFlow of {} at {} ({}); retrying in {} ms (is mwcomms running?)",
                        host, address, lastError, backoff);
            }
            try {
                long jitter = ThreadLocalRandom.current().nextLong(backoff / 4 + 1);
                Thread.sleep(backoff + jitter);
            } catch (InterruptedException e) {
                break;
            }
            backoff = Math.min(backoffMaxMs, backoff * 2);
        }
    }

    private void readLoop(InputStream raw) throws IOException {
        DataInputStream in = new DataInputStream(new BufferedInputStream(raw, 64 * 1024));
        byte[] msg = new byte[NetflowCodec.MAX_LEN];
        long offset = 0;
        while (!closed) {
            int hi = in.read();
            if (hi < 0) {
                return; // clean EOF between messages
            }
            int sig = (hi << 8) | in.readUnsignedByte();
            // 0xd311 (socket snapshot, extension) has the info layout; the sink never asks for it, but
            // it must still be framed correctly if another feature of the server sends it.
            int len = sig == SIG_SNAPSHOT ? NetflowCodec.INFO_LEN : NetflowCodec.messageLength(sig);
            if (len < 0) {
                throw new NetflowFormatException(String.format("unknown signature 0x%04x", sig), offset);
            }
            {
                if (sig != NetflowCodec.SIG_RESPONSE) {
                    in.skipNBytes(len - 2); // info records (and echoed requests) are not for the sink
                } else {
                    msg[0] = (byte) (sig >>> 8);
                    msg[1] = (byte) sig;
                    in.readFully(msg, 2, len - 2);
                    byte[] exact = java.util.Arrays.copyOf(msg, len);
                    FeatureResponse r = (FeatureResponse) NetflowCodec.decode(exact);
                    CompletableFuture<FeatureResponse> f = pending.remove(r.id());
                    if (f != null) {
                        f.complete(r);
                    } else {
                        staleResponses.incrementAndGet();
                        log.debug("NetFlow response id {} from {} matches no pending request (late or not ours)",
                                r.id(), host);
                    }
                }
            }
            offset += len;
        }
    }

    private void failPending() {
        for (Long id : pending.keySet()) {
            CompletableFuture<FeatureResponse> f = pending.remove(id);
            if (f != null) {
                f.completeExceptionally(new NetflowUnavailableException("NetFlow connection to " + host
                        + " lost before the response to request " + id + ": " + lastError));
            }
        }
    }

    private void closeSocketQuietly() {
        Socket s = socket;
        if (s != null) {
            try {
                s.close(); // the reader thread sees the error and reconnects
            } catch (IOException ignored) {
                // nothing more to do
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        synchronized (stateLock) {
            stateLock.notifyAll();
        }
        closeSocketQuietly();
        thread.interrupt();
        try {
            thread.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        failPending();
    }
}
