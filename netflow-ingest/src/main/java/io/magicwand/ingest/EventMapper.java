package io.magicwand.ingest;

import io.magicwand.avro.SocketEvent;
import io.magicwand.avro.SocketOp;
import io.magicwand.netflow.Endpoint;
import io.magicwand.netflow.NetflowInfo;

/**
 * Maps a NetFlow info record to the Avro {@link SocketEvent} of topic {@code mw.socket-events}
 * (DESIGN §5–6). Pure and allocation-light: it runs once per record on the event loop.
 */
public final class EventMapper {

    /** INS id of records from an mwcomms that does not say which INS executed the operation. */
    public static final int INS_UNKNOWN = -1;

    /** Socket ids of INS-accepted connections carry the INS id above this bit. */
    static final int INS_ID_SHIFT = 40;
    /** Bits 40..63 hold the INS id; larger values (negative ids) are not INS ids. */
    private static final long MAX_INS_ID = (1L << 23) - 1;

    private static final SocketOp[] OPS = SocketOp.values();

    private record V4Text(int ip, String text) {}

    private static final V4Text[] V4_CACHE = new V4Text[4096];

    private EventMapper() {}

    /**
     * The event for one record.
     *
     * @param host        host tag of the NetFlow source
     * @param info        the decoded record
     * @param ingestTsMs  when ingest received it (epoch ms)
     */
    public static SocketEvent toEvent(String host, NetflowInfo info, long ingestTsMs) {
        return new SocketEvent(host, insIdOf(info), info.id(), op(info.obs()),
                info.sessionStartSec(), info.sessionStartNsec(), info.currSec(), info.currNsec(),
                info.sockfd(),
                info.local().af(), addressText(info.local()), info.local().port(),
                info.remote().af(), addressText(info.remote()), info.remote().port(),
                info.bytesIn(), info.bytesOut(), info.extra(), ingestTsMs);
    }

    /**
     * The INS that carried a record's socket, derived from the socket id. This project's mwcomms
     * gives connections an INS accepted the id {@code ins_id << 40 | n} (docs/dataplane.md), so
     * bits 40..63 name the INS; for an accept record the new connection's id is in {@code extra}.
     * Ids below 2^40 (sockets mwcomms itself allocated, or any id from the original mwcomms) do
     * not say, and give {@link #INS_UNKNOWN}.
     */
    public static int insIdOf(NetflowInfo info) {
        long id = info.sockfd();
        if (id >>> INS_ID_SHIFT == 0 && info.obs() == NetflowInfo.OBS_ACCEPT) {
            id = info.extra();
        }
        long ins = id >>> INS_ID_SHIFT;
        return ins > 0 && ins <= MAX_INS_ID ? (int) ins : INS_UNKNOWN;
    }

    /** Kafka key: {@code "<host>/<socket_id>"} so all events of one socket share a partition. */
    public static String key(String host, long socketId) {
        return host + "/" + socketId;
    }

    /** The SocketOp of a NetFlow obs value; values outside 0..7 map to NONE. */
    public static SocketOp op(int obs) {
        return obs >= 0 && obs < OPS.length ? OPS[obs] : SocketOp.NONE;
    }

    /** Observation time of a record in epoch milliseconds (for the lag metric). */
    public static long observedAtMs(NetflowInfo info) {
        return info.currSec() * 1000L + info.currNsec() / 1_000_000L;
    }

    /** Numeric address text, or "" when the family is neither 4 nor 6 (unset socket address). */
    public static String addressText(Endpoint e) {
        if (e.af() == Endpoint.AF_INET) {
            byte[] a = e.addr();
            int ip = ((a[0] & 0xff) << 24) | ((a[1] & 0xff) << 16) | ((a[2] & 0xff) << 8) | (a[3] & 0xff);
            // Telemetry repeats the same few addresses: a small direct-mapped cache of their text.
            // Entries are immutable, so racing threads at worst recompute one.
            int slot = (ip ^ (ip >>> 13) ^ (ip >>> 21)) & (V4_CACHE.length - 1);
            V4Text c = V4_CACHE[slot];
            if (c != null && c.ip == ip) {
                return c.text;
            }
            String text = (a[0] & 0xff) + "." + (a[1] & 0xff) + "." + (a[2] & 0xff) + "." + (a[3] & 0xff);
            V4_CACHE[slot] = new V4Text(ip, text);
            return text;
        }
        if (e.af() == Endpoint.AF_INET6) {
            return e.addressText();
        }
        return "";
    }
}
