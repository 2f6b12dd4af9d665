package io.magicwand.netflow;

/**
 * A time value as carried in a feature {@code val}: seconds (u64) then microseconds (u64), both raw
 * 64-bit values (see {@link NetflowMessage} for unsigned handling).
 */
public record TimeVal(long sec, long usec) {

    /** From a {@link java.time.Duration} (non-negative), truncated to microseconds. */
    public static TimeVal of(java.time.Duration d) {
        if (d.isNegative()) {
            throw new IllegalArgumentException("time value must not be negative: " + d);
        }
        return new TimeVal(d.getSeconds(), d.getNano() / 1000L);
    }
}
