package io.magicwand.ingest;

/**
 * Counts gaps in the per-client u32 sequence numbers (the base {@code id} of info records) of one
 * NetFlow connection. The sequence wraps from 2^32-1 to 0. A new connection is a new client, so the
 * tracker is {@link #reset()} on every (re)connect.
 *
 * <p>A jump forward by {@code d > 1} counts one gap of {@code d - 1} missing records. A value at or
 * behind the expected one (a restarted source, duplicate or reordering, which TCP cannot produce)
 * is counted as a reset, not as 4 billion lost records: anything more than 2^31 ahead of the
 * expected value, modulo 2^32, is taken to be behind it.
 */
public final class SequenceTracker {

    /** What one observed sequence number meant. */
    public enum Result { FIRST, IN_ORDER, GAP, BACKWARDS }

    private static final long MASK = 0xffff_ffffL;

    private boolean started;
    private long last;
    private long gaps;
    private long lost;
    private long backwards;
    private long lastGapSize;

    /** Feeds one u32 sequence number; returns what it meant (see {@link #lastGapSize()}). */
    public Result observe(long seq) {
        seq &= MASK;
        if (!started) {
            started = true;
            last = seq;
            return Result.FIRST;
        }
        long expected = (last + 1) & MASK;
        long ahead = (seq - expected) & MASK;
        last = seq;
        if (ahead == 0) {
            return Result.IN_ORDER;
        }
        if (ahead < 0x8000_0000L) {
            gaps++;
            lost += ahead;
            lastGapSize = ahead;
            return Result.GAP;
        }
        backwards++;
        return Result.BACKWARDS;
    }

    /** Forget the last sequence number (new connection = new client); totals are kept. */
    public void reset() {
        started = false;
    }

    /** Number of gaps seen. */
    public long gaps() {
        return gaps;
    }

    /** Total records missing in all gaps. */
    public long lost() {
        return lost;
    }

    /** Times the sequence went backwards (restarted source). */
    public long backwards() {
        return backwards;
    }

    /** Size of the most recent gap. */
    public long lastGapSize() {
        return lastGapSize;
    }

    /** The last sequence number seen (valid after the first {@link #observe}). */
    public long last() {
        return last;
    }
}
