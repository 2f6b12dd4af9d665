package io.magicwand.sink;

import io.magicwand.avro.Action;
import io.magicwand.avro.MitigationDecision;
import io.magicwand.avro.TargetKind;
import io.magicwand.netflow.Endpoint;
import io.magicwand.netflow.FeatureNames;
import io.magicwand.netflow.FeatureRequest;
import java.net.InetAddress;
import java.util.List;

/**
 * Turns one {@link MitigationDecision} into the NetFlow feature requests that carry it out (DESIGN §5).
 * Pure: no I/O, no clock. The request ids of the returned requests are 0; the connection that sends a
 * request gives it a fresh id per attempt (see {@link #withId}).
 *
 * <p>The mapping, in one place:
 * <pre>
 *   CLOSE          target SOCKET   write by socket  IS_OPEN (0x0101)        val.u32 = 0
 *   BLOCK          target ADDRESS  write by address ADDRESS_BLOCK (0x1103)  val.u32 = 1, ident = address
 *                                  (val.u32 = 2, block and close existing, with sink.block.close.existing)
 *   UNBLOCK        target ADDRESS  write by address ADDRESS_BLOCK (0x1103)  val.u32 = 0, ident = address
 *   SET_ATTRIBUTE  target SOCKET   write by socket  attribute_name (a socket option)  val = value (see below)
 *                  target INS/GLOBAL congestion-control / delayed-ack: see {@link InsLifecycle#insWide}
 *   INS_SPAWN / INS_STOP / INS_RESPAWN / INS_RETUNE: see {@link InsLifecycle}
 * </pre>
 * Values: SNDTIMEO/RCVTIMEO take attribute_value in milliseconds and are sent as the NetFlow time
 * value {s u64, us u64}; every other name takes a u32 (sizes in bytes, booleans 0/1, congestion
 * control 0x90..0x92).
 */
public final class DecisionMapper {

    private DecisionMapper() {}

    /** Value of ADDRESS_BLOCK that also closes the address's open connections (extension, docs/protocol.md). */
    public static final int BLOCK_AND_CLOSE = 2;

    /** The requests for {@code d}, in the order they must be applied (BLOCK = val 1, new connections only). */
    public static List<FeatureRequest> map(MitigationDecision d) throws InvalidDecisionException {
        return map(d, false);
    }

    /**
     * The requests for {@code d}; with {@code blockClosesExisting} a BLOCK writes val 2 (the
     * extension "block and close the address's open connections") instead of 1.
     */
    public static List<FeatureRequest> map(MitigationDecision d, boolean blockClosesExisting) throws InvalidDecisionException {
        if (blockClosesExisting && d.getAction() == Action.BLOCK) {
            requireTarget(d, TargetKind.ADDRESS);
            return List.of(FeatureRequest.writeByAddress(0, FeatureNames.ADDRESS_BLOCK,
                    FeatureRequest.u32Val(BLOCK_AND_CLOSE), address(d)));
        }
        return mapPlain(d);
    }

    private static List<FeatureRequest> mapPlain(MitigationDecision d) throws InvalidDecisionException {
        Action action = d.getAction();
        if (action == null) {
            throw new InvalidDecisionException("decision has no action");
        }
        switch (action) {
            case CLOSE:
                requireTarget(d, TargetKind.SOCKET);
                return List.of(FeatureRequest.closeSocket(0, socketId(d)));
            case BLOCK:
                requireTarget(d, TargetKind.ADDRESS);
                return List.of(FeatureRequest.blockAddress(0, address(d), true));
            case UNBLOCK:
                requireTarget(d, TargetKind.ADDRESS);
                return List.of(FeatureRequest.blockAddress(0, address(d), false));
            case SET_ATTRIBUTE:
                return List.of(setAttribute(d));
            case INS_SPAWN:
            case INS_STOP:
            case INS_RESPAWN:
            case INS_RETUNE:
                return InsLifecycle.map(d);
            default:
                throw new InvalidDecisionException("unsupported action " + action);
        }
    }

    /** The unblock that ends a ban on {@code address} (sent by the sink when a BLOCK's ttl runs out). */
    public static FeatureRequest unblock(String address) throws InvalidDecisionException {
        return FeatureRequest.blockAddress(0, parseAddress(address), false);
    }

    /** A copy of {@code r} carrying request id {@code id}. */
    public static FeatureRequest withId(FeatureRequest r, long id) {
        return new FeatureRequest(id, r.flags(), r.name(), r.val(), r.ident());
    }

    private static FeatureRequest setAttribute(MitigationDecision d) throws InvalidDecisionException {
        Integer name = d.getAttributeName();
        Long value = d.getAttributeValue();
        if (name == null || value == null) {
            throw new InvalidDecisionException("SET_ATTRIBUTE needs attribute_name and attribute_value");
        }
        if (name < 0 || name > 0xFFFF) {
            throw new InvalidDecisionException("attribute_name " + name + " is not a u16 feature name");
        }
        if (!FeatureNames.isKnown(name) || name == FeatureNames.ADDRESS_BLOCK || name == FeatureNames.IS_OPEN) {
            // IS_OPEN and ADDRESS_BLOCK have their own actions (CLOSE, BLOCK/UNBLOCK) with their own checks.
            throw new InvalidDecisionException("attribute_name " + FeatureNames.label(name)
                    + " cannot be set with SET_ATTRIBUTE (unknown name or one with its own action)");
        }
        TargetKind t = d.getTarget();
        if (t == TargetKind.SOCKET) {
            if (name >= 0x1100) {
                throw new InvalidDecisionException(FeatureNames.label(name) + " is INS-wide: use target INS or GLOBAL");
            }
            return FeatureRequest.writeBySocket(0, name, value(name, value), socketId(d));
        }
        if (t == TargetKind.INS || t == TargetKind.GLOBAL) {
            if (name != FeatureNames.CONGESTION_CONTROL && name != FeatureNames.DELAYED_ACK) {
                throw new InvalidDecisionException("SET_ATTRIBUTE on target " + t + " takes congestion-control or "
                        + "delayed-ack, got " + FeatureNames.label(name) + " (socket options need target SOCKET)");
            }
            return InsLifecycle.insWide(d, name, value);
        }
        throw new InvalidDecisionException("SET_ATTRIBUTE needs target SOCKET, INS or GLOBAL, got " + t);
    }

    /** Encodes {@code value} for feature {@code name}: a time value for the timeouts, else a u32. */
    static byte[] value(int name, long value) throws InvalidDecisionException {
        if (value < 0) {
            throw new InvalidDecisionException("attribute_value must not be negative, got " + value);
        }
        if (name == FeatureNames.SNDTIMEO || name == FeatureNames.RCVTIMEO) {
            return FeatureRequest.timeVal(value / 1000, (value % 1000) * 1000);
        }
        if (value > 0xFFFF_FFFFL) {
            throw new InvalidDecisionException("attribute_value " + value + " does not fit a u32 for "
                    + FeatureNames.label(name));
        }
        return FeatureRequest.u32Val(value);
    }

    static void requireTarget(MitigationDecision d, TargetKind want) throws InvalidDecisionException {
        if (d.getTarget() != want) {
            throw new InvalidDecisionException(d.getAction() + " needs target " + want + ", got " + d.getTarget());
        }
    }

    static long socketId(MitigationDecision d) throws InvalidDecisionException {
        Long id = d.getSocketId();
        if (id == null) {
            throw new InvalidDecisionException(d.getAction() + " on a socket needs socket_id");
        }
        return id;
    }

    static InetAddress address(MitigationDecision d) throws InvalidDecisionException {
        CharSequence a = d.getAddress();
        if (a == null) {
            throw new InvalidDecisionException(d.getAction() + " needs address");
        }
        return parseAddress(a.toString());
    }

    static InetAddress parseAddress(String a) throws InvalidDecisionException {
        try {
            // Numeric literals only: a decision never triggers a DNS lookup.
            return Endpoint.of(a.trim(), 0).toInetAddress();
        } catch (IllegalArgumentException e) {
            throw new InvalidDecisionException("address '" + a + "' is not a numeric IPv4/IPv6 address");
        }
    }
}
