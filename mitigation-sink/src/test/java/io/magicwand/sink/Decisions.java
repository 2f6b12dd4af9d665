package io.magicwand.sink;

import io.magicwand.avro.Action;
import io.magicwand.avro.MitigationDecision;
import io.magicwand.avro.TargetKind;

/** Test decisions with sensible defaults. */
final class Decisions {
    private Decisions() {}

    static MitigationDecision.Builder base(String id, Action action, TargetKind target) {
        return MitigationDecision.newBuilder().setDecisionId(id).setHost("host1").setInsId(-1).setTarget(target)
                .setAction(action).setReason("test").setDetector("test/unit")
                .setCreatedAtMs(System.currentTimeMillis()).setTtlMs(60_000);
    }

    static MitigationDecision close(String id, long socket) {
        return base(id, Action.CLOSE, TargetKind.SOCKET).setSocketId(socket).build();
    }

    static MitigationDecision block(String id, String address, long ttlMs) {
        return base(id, Action.BLOCK, TargetKind.ADDRESS).setAddress(address).setTtlMs(ttlMs).build();
    }

    static MitigationDecision unblock(String id, String address) {
        return base(id, Action.UNBLOCK, TargetKind.ADDRESS).setAddress(address).build();
    }

    static MitigationDecision setAttr(String id, long socket, int name, long value) {
        return base(id, Action.SET_ATTRIBUTE, TargetKind.SOCKET).setSocketId(socket).setAttributeName(name)
                .setAttributeValue(value).build();
    }
}
