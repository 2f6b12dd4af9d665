package io.magicwand.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.magicwand.avro.Action;
import io.magicwand.avro.MitigationDecision;
import io.magicwand.avro.TargetKind;
import io.magicwand.netflow.FeatureNames;
import io.magicwand.netflow.FeatureRequest;
import io.magicwand.netflow.NetflowCodec;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Every action's requests, byte for byte on the wire (layouts of DESIGN §5 and native/include/mw/netflow.h). */
class DecisionMapperTest {

    private static String z(int bytes) {
        return "00".repeat(bytes);
    }

    /** The wire hex of the single request of {@code d}, sent with request id 0x01020304. */
    private static String wire(MitigationDecision d) throws Exception {
        List<FeatureRequest> rs = DecisionMapper.map(d);
        assertEquals(1, rs.size(), "one request per decision");
        return HexFormat.of().formatHex(NetflowCodec.encode(DecisionMapper.withId(rs.get(0), 0x01020304L)));
    }

    @Test
    void closeWritesIsOpenZeroBySocket() throws Exception {
        assertEquals("d320" + "01020304" + "0003" + "0101" + z(16) + "0000000000000011" + z(12),
                wire(Decisions.close("c", 17)));
    }

    @Test
    void blockAndUnblockWriteAddressBlockWithTheAddressAsIdent() throws Exception {
        assertEquals("d320" + "01020304" + "0001" + "1103" + "00000001" + z(12) + "00000004" + "7f000009" + z(12),
                wire(Decisions.block("b", "127.0.0.9", 1000)));
        assertEquals("d320" + "01020304" + "0001" + "1103" + "00000000" + z(12) + "00000004" + "0a000102" + z(12),
                wire(Decisions.unblock("u", "10.0.1.2")));
        assertEquals("d320" + "01020304" + "0001" + "1103" + "00000001" + z(12) + "00000006"
                        + "20010db8000000000000000000000001",
                wire(Decisions.block("b6", "2001:db8::1", 0)));
    }

    @Test
    void blockCanAlsoCloseExistingConnections() throws Exception {
        List<FeatureRequest> rs = DecisionMapper.map(Decisions.block("b", "127.0.0.9", 1000), true);
        assertEquals("d320" + "01020304" + "0001" + "1103" + "00000002" + z(12) + "00000004" + "7f000009" + z(12),
                HexFormat.of().formatHex(NetflowCodec.encode(DecisionMapper.withId(rs.get(0), 0x01020304L))));
        // UNBLOCK is the same either way
        assertEquals(DecisionMapper.map(Decisions.unblock("u", "10.0.1.2"), true), DecisionMapper.map(Decisions.unblock("u", "10.0.1.2")));
    }

    @Test
    void setAttributeTimesAreTimeValuesOthersU32() throws Exception {
        // rcvtimeo 1500 ms -> {s=1, us=500000}
        assertEquals("d320" + "01020304" + "0003" + "010c" + "0000000000000001" + "000000000007a120"
                        + "0000000000000003" + z(12),
                wire(Decisions.setAttr("s1", 3, FeatureNames.RCVTIMEO, 1500)));
        assertEquals("d320" + "01020304" + "0003" + "010b" + "0000000000000000" + "00000000000186a0"
                        + "0000000000000003" + z(12),
                wire(Decisions.setAttr("s2", 3, FeatureNames.SNDTIMEO, 100)));
        assertEquals("d320" + "01020304" + "0003" + "010a" + "00001000" + z(12) + "0000000000000003" + z(12),
                wire(Decisions.setAttr("s3", 3, FeatureNames.RCVBUF, 4096)));
    }

    @Test
    void setAttributeInsWideCongestionControl() throws Exception {
        MitigationDecision all = Decisions.base("cc", Action.SET_ATTRIBUTE, TargetKind.GLOBAL)
                .setAttributeName(FeatureNames.CONGESTION_CONTROL).setAttributeValue(0x92L).build();
        assertEquals("d320" + "01020304" + "0001" + "1101" + "00000092" + z(12) + z(20), wire(all));
        MitigationDecision one = Decisions.base("cc2", Action.SET_ATTRIBUTE, TargetKind.INS).setInsId(3)
                .setAttributeName(FeatureNames.DELAYED_ACK).setAttributeValue(0L).build();
        assertEquals("d320" + "01020304" + "0005" + "1102" + "00000000" + z(12) + "00000003" + z(16), wire(one));
    }

    @Test
    void insLifecycle() throws Exception {
        assertEquals("d320" + "01020304" + "0001" + "2003" + "00000002" + z(12) + z(20),
                wire(Decisions.base("sp", Action.INS_SPAWN, TargetKind.INS).setCount(2).build()));
        assertEquals("d320" + "01020304" + "0001" + "2003" + "00000001" + z(12) + z(20),
                wire(Decisions.base("sp1", Action.INS_SPAWN, TargetKind.INS).build()));
        assertEquals("d320" + "01020304" + "0005" + "2004" + z(16) + "00000002" + z(16),
                wire(Decisions.base("st", Action.INS_STOP, TargetKind.INS).setInsId(2).build()));
        assertEquals("d320" + "01020304" + "0005" + "2005" + z(16) + "00000007" + z(16),
                wire(Decisions.base("rs", Action.INS_RESPAWN, TargetKind.INS).setInsId(7).build()));
        assertEquals("d320" + "01020304" + "0005" + "2006" + "00000fa0" + z(12) + "00000001" + z(16),
                wire(Decisions.base("rt", Action.INS_RETUNE, TargetKind.INS).setInsId(1)
                        .setAttributeName(InsLifecycle.INS_MAX_SOCKETS).setAttributeValue(4000L).build()));
        assertEquals("d320" + "01020304" + "0001" + "1101" + "00000090" + z(12) + z(20),
                wire(Decisions.base("rt2", Action.INS_RETUNE, TargetKind.GLOBAL)
                        .setAttributeName(FeatureNames.CONGESTION_CONTROL).setAttributeValue(0x90L).build()));
    }

    @Test
    void invalidDecisionsAreRejectedWithTheReason() {
        assertReject("socket_id", Decisions.base("x", Action.CLOSE, TargetKind.SOCKET).build());
        assertReject("target SOCKET", Decisions.base("x", Action.CLOSE, TargetKind.ADDRESS).setSocketId(1L).build());
        assertReject("needs address", Decisions.base("x", Action.BLOCK, TargetKind.ADDRESS).build());
        assertReject("not a numeric", Decisions.block("x", "example.org", 0));
        assertReject("not a numeric", Decisions.block("x", "300.1.1.1", 0));
        assertReject("attribute_name and attribute_value", Decisions.base("x", Action.SET_ATTRIBUTE, TargetKind.SOCKET)
                .setSocketId(1L).build());
        assertReject("negative", Decisions.setAttr("x", 1, FeatureNames.RCVBUF, -1));
        assertReject("u32", Decisions.setAttr("x", 1, FeatureNames.RCVBUF, 1L << 33));
        assertReject("own action", Decisions.setAttr("x", 1, FeatureNames.IS_OPEN, 0));
        assertReject("unknown name", Decisions.setAttr("x", 1, 0x7777, 0));
        assertReject("INS-wide", Decisions.setAttr("x", 1, FeatureNames.CONGESTION_CONTROL, 0x92));
        assertReject("reno", Decisions.base("x", Action.SET_ATTRIBUTE, TargetKind.GLOBAL)
                .setAttributeName(FeatureNames.CONGESTION_CONTROL).setAttributeValue(5L).build());
        assertReject("ins_id", Decisions.base("x", Action.INS_STOP, TargetKind.INS).build());
        assertReject("count", Decisions.base("x", Action.INS_SPAWN, TargetKind.INS).setCount(1000).build());
        assertReject("ins-max-sockets", Decisions.base("x", Action.INS_RETUNE, TargetKind.INS).setInsId(1)
                .setAttributeName(FeatureNames.RCVBUF).setAttributeValue(1L).build());
    }

    @Test
    void describeIsReadable() throws Exception {
        assertEquals("is-open=0 socket 17", RequestExecutor.describe(DecisionMapper.map(Decisions.close("c", 17)).get(0)));
        assertEquals("address-block=1 127.0.0.9",
                RequestExecutor.describe(DecisionMapper.map(Decisions.block("b", "127.0.0.9", 0)).get(0)));
    }

    private static void assertReject(String fragment, MitigationDecision d) {
        InvalidDecisionException e = assertThrows(InvalidDecisionException.class, () -> DecisionMapper.map(d));
        assertTrue(e.getMessage().contains(fragment), "message '" + e.getMessage() + "' should mention '" + fragment + "'");
    }
}
