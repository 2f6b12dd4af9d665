package io.magicwand.sink;

import io.magicwand.avro.MitigationDecision;
import io.magicwand.netflow.FeatureNames;
import io.magicwand.netflow.FeatureRequest;
import java.util.List;

/**
 * The INS lifecycle and tuning extension of the NetFlow protocol as the sink uses it: the one place
 * that maps INS_SPAWN / INS_STOP / INS_RESPAWN / INS_RETUNE (and INS-scoped SET_ATTRIBUTE) to feature
 * requests. Names, flags and layouts are those of native/include/mw/netflow.h (MW_NF_FEAT_INS_*,
 * MW_NF_FLAG_BY_INS) and docs/protocol.md; keep the two in step.
 *
 * <pre>
 *   INS_SPAWN    flags WRITE (0x1)          name 0x2003 ins-spawn        val.u32 = count (default 1)  ident = 0
 *   INS_STOP     flags WRITE|BY_INS (0x5)   name 0x2004 ins-stop         val = 0                      ident.u32 = ins_id
 *   INS_RESPAWN  flags WRITE|BY_INS (0x5)   name 0x2005 ins-respawn      val = 0                      ident.u32 = ins_id
 *   INS_RETUNE   attribute_name one of
 *                  0x2006 ins-max-sockets   flags 0x5, ident.u32 = ins_id (required), val.u32 = value (0 = unlimited)
 *                  0x1101 congctl, 0x1102 delack: flags 0x5 with ident.u32 = ins_id when ins_id >= 0,
 *                                            flags 0x1 (every INS) when ins_id = -1; val.u32 = value
 * </pre>
 */
public final class InsLifecycle {

    /** MW_NF_FLAG_BY_INS: ident holds an INS id (u32 in ident[0..4]). */
    public static final int FLAG_BY_INS = 0x0004;
    public static final int INS_COUNT = 0x2001;
    public static final int INS_LIST = 0x2002;
    public static final int INS_SPAWN = 0x2003;
    public static final int INS_STOP = 0x2004;
    public static final int INS_RESPAWN = 0x2005;
    public static final int INS_MAX_SOCKETS = 0x2006;
    /** Upper bound on INS_SPAWN count, so that one bad decision cannot exhaust the host. */
    public static final int MAX_SPAWN = 64;

    private InsLifecycle() {}

    static List<FeatureRequest> map(MitigationDecision d) throws InvalidDecisionException {
        switch (d.getAction()) {
            case INS_SPAWN: {
                int count = d.getCount() == null ? 1 : d.getCount();
                if (count < 1 || count > MAX_SPAWN) {
                    throw new InvalidDecisionException("INS_SPAWN count must be 1.." + MAX_SPAWN + ", got " + count);
                }
                return List.of(FeatureRequest.writeGlobal(0, INS_SPAWN, FeatureRequest.u32Val(count)));
            }
            case INS_STOP:
                return List.of(byIns(INS_STOP, requireInsId(d), 0));
            case INS_RESPAWN:
                return List.of(byIns(INS_RESPAWN, requireInsId(d), 0));
            case INS_RETUNE: {
                Integer name = d.getAttributeName();
                Long value = d.getAttributeValue();
                if (name == null || value == null) {
                    throw new InvalidDecisionException("INS_RETUNE needs attribute_name and attribute_value");
                }
                if (value < 0 || value > 0xFFFF_FFFFL) {
                    throw new InvalidDecisionException("attribute_value " + value + " does not fit a u32");
                }
                if (name == INS_MAX_SOCKETS) {
                    return List.of(byIns(INS_MAX_SOCKETS, requireInsId(d), value));
                }
                if (name == FeatureNames.CONGESTION_CONTROL || name == FeatureNames.DELAYED_ACK) {
                    return List.of(insWide(d, name, value));
                }
                throw new InvalidDecisionException("INS_RETUNE attribute_name must be ins-max-sockets (0x2006), "
                        + "congestion-control (0x1101) or delayed-ack (0x1102), got " + String.format("0x%04x", name));
            }
            default:
                throw new InvalidDecisionException("not an INS lifecycle action: " + d.getAction());
        }
    }

    /**
     * An INS-scoped setting (congestion control, delayed ACK): for the decision's INS when ins_id >= 0,
     * else for every INS.
     */
    static FeatureRequest insWide(MitigationDecision d, int name, long value) throws InvalidDecisionException {
        if (name == FeatureNames.CONGESTION_CONTROL && (value < FeatureNames.CC_RENO || value > FeatureNames.CC_CUBIC)) {
            throw new InvalidDecisionException("congestion-control value must be 0x90 reno, 0x91 newreno or 0x92 cubic, got "
                    + value);
        }
        if (name == FeatureNames.DELAYED_ACK && value > 1) {
            throw new InvalidDecisionException("delayed-ack value must be 0 or 1, got " + value);
        }
        if (d.getInsId() >= 0) {
            return byIns(name, d.getInsId(), value);
        }
        return FeatureRequest.writeGlobal(0, name, FeatureRequest.u32Val(value));
    }

    private static long requireInsId(MitigationDecision d) throws InvalidDecisionException {
        int id = d.getInsId();
        if (id < 0) {
            throw new InvalidDecisionException(d.getAction() + " needs ins_id >= 0, got " + id);
        }
        return id;
    }

    static FeatureRequest byIns(int name, long insId, long value) {
        byte[] ident = new byte[FeatureRequest.IDENT_LEN];
        ident[0] = (byte) (insId >>> 24);
        ident[1] = (byte) (insId >>> 16);
        ident[2] = (byte) (insId >>> 8);
        ident[3] = (byte) insId;
        return new FeatureRequest(0, FeatureRequest.FLAG_WRITE | FLAG_BY_INS, name, FeatureRequest.u32Val(value), ident);
    }
}
