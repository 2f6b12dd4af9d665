package io.magicwand.streams.features;

import io.magicwand.avro.SocketEvent;
import io.magicwand.avro.SocketOp;

/** Scripted SocketEvents for tests: one connection of a fixed host, addresses and start. */
final class Ev {
    final String host;
    final long socketId;
    final String remote;
    final int remotePort;
    final long startMs;
    int insId = 1;
    long seq;

    Ev(String host, long socketId, String remote, int remotePort, long startMs) {
        this.host = host;
        this.socketId = socketId;
        this.remote = remote;
        this.remotePort = remotePort;
        this.startMs = startMs;
    }

    String key() {
        return host + "/" + socketId;
    }

    SocketEvent at(long ts, SocketOp op, long in, long out) {
        return base(ts, op, socketId, in, out, 0).build();
    }

    /** ACCEPT reported on listener socket {@code listener}, naming this connection in extra. */
    SocketEvent acceptOn(long listener, long ts) {
        return base(ts, SocketOp.ACCEPT, listener, 0, 0, socketId).setSessionStartSec((startMs - 60_000) / 1000).build();
    }

    private SocketEvent.Builder base(long ts, SocketOp op, long sid, long in, long out, long extra) {
        return SocketEvent.newBuilder()
                .setHost(host)
                .setInsId(insId)
                .setSeq(seq++)
                .setObs(op)
                .setSessionStartSec(startMs / 1000)
                .setSessionStartNsec((startMs % 1000) * 1_000_000L)
                .setTsSec(ts / 1000)
                .setTsNsec((ts % 1000) * 1_000_000L)
                .setSocketId(sid)
                .setLocalAf(4)
                .setLocalAddr("10.0.0.1")
                .setLocalPort(80)
                .setRemoteAf(4)
                .setRemoteAddr(remote)
                .setRemotePort(remotePort)
                .setBytesIn(in)
                .setBytesOut(out)
                .setExtra(extra);
    }
}
