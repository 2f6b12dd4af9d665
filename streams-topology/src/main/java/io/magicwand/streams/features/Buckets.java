package io.magicwand.streams.features;

import io.magicwand.streams.internal.Bin;
import java.util.Map;
import java.util.TreeMap;

/**
 * Event-time buckets of one window advance each, holding {@code width} counters. A hopping window
 * [end - size, end) is the sum of the buckets it covers; buckets older than any window still to be
 * (re-)emitted are pruned, so the state per key is bounded by (size + grace) / advance buckets.
 */
final class Buckets {
    final TreeMap<Long, long[]> map = new TreeMap<>();
    final int width;

    Buckets(int width) {
        this.width = width;
    }

    static long floor(long ts, long advance) {
        return Math.floorDiv(ts, advance) * advance;
    }

    void add(long bucketStart, int idx, long v) {
        map.computeIfAbsent(bucketStart, k -> new long[width])[idx] += v;
    }

    /** Sums counter {@code idx} over buckets in [start, end). */
    long sum(long start, long end, int idx) {
        long s = 0;
        for (long[] b : map.subMap(start, true, end, false).values()) {
            s += b[idx];
        }
        return s;
    }

    void pruneBefore(long start) {
        map.headMap(start, false).clear();
    }

    boolean isEmpty() {
        return map.isEmpty();
    }

    void write(Bin.Out o) {
        o.i32(map.size());
        for (Map.Entry<Long, long[]> e : map.entrySet()) {
            o.i64(e.getKey());
            for (long v : e.getValue()) {
                o.i64(v);
            }
        }
    }

    static Buckets read(Bin.In in, int width) {
        Buckets b = new Buckets(width);
        int n = in.i32();
        if (n < 0 || n > 100_000) {
            throw new org.apache.kafka.common.errors.SerializationException("buckets: bad count " + n);
        }
        for (int i = 0; i < n; i++) {
            long k = in.i64();
            long[] v = new long[width];
            for (int j = 0; j < width; j++) {
                v[j] = in.i64();
            }
            b.map.put(k, v);
        }
        return b;
    }
}
