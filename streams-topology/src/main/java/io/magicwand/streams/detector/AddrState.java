package io.magicwand.streams.detector;

import io.magicwand.streams.internal.Bin;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.serialization.Serde;

/** The detector's state of one address (key {@code <host>/<addr>}): its ban and suspect connections. */
final class AddrState {
    static final int MAX_SUSPECTS = 4096;

    static final class Suspect {
        long socketId;
        int insId;
        String kind;
        long firstSeen;
        long lastSeen;
        boolean open;
        boolean tightened;
        boolean closed;
    }

    String host;
    String addr;
    /** 0 = not banned; Long.MAX_VALUE = permanent. */
    long banUntil;
    String banId = "";
    String banKind = "";
    final List<Suspect> suspects = new ArrayList<>();

    boolean banned() {
        return banUntil != 0;
    }

    Suspect find(long socketId) {
        for (Suspect s : suspects) {
            if (s.socketId == socketId) {
                return s;
            }
        }
        return null;
    }

    Suspect upsert(long socketId, int insId, String kind, long now, boolean open) {
        Suspect s = find(socketId);
        if (s == null) {
            if (suspects.size() >= MAX_SUSPECTS) {
                suspects.remove(0);
            }
            s = new Suspect();
            s.socketId = socketId;
            s.firstSeen = now;
            suspects.add(s);
        }
        s.insId = insId;
        s.kind = kind;
        s.lastSeen = Math.max(s.lastSeen, now);
        s.open = open;
        return s;
    }

    void prune(long before) {
        suspects.removeIf(s -> s.lastSeen < before);
    }

    /** The most frequent suspect kind, or {@code dflt}. */
    String dominantKind(String dflt) {
        java.util.Map<String, Integer> n = new java.util.TreeMap<>();
        for (Suspect s : suspects) {
            n.merge(s.kind, 1, Integer::sum);
        }
        return n.entrySet().stream().max(java.util.Map.Entry.comparingByValue()).map(java.util.Map.Entry::getKey).orElse(dflt);
    }

    static final Serde<AddrState> SERDE = Bin.serde("detector address state", AddrState::write, AddrState::read);

    private static void write(AddrState a, Bin.Out o) {
        o.i8(1).str(a.host).str(a.addr).i64(a.banUntil).str(a.banId).str(a.banKind).i32(a.suspects.size());
        for (Suspect s : a.suspects) {
            o.i64(s.socketId).i32(s.insId).str(s.kind).i64(s.firstSeen).i64(s.lastSeen).bool(s.open).bool(s.tightened).bool(s.closed);
        }
    }

    private static AddrState read(Bin.In in) {
        Bin.version(in, "detector address state", 1);
        AddrState a = new AddrState();
        a.host = in.str();
        a.addr = in.str();
        a.banUntil = in.i64();
        a.banId = in.str();
        a.banKind = in.str();
        int n = in.i32();
        if (n < 0 || n > MAX_SUSPECTS) {
            throw new org.apache.kafka.common.errors.SerializationException("detector address state: bad suspect count " + n);
        }
        for (int i = 0; i < n; i++) {
            Suspect s = new Suspect();
            s.socketId = in.i64();
            s.insId = in.i32();
            s.kind = in.str();
            s.firstSeen = in.i64();
            s.lastSeen = in.i64();
            s.open = in.bool();
            s.tightened = in.bool();
            s.closed = in.bool();
            a.suspects.add(s);
        }
        return a;
    }
}
