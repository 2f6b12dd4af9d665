package io.magicwand.ingest;

import java.util.concurrent.ThreadLocalRandom;

/**
 * Exponential reconnect backoff with full jitter: the n-th consecutive failure waits a random time
 * in [base/2, min(max, initial * 2^n)], so a fleet of ingesters does not reconnect in lockstep.
 */
public final class Backoff {
    private final long initialMs;
    private final long maxMs;
    private int attempt;

    public Backoff(long initialMs, long maxMs) {
        if (initialMs < 1 || maxMs < initialMs) {
            throw new IllegalArgumentException("reconnect backoff: need 1 <= initial <= max (got " + initialMs
                    + ", " + maxMs + ")");
        }
        this.initialMs = initialMs;
        this.maxMs = maxMs;
    }

    /** Delay before the next attempt; grows with each call until {@link #reset()}. */
    public long nextDelayMs() {
        long cap = initialMs << Math.min(attempt, 30);
        if (cap > maxMs || cap <= 0) {
            cap = maxMs;
        }
        attempt++;
        long lo = Math.max(1, cap / 2);
        return lo + ThreadLocalRandom.current().nextLong(cap - lo + 1);
    }

    /** After a successful connection. */
    public void reset() {
        attempt = 0;
    }

    public int attempts() {
        return attempt;
    }
}
