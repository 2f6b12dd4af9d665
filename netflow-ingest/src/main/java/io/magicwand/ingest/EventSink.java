package io.magicwand.ingest;

import io.magicwand.avro.SocketEvent;
import io.vertx.core.Context;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Kafka side of ingest: a plain {@link Producer} whose completion callbacks are bridged back
 * to the owning Vert.x event loop. It bounds the records sent but not yet acknowledged: when
 * {@link #full()} the sources pause their sockets and register {@link #whenDrained}, which runs on
 * the event loop once the unacknowledged count falls to the low-water mark. Memory stays bounded
 * and Kafka's slowness turns into TCP backpressure towards mwcomms.
 *
 * <p>The callbacks run on the producer's I/O thread and only touch atomics, except for errors
 * and the drain notification, which hop to the event loop with one {@code runOnContext} each.
 */
public final class EventSink implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(EventSink.class);

    /** Per-host counters updated from the producer callback. */
    public interface Listener {
        void produced(String host);

        void failed(String host, Exception error);
    }

    private final Producer<String, SocketEvent> producer;
    private final String topic;
    private final Context context;
    private final int high;
    private final int low;
    private final Listener listener;
    /** Records handed to send(); written only by the event loop. */
    private long sent;
    /** Records completed (acked or failed); written only by the producer's I/O thread. */
    private final AtomicLong completed = new AtomicLong();
    private final AtomicBoolean drainScheduled = new AtomicBoolean();
    private volatile boolean waiting;
    /** {@link #sent} when reading paused (no send happens while paused), for the I/O thread. */
    private volatile long sentSnapshot;
    private final List<Runnable> drainWaiters = new ArrayList<>();
    private final AtomicReference<Exception> lastError = new AtomicReference<>();
    private volatile long lastErrorAtMs;
    private volatile long lastAckAtMs;

    /**
     * @param maxInFlight bound on unacknowledged records; sources pause at it and resume at half
     */
    public EventSink(Producer<String, SocketEvent> producer, String topic, Context context, int maxInFlight,
                     Listener listener) {
        if (maxInFlight < 2) {
            throw new IllegalArgumentException("max in-flight records must be at least 2");
        }
        this.producer = producer;
        this.topic = topic;
        this.context = context;
        this.high = maxInFlight;
        this.low = maxInFlight / 2;
        this.listener = listener;
    }

    /** The completion callback of one host (one instance per host, not one per record). */
    public Callback callbackFor(String host) {
        return (RecordMetadata md, Exception err) -> completed(host, err);
    }

    /** Sends one event; call on the event loop. The caller checks {@link #full()} afterwards. */
    public void send(String host, String key, SocketEvent event) {
        send(host, key, event, callbackFor(host));
    }

    /** As {@link #send(String, String, SocketEvent)} with the host's cached {@link #callbackFor callback}. */
    public void send(String host, String key, SocketEvent event, Callback cb) {
        sent++;
        try {
            producer.send(new ProducerRecord<>(topic, key, event), cb);
        } catch (RuntimeException e) {
            // Serialization or a closed producer: the callback is not called for these.
            completed(host, e);
        }
    }

    private void completed(String host, Exception err) {
        // Only completions write this counter (the I/O thread; the event loop only for a send() that
        // threw), so counting in-flight records costs the event loop no contended atomic per record.
        long done = completed.incrementAndGet();
        if (err == null) {
            if (lastError.get() != null) {
                lastAckAtMs = System.currentTimeMillis(); // only needed to tell recovery from failure
            }
            listener.produced(host);
        } else {
            lastError.set(err);
            lastErrorAtMs = System.currentTimeMillis();
            listener.failed(host, err);
            context.runOnContext(v -> log.error("producing to {} failed for host {}: {} (the event is lost; check the"
                    + " broker and the producer settings, e.g. delivery.timeout.ms)", topic, host, err.toString()));
        }
        if (waiting && sentSnapshot - done <= low && drainScheduled.compareAndSet(false, true)) {
            context.runOnContext(v -> runDrain());
        }
    }

    private void runDrain() {
        drainScheduled.set(false);
        if (inFlight() > low) {
            return; // refilled meanwhile; a later completion schedules again
        }
        waiting = false;
        List<Runnable> run = new ArrayList<>(drainWaiters);
        drainWaiters.clear();
        for (Runnable r : run) {
            r.run();
        }
    }

    /** True when sources must stop reading. */
    public boolean full() {
        return inFlight() >= high;
    }

    /** Runs {@code r} on the event loop once the in-flight count drains to the low-water mark. */
    public void whenDrained(Runnable r) {
        drainWaiters.add(r);
        sentSnapshot = sent;
        waiting = true;
        // Completions may all have happened before 'waiting' became visible.
        if (inFlight() <= low && drainScheduled.compareAndSet(false, true)) {
            context.runOnContext(v -> runDrain());
        }
    }

    /** Records sent and not yet completed (exact on the event loop, approximate elsewhere). */
    public int inFlight() {
        return (int) Math.max(0, sent - completed.get());
    }

    public int maxInFlight() {
        return high;
    }

    /** Healthy unless the last produce error is newer than the last acknowledgement. */
    public boolean healthy() {
        return lastError.get() == null || lastAckAtMs > lastErrorAtMs;
    }

    public Exception lastError() {
        return lastError.get();
    }

    /** Waits for every sent record (bounded by {@code timeoutMs}). Blocking: not on the event loop. */
    public void flush(long timeoutMs) {
        Thread t = new Thread(producer::flush, "ingest-flush");
        t.setDaemon(true);
        t.start();
        try {
            t.join(timeoutMs);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        producer.close(java.time.Duration.ofSeconds(30));
    }

    /** Closes without waiting (tests simulating a crash). */
    public void closeNow() {
        producer.close(java.time.Duration.ZERO);
    }
}
