package io.magicwand.netflow;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** Feature names of the NetFlow request/response messages (DESIGN §5); the values are the wire values. */
public final class FeatureNames {

    public static final int TRAFFIC_MONITOR_ON = 0x0001;
    public static final int TRAFFIC_MONITOR_OFF = 0x0002;
    public static final int NONBLOCK = 0x0003;
    public static final int REUSEADDR = 0x0004;
    public static final int REUSEPORT = 0x0005;
    public static final int KEEPALIVE = 0x0006;
    public static final int DEFER_ACCEPT = 0x0007;
    public static final int NODELAY = 0x0008;
    /** Is the socket open; writing 0 closes it. */
    public static final int IS_OPEN = 0x0101;
    public static final int OWNER_RUNNING = 0x0102;
    public static final int SNDBUF = 0x0109;
    public static final int RCVBUF = 0x010a;
    public static final int SNDTIMEO = 0x010b;
    public static final int RCVTIMEO = 0x010c;
    public static final int SNDLOWAT = 0x010d;
    public static final int RCVLOWAT = 0x010e;
    public static final int ERROR = 0x010f;
    /** INS-wide congestion control; val.v32 one of the {@code CC_*} values. */
    public static final int CONGESTION_CONTROL = 0x1101;
    /** INS-wide delayed ACK. */
    public static final int DELAYED_ACK = 0x1102;
    /** INS-wide address block: val.v32 1 block / 0 unblock, ident = address. */
    public static final int ADDRESS_BLOCK = 0x1103;

    /** Congestion-control values for {@link #CONGESTION_CONTROL}. */
    public static final int CC_RENO = 0x90;
    public static final int CC_NEWRENO = 0x91;
    public static final int CC_CUBIC = 0x92;

    private static final Map<Integer, String> LABELS;

    static {
        Map<Integer, String> m = new LinkedHashMap<>();
        m.put(TRAFFIC_MONITOR_ON, "traffic-monitor-on");
        m.put(TRAFFIC_MONITOR_OFF, "traffic-monitor-off");
        m.put(NONBLOCK, "nonblock");
        m.put(REUSEADDR, "reuseaddr");
        m.put(REUSEPORT, "reuseport");
        m.put(KEEPALIVE, "keepalive");
        m.put(DEFER_ACCEPT, "defer-accept");
        m.put(NODELAY, "nodelay");
        m.put(IS_OPEN, "is-open");
        m.put(OWNER_RUNNING, "owner-running");
        m.put(SNDBUF, "sndbuf");
        m.put(RCVBUF, "rcvbuf");
        m.put(SNDTIMEO, "sndtimeo");
        m.put(RCVTIMEO, "rcvtimeo");
        m.put(SNDLOWAT, "sndlowat");
        m.put(RCVLOWAT, "rcvlowat");
        m.put(ERROR, "error");
        m.put(CONGESTION_CONTROL, "congestion-control");
        m.put(DELAYED_ACK, "delayed-ack");
        m.put(ADDRESS_BLOCK, "address-block");
        LABELS = Collections.unmodifiableMap(m);
    }

    private FeatureNames() {}

    /** Every known name mapped to its log label ("rcvbuf"), in wire-value order of DESIGN §5. */
    public static Map<Integer, String> labels() {
        return LABELS;
    }

    /** True for a name listed in DESIGN §5. */
    public static boolean isKnown(int name) {
        return LABELS.containsKey(name);
    }

    /** The log label of a name, or "0x%04x" for unknown names. */
    public static String label(int name) {
        String l = LABELS.get(name);
        return l != null ? l : String.format("0x%04x", name);
    }

    /** The name for a label ("rcvbuf" -> 0x010a), or -1 if unknown. Case-insensitive; '_' equals '-'. */
    public static int byLabel(String label) {
        String norm = label.trim().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        for (Map.Entry<Integer, String> e : LABELS.entrySet()) {
            if (e.getValue().equals(norm)) {
                return e.getKey();
            }
        }
        return -1;
    }
}
