package io.magicwand.netflow;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class NetflowCodecTest {

    @Test
    void messageLengths() {
        assertEquals(116, NetflowCodec.messageLength(0xd310));
        assertEquals(46, NetflowCodec.messageLength(0xd320));
        assertEquals(26, NetflowCodec.messageLength(0xd32f));
        assertEquals(116, NetflowCodec.messageLength(0xd311));
        assertEquals(72, NetflowCodec.messageLength(0xd330));
        assertEquals(-1, NetflowCodec.messageLength(0xd312));
        assertEquals(-1, NetflowCodec.messageLength(0));
    }

    @Test
    void authRoundTripAndLayout() {
        NetflowAuth a = NetflowAuth.of(0xFFFF_FFFFL, "x".repeat(64));
        byte[] b = NetflowCodec.encode(a);
        assertEquals(72, b.length);
        assertEquals((byte) 0xd3, b[0]);
        assertEquals((byte) 0x30, b[1]);
        assertEquals(0, b[6]);
        assertEquals(64, b[7]);
        assertEquals('x', b[71]);
        assertEquals(a, NetflowCodec.decode(b));

        NetflowAuth shortToken = new NetflowAuth(7, new byte[] {1, 2, 3});
        byte[] s = NetflowCodec.encode(shortToken);
        for (int i = 11; i < 72; i++) {
            assertEquals(0, s[i], "padding byte " + i);
        }
        assertEquals(shortToken, NetflowCodec.decode(s));
        assertEquals("NetflowAuth[id=7, token=<3 bytes>]", shortToken.toString()); // never the token
    }

    @Test
    void authTokenLengthIsChecked() {
        assertThrows(IllegalArgumentException.class, () -> new NetflowAuth(1, new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> new NetflowAuth(1, new byte[65]));
        assertThrows(IllegalArgumentException.class, () -> new NetflowAuth(1, null));
        byte[] b = TestVectors.bytes("ext-auth");
        for (int bad : new int[] {0, 65, 0xFFFF}) {
            b[6] = (byte) (bad >>> 8);
            b[7] = (byte) bad;
            NetflowFormatException e = assertThrows(NetflowFormatException.class, () -> NetflowCodec.decode(b));
            assertTrue(e.getMessage().contains("token length " + bad), e.getMessage());
            ByteBuffer buf = ByteBuffer.wrap(b);
            assertThrows(NetflowFormatException.class, () -> NetflowCodec.decode(buf));
            assertEquals(0, buf.position(), "position unchanged after an invalid body");
        }
    }

    @Test
    void snapshotHasTheInfoLayoutWithItsOwnSignature() {
        byte[] snap = TestVectors.bytes("ext-snapshot-ipv4");
        NetflowSnapshot s = (NetflowSnapshot) NetflowCodec.decode(snap);
        assertEquals(NetflowCodec.SIG_SNAPSHOT, s.signature());
        assertEquals(77, s.id());
        byte[] asInfo = NetflowCodec.encode(s.info());
        assertEquals((byte) 0x10, asInfo[1]);
        asInfo[1] = 0x11;
        assertArrayEquals(snap, asInfo); // only the signature differs
        assertNotEquals(s.info(), s);
    }

    @Test
    void decodeRejectsUnknownShortAndLongInput() {
        byte[] good = TestVectors.bytes("req-block-ipv4");
        NetflowFormatException e = assertThrows(NetflowFormatException.class,
                () -> NetflowCodec.decode(new byte[] {(byte) 0xbe, (byte) 0xef, 0, 0, 0, 0}));
        assertEquals("unknown signature 0xbeef", e.getMessage());
        e = assertThrows(NetflowFormatException.class, () -> NetflowCodec.decode(Arrays.copyOf(good, 45)));
        assertEquals("message 0xd320 must be 46 bytes, got 45", e.getMessage());
        assertThrows(NetflowFormatException.class, () -> NetflowCodec.decode(Arrays.copyOf(good, 47)));
        assertThrows(NetflowFormatException.class, () -> NetflowCodec.decode(new byte[1]));
        assertThrows(NetflowFormatException.class, () -> NetflowCodec.decode(new byte[0]));
    }

    @Test
    void byteBufferDecodeAdvancesAndLeavesPositionOnFailure() {
        byte[] a = TestVectors.bytes("resp-rcvbuf");
        byte[] b = TestVectors.bytes("req-monitor-off");
        ByteBuffer buf = ByteBuffer.allocate(a.length + b.length - 1);
        buf.put(a).put(b, 0, b.length - 1).flip();
        assertEquals(NetflowCodec.decode(a), NetflowCodec.decode(buf));
        assertEquals(a.length, buf.position());
        NetflowFormatException e = assertThrows(NetflowFormatException.class, () -> NetflowCodec.decode(buf));
        assertEquals("truncated message 0xd320: 45 of 46 bytes", e.getMessage());
        assertEquals(a.length, buf.position());

        ByteBuffer out = ByteBuffer.allocate(200);
        out.position(3);
        NetflowCodec.encode(NetflowCodec.decode(b), out);
        assertEquals(3 + 46, out.position());
        assertArrayEquals(b, Arrays.copyOfRange(out.array(), 3, 49));
    }

    @Test
    void unsignedExtremesRoundTrip() {
        Endpoint any = new Endpoint(0xFFFFFFFF, filled(16, (byte) 0xff), 65535);
        NetflowInfo i = new NetflowInfo(0xFFFF_FFFFL, 0xFFFF, -1L, Long.MIN_VALUE, Long.MAX_VALUE, -2L, -1L,
                any, Endpoint.NONE, -1L, 0, Long.MIN_VALUE);
        byte[] wire = NetflowCodec.encode(i);
        assertEquals(116, wire.length);
        assertEquals(i, NetflowCodec.decode(wire));
        assertEquals("18446744073709551615", Long.toUnsignedString(((NetflowInfo) NetflowCodec.decode(wire)).bytesIn()));
        FeatureResponse r = new FeatureResponse(0xFFFF_FFFFL, 0xFFFF_FFFFL, filled(16, (byte) 0x80));
        assertEquals(r, NetflowCodec.decode(NetflowCodec.encode(r)));
        assertEquals(0xFFFF_FFFFL, r.status());
    }

    @Test
    void rangeChecks() {
        assertThrows(IllegalArgumentException.class, () -> FeatureResponse.error(0x1_0000_0000L, 9));
        assertThrows(IllegalArgumentException.class, () -> FeatureResponse.error(-1, 9));
        assertThrows(IllegalArgumentException.class, () -> FeatureResponse.error(1, 0));
        assertThrows(IllegalArgumentException.class, () -> FeatureRequest.readGlobal(1, 0x10000));
        assertThrows(IllegalArgumentException.class, () -> new FeatureRequest(1, 0, 1, new byte[15], new byte[20]));
        assertThrows(IllegalArgumentException.class, () -> new FeatureRequest(1, 0, 1, new byte[16], null));
        assertThrows(IllegalArgumentException.class, () -> new Endpoint(4, new byte[16], 65536));
        assertThrows(IllegalArgumentException.class, () -> new Endpoint(4, new byte[4], 1));
        assertThrows(IllegalArgumentException.class, () -> FeatureRequest.u32Val(1L << 32));
        assertThrows(NullPointerException.class,
                () -> new NetflowInfo(1, 1, 0, 0, 0, 0, 0, null, Endpoint.NONE, 0, 0, 0));
    }

    @Test
    void arraysAreDefensivelyCopiedAndCompareByContent() {
        byte[] val = FeatureRequest.u32Val(5);
        FeatureRequest r = FeatureRequest.writeBySocket(3, FeatureNames.SNDBUF, val, 77);
        val[3] = 99;
        assertEquals(5, r.valU32());
        r.val()[3] = 99;
        r.ident()[0] = 1;
        assertEquals(5, r.valU32());
        assertEquals(77, r.identSocket());

        FeatureRequest same = FeatureRequest.writeBySocket(3, FeatureNames.SNDBUF, FeatureRequest.u32Val(5), 77);
        assertEquals(r, same);
        assertEquals(r.hashCode(), same.hashCode());
        assertNotEquals(r, FeatureRequest.writeBySocket(3, FeatureNames.SNDBUF, FeatureRequest.u32Val(6), 77));

        byte[] addr = new byte[16];
        Endpoint e = new Endpoint(4, addr, 1);
        addr[0] = 1;
        assertEquals(Endpoint.of("0.0.0.0", 1), e);
        assertEquals(e.hashCode(), Endpoint.of("0.0.0.0", 1).hashCode());
        e.addr()[0] = 7;
        assertEquals(0, e.addr()[0]);

        FeatureResponse resp = FeatureResponse.ok(1, FeatureRequest.u64Val(-1L));
        assertEquals(resp, FeatureResponse.ok(1, FeatureRequest.u64Val(-1L)));
        assertEquals(-1L, resp.valU64());
    }

    @Test
    void factoriesMatchTheVectors() throws Exception {
        assertEquals(NetflowCodec.decode(TestVectors.bytes("req-block-ipv4")),
                FeatureRequest.blockAddress(11, InetAddress.getByName("203.0.113.9"), true));
        assertEquals(NetflowCodec.decode(TestVectors.bytes("req-unblock-ipv6")),
                FeatureRequest.blockAddress(12, InetAddress.getByName("2001:db8::66"), false));
        assertEquals(NetflowCodec.decode(TestVectors.bytes("req-close-socket")),
                FeatureRequest.closeSocket(8, 4294967362L));
        assertEquals(NetflowCodec.decode(TestVectors.bytes("req-read-rcvbuf-by-sock")),
                FeatureRequest.readBySocket(7, FeatureNames.RCVBUF, 4294967362L));
        assertEquals(NetflowCodec.decode(TestVectors.bytes("req-set-rcvtimeo")),
                FeatureRequest.writeBySocket(10, FeatureNames.RCVTIMEO,
                        FeatureRequest.timeVal(TimeVal.of(java.time.Duration.ofMillis(5250))), 77));
        assertEquals(NetflowCodec.decode(TestVectors.bytes("req-congctl-cubic")),
                FeatureRequest.writeGlobal(13, FeatureNames.CONGESTION_CONTROL, FeatureRequest.u32Val(FeatureNames.CC_CUBIC)));
        assertEquals(NetflowCodec.decode(TestVectors.bytes("req-monitor-off")),
                FeatureRequest.readGlobal(14, FeatureNames.TRAFFIC_MONITOR_OFF));
        assertEquals(NetflowCodec.decode(TestVectors.bytes("resp-unknown-socket")), FeatureResponse.error(8, 9));
        FeatureRequest byAddr = FeatureRequest.readByAddress(1, FeatureNames.ADDRESS_BLOCK, InetAddress.getByName("10.0.0.1"));
        assertFalse(byAddr.isWrite());
        assertFalse(byAddr.isBySocket());
        assertEquals(4, byAddr.identAf());
        assertEquals(InetAddress.getByName("10.0.0.1"), byAddr.identAddress());
        assertThrows(IllegalStateException.class, () -> FeatureRequest.readBySocket(1, 1, 0).identAddress());
    }

    @Test
    void endpointText() throws Exception {
        assertEquals("10.1.2.3:80", Endpoint.of("10.1.2.3", 80).toString());
        assertEquals("[2001:db8::1]:443", Endpoint.of("2001:db8::1", 443).toString());
        assertEquals("::", Endpoint.ipv6Text(new byte[16]));
        assertEquals("::1", Endpoint.of("::1", 0).addressText());
        assertEquals("1::", Endpoint.of("1:0:0:0:0:0:0:0", 0).addressText());
        assertEquals("2001:db8:0:1:1:1:1:1", Endpoint.of("2001:db8:0:1:1:1:1:1", 0).addressText());
        assertEquals("2001:0:0:1::1", Endpoint.of("2001:0:0:1:0:0:0:1", 0).addressText());
        assertEquals("2001:db8:ffff::fe", Endpoint.of("2001:db8:ffff:0:0:0:0:fe", 0).addressText());
        assertEquals(InetAddress.getByName("2001:db8::1"), Endpoint.of("2001:db8::1", 443).toInetAddress());
        assertEquals("af=0:0", Endpoint.NONE.toString());
        assertFalse(Endpoint.NONE.isIp());
        assertThrows(IllegalStateException.class, Endpoint.NONE::toInetAddress);
        assertThrows(IllegalArgumentException.class, () -> Endpoint.of("example.com", 1));
        assertThrows(IllegalArgumentException.class, () -> Endpoint.of("1.2.3", 1));
        assertThrows(IllegalArgumentException.class, () -> Endpoint.of("1.2.3.256", 1));
        assertTrue(Endpoint.of(InetAddress.getByName("::1"), 5).isIp());
    }

    @Test
    void featureNameLabels() {
        assertEquals(20, FeatureNames.labels().size());
        assertEquals("address-block", FeatureNames.label(0x1103));
        assertEquals("is-open", FeatureNames.label(FeatureNames.IS_OPEN));
        assertEquals("0x7777", FeatureNames.label(0x7777));
        assertEquals(FeatureNames.RCVBUF, FeatureNames.byLabel("RCVBUF"));
        assertEquals(FeatureNames.DEFER_ACCEPT, FeatureNames.byLabel("defer_accept"));
        assertEquals(-1, FeatureNames.byLabel("nope"));
        assertEquals("accept", NetflowInfo.obsName(3));
        assertEquals("obs-9", NetflowInfo.obsName(9));
    }

    private static byte[] filled(int n, byte v) {
        byte[] b = new byte[n];
        Arrays.fill(b, v);
        return b;
    }
}
