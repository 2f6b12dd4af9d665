package io.magicwand.streams.features;

import io.magicwand.streams.internal.Bin;
import org.apache.kafka.common.serialization.Serde;

/** Per-address window state and per-(address, connection) state of the peer processor. */
final class PeerState {
    private PeerState() {
    }

    /** One connection of an address (store key {@code <host>/<addr>#<socket_id>}). */
    static final class Conn {
        long startMs;
        int insId = -1;
        long cumIn;
        long cumOut;
        long lastInMs = -1;
        boolean waitingOnClient = true;
        long endMs = -1;

        static final Serde<Conn> SERDE = Bin.serde("peer connection", Conn::write, Conn::read);

        private static void write(Conn c, Bin.Out o) {
            o.i8(1).i64(c.startMs).i32(c.insId).i64(c.cumIn).i64(c.cumOut).i64(c.lastInMs).bool(c.waitingOnClient).i64(c.endMs);
        }

        private static Conn read(Bin.In in) {
            Bin.version(in, "peer connection", 1);
            Conn c = new Conn();
            c.startMs = in.i64();
            c.insId = in.i32();
            c.cumIn = in.i64();
            c.cumOut = in.i64();
            c.lastInMs = in.i64();
            c.waitingOnClient = in.bool();
            c.endMs = in.i64();
            return c;
        }
    }

    static final int NEW_CONNS = 0;
    static final int BYTES_IN = 1;

    /** Windowed counters of one address (store key {@code <host>/<addr>}). */
    static final class Agg {
        String host;
        String addr;
        Buckets buckets = new Buckets(2);
        long lastEmittedEnd = Long.MIN_VALUE;
        /** Earliest bucket changed by a record older than lastEmittedEnd; Long.MAX_VALUE when none. */
        long dirtyFrom = Long.MAX_VALUE;
        /** open_connections of the last emitted window: a drop to zero is emitted once. */
        long lastEmittedOpen;

        static final Serde<Agg> SERDE = Bin.serde("peer window state", Agg::write, Agg::read);

        private static void write(Agg a, Bin.Out o) {
            o.i8(1).str(a.host).str(a.addr);
            a.buckets.write(o);
            o.i64(a.lastEmittedEnd).i64(a.dirtyFrom).i64(a.lastEmittedOpen);
        }

        private static Agg read(Bin.In in) {
            Bin.version(in, "peer window state", 1);
            Agg a = new Agg();
            a.host = in.str();
            a.addr = in.str();
            a.buckets = Buckets.read(in, 2);
            a.lastEmittedEnd = in.i64();
            a.dirtyFrom = in.i64();
            a.lastEmittedOpen = in.i64();
            return a;
        }
    }
}
