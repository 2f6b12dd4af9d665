package io.magicwand.streams.features;

import io.magicwand.streams.internal.Bin;
import org.apache.kafka.common.serialization.Serde;

/**
 * What the flow processor tells the per-address and per-INS processors about one connection
 * (internal repartition value). The flow processor has already de-duplicated observations, so
 * {@code opened} is set exactly once per connection, {@code ended} exactly once, and the deltas add up
 * to the connection's totals: the downstream counters need no idempotence of their own.
 */
public record ConnUpdate(String host, int insId, long socketId, String remoteAddr, long tsMs, long startMs,
                         boolean opened, boolean ended, long deltaIn, long deltaOut, long cumIn, long cumOut,
                         long lastInMs, boolean waitingOnClient, boolean outbound) {
    private static final int VERSION = 1;

    public static final Serde<ConnUpdate> SERDE = Bin.serde("connection update", ConnUpdate::write, ConnUpdate::read);

    private static void write(ConnUpdate u, Bin.Out o) {
        o.i8(VERSION).str(u.host).i32(u.insId).i64(u.socketId).str(u.remoteAddr).i64(u.tsMs).i64(u.startMs)
                .bool(u.opened).bool(u.ended).i64(u.deltaIn).i64(u.deltaOut).i64(u.cumIn).i64(u.cumOut)
                .i64(u.lastInMs).bool(u.waitingOnClient).bool(u.outbound);
    }

    private static ConnUpdate read(Bin.In in) {
        Bin.version(in, "connection update", VERSION);
        return new ConnUpdate(in.str(), in.i32(), in.i64(), in.str(), in.i64(), in.i64(), in.bool(), in.bool(),
                in.i64(), in.i64(), in.i64(), in.i64(), in.i64(), in.bool(), in.bool());
    }
}
