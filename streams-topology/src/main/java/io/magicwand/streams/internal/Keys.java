package io.magicwand.streams.internal;

import io.magicwand.avro.SocketEvent;
import io.magicwand.avro.SocketOp;

/** Record keys of the published topics (DESIGN §6) and event-time helpers. */
public final class Keys {
    private Keys() {
    }

    /** {@code <host>/<socket_id>}: key of socket events and flow features. */
    public static String socket(String host, long socketId) {
        return host + "/" + socketId;
    }

    /** {@code <host>/<remote_addr>}: key of peer features (and the detector's per-address state). */
    public static String address(String host, String addr) {
        return host + "/" + addr;
    }

    /** {@code <host>/<ins_id>}: key of INS load records. */
    public static String ins(String host, int insId) {
        return host + "/" + insId;
    }

    /** Observation time of an event in epoch ms. */
    public static long eventTimeMs(SocketEvent e) {
        return e.getTsSec() * 1000L + e.getTsNsec() / 1_000_000L;
    }

    /**
     * An ACCEPT reported on the listening socket: {@code extra} names the new connection's socket,
     * whose state lives under that socket's key.
     */
    public static boolean isListenerAccept(SocketEvent e) {
        return e != null && e.getObs() == SocketOp.ACCEPT && e.getExtra() != 0 && e.getExtra() != e.getSocketId();
    }

    /** The connection an event is about (the accepted socket for a listener ACCEPT). */
    public static long connectionId(SocketEvent e) {
        return isListenerAccept(e) ? e.getExtra() : e.getSocketId();
    }
}
