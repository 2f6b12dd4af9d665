package io.magicwand.ingest.pcap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.magicwand.ingest.capture.CaptureFormatException;
import io.magicwand.netflow.NetflowInfo;
import java.io.ByteArrayInputStream;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

class PcapImportTest {

    static final int SYN = TcpSegment.SYN;
    static final int ACK = TcpSegment.ACK;
    static final int FIN = TcpSegment.FIN;
    static final int RST = TcpSegment.RST;
    static final int PSH = 0x08;

    static byte[] v4(int last) {
        return new byte[] {127, 0, 0, (byte) last};
    }

    static byte[] v6(int last) {
        byte[] b = new byte[16];
        b[0] = 0x20;
        b[1] = 0x01;
        b[15] = (byte) last;
        return b;
    }

    /**
     * Client C:40000 -> server S:8080. Client sends 100 bytes (then a retransmission of them), the
     * server answers 300 bytes in three segments delivered out of order, then FIN/FIN. A second
     * connection is refused (SYN, RST). A third connection to port 9999 is reset after 10 bytes.
     */
    static PcapBuilder exchange(ByteOrder order, boolean nanos, int link, boolean six) {
        byte[] c = six ? v6(1) : v4(1);
        byte[] s = six ? v6(2) : v4(2);
        long t = 1_700_000_000_123_456_000L;
        PcapBuilder b = new PcapBuilder(order, nanos, link);
        long cs = 0xffff_ff00L; // client ISN near the wrap
        long ss = 5000;
        b.tcp(t, c, 40000, s, 8080, cs, 0, SYN, 0, -1);
        b.tcp(t + 1000, s, 8080, c, 40000, ss, cs + 1, SYN | ACK, 0, -1);
        b.tcp(t + 2000, c, 40000, s, 8080, cs + 1, ss + 1, ACK, 0, -1);
        b.tcp(t + 3000, c, 40000, s, 8080, cs + 1, ss + 1, ACK | PSH, 100, -1);
        b.tcp(t + 4000, c, 40000, s, 8080, cs + 1, ss + 1, ACK | PSH, 100, -1); // retransmission
        b.tcp(t + 5000, s, 8080, c, 40000, ss + 101, cs + 101, ACK, 100, -1); // out of order (2nd)
        b.tcp(t + 6000, s, 8080, c, 40000, ss + 1, cs + 101, ACK, 100, -1); // 1st
        b.tcp(t + 7000, s, 8080, c, 40000, ss + 201, cs + 101, ACK | PSH, 100, 6); // 3rd, snaplen-cut payload
        b.tcp(t + 8000, c, 40000, s, 8080, (cs + 101) & 0xffff_ffffL, ss + 301, FIN | ACK, 0, -1);
        b.tcp(t + 9000, s, 8080, c, 40000, ss + 301, cs + 102, FIN | ACK, 0, -1);
        b.tcp(t + 10000, c, 40000, s, 8080, (cs + 102) & 0xffff_ffffL, ss + 302, ACK, 0, -1);
        b.tcp(t + 11000, c, 40000, s, 8080, (cs + 102) & 0xffff_ffffL, ss + 302, FIN | ACK, 0, -1); // retrans FIN
        // refused
        b.tcp(t + 12000, c, 40001, s, 8081, 1, 0, SYN, 0, -1);
        b.tcp(t + 13000, s, 8081, c, 40001, 0, 2, RST | ACK, 0, -1);
        // reset after 10 bytes
        b.tcp(t + 14000, c, 40002, s, 9999, 10, 0, SYN, 0, -1);
        b.tcp(t + 15000, s, 9999, c, 40002, 20, 11, SYN | ACK, 0, -1);
        b.tcp(t + 16000, c, 40002, s, 9999, 11, 21, ACK | PSH, 10, -1);
        b.tcp(t + 17000, c, 40002, s, 9999, 21, 21, RST, 0, -1);
        return b;
    }

    static List<NetflowInfo> importBytes(byte[] pcap, Set<Integer> serverPorts, TcpImporter.Stats[] stats)
            throws Exception {
        List<NetflowInfo> out = new ArrayList<>();
        try (PcapReader r = new PcapReader("t.pcap", new ByteArrayInputStream(pcap))) {
            PacketDecoder d = new PacketDecoder("t.pcap", r.linkType());
            TcpImporter imp = new TcpImporter(serverPorts, out::add);
            PcapReader.Packet p;
            while ((p = r.next()) != null) {
                TcpSegment s = d.decode(p);
                if (s != null) {
                    imp.accept(s);
                }
            }
            imp.finish();
            if (stats != null) {
                stats[0] = imp.stats();
            }
        }
        return out;
    }

    static List<Arguments> formats() {
        List<Arguments> a = new ArrayList<>();
        for (ByteOrder o : new ByteOrder[] {ByteOrder.BIG_ENDIAN, ByteOrder.LITTLE_ENDIAN}) {
            for (boolean ns : new boolean[] {false, true}) {
                for (int link : new int[] {1, 113, 276}) {
                    for (boolean six : new boolean[] {false, true}) {
                        a.add(Arguments.of(o, ns, link, six));
                    }
                }
            }
        }
        return a;
    }

    @ParameterizedTest(name = "{0} nanos={1} link={2} v6={3}")
    @MethodSource("formats")
    void importsTheExchange(ByteOrder order, boolean nanos, int link, boolean six) throws Exception {
        TcpImporter.Stats[] st = new TcpImporter.Stats[1];
        List<NetflowInfo> ev = importBytes(exchange(order, nanos, link, six).bytes(), null, st);
        String obs = ev.stream().map(NetflowInfo::obsName).toList().toString();
        assertEquals("[accept, recv, send, send, send, close, accept, recv, close]", obs);
        NetflowInfo accept = ev.get(0);
        long conn = accept.extra();
        assertEquals(8080, accept.local().port());
        assertEquals(40000, accept.remote().port());
        assertEquals(six ? 6 : 4, accept.local().af());
        assertTrue(accept.sockfd() != conn);
        assertEquals(1_700_000_000L, accept.currSec());
        assertEquals(nanos ? 123_457_000 : 123_457_000, accept.currNsec()); // SYN-ACK time
        assertEquals(conn, ev.get(1).sockfd());
        assertEquals(100, ev.get(1).bytesIn());
        assertEquals(100, ev.get(2).bytesOut());
        assertEquals(300, ev.get(4).bytesOut());
        assertEquals(100, ev.get(5).bytesIn());
        assertEquals(300, ev.get(5).bytesOut());
        assertEquals(conn, ev.get(5).sockfd());
        assertEquals(10, ev.get(7).bytesIn());
        for (int i = 0; i < ev.size(); i++) {
            assertEquals(i, ev.get(i).id());
        }
        assertEquals(2, st[0].connections);
        assertEquals(1, st[0].refused);
        assertEquals(2, st[0].closes);
        assertEquals(110, st[0].bytesToServer);
        assertEquals(300, st[0].bytesToClient);
        assertEquals(100, st[0].retransmittedBytes);
    }

    @Test
    void serverPortsTurnOtherConnectionsIntoConnects() throws Exception {
        List<NetflowInfo> ev = importBytes(exchange(ByteOrder.BIG_ENDIAN, false, 1, false).bytes(), Set.of(8080), null);
        String obs = ev.stream().map(NetflowInfo::obsName).toList().toString();
        // the 9999 connection is seen from its client: its 10 bytes are a send
        assertEquals("[accept, recv, send, send, send, close, connect, send, close]", obs);
        assertEquals(40002, ev.get(6).local().port());
        assertEquals(10, ev.get(7).bytesOut());
    }

    @Test
    void midStreamConnectionOpensAtTheFirstPacket() throws Exception {
        PcapBuilder b = new PcapBuilder(ByteOrder.LITTLE_ENDIAN, false, 1);
        b.tcp(1_000_000_000L, v4(9), 50000, v4(2), 443, 100, 1, ACK, 50, -1);
        b.tcp(2_000_000_000L, v4(2), 443, v4(9), 50000, 1, 150, ACK, 70, -1);
        List<NetflowInfo> ev = importBytes(b.bytes(), null, null);
        assertEquals("[accept, recv, send]", ev.stream().map(NetflowInfo::obsName).toList().toString());
        assertEquals(443, ev.get(0).local().port());
        assertEquals(70, ev.get(2).bytesOut());
    }

    @Test
    void corruptFilesGiveTheOffset() throws Exception {
        byte[] good = exchange(ByteOrder.BIG_ENDIAN, false, 1, false).bytes();
        // truncated inside the third record's packet data
        int rec = 16 + 14 + 20 + 20;
        byte[] cut = Arrays.copyOf(good, 24 + 2 * rec + 20);
        CaptureFormatException e = assertThrows(CaptureFormatException.class, () -> importBytes(cut, null, null));
        assertEquals(24 + 2 * rec, e.offset());
        assertTrue(e.getMessage().contains("truncated pcap record") && e.getMessage().contains("offset " + (24 + 2 * rec)),
                e.getMessage());
        // truncated record header
        byte[] cutHdr = Arrays.copyOf(good, 24 + rec + 7);
        e = assertThrows(CaptureFormatException.class, () -> importBytes(cutHdr, null, null));
        assertEquals(24 + rec, e.offset());
        // bad magic, short global header, pcapng
        byte[] magic = good.clone();
        magic[0] = 0x12;
        e = assertThrows(CaptureFormatException.class, () -> importBytes(magic, null, null));
        assertEquals(0, e.offset());
        e = assertThrows(CaptureFormatException.class, () -> importBytes(Arrays.copyOf(good, 10), null, null));
        assertEquals(10, e.offset());
        byte[] ng = {0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        e = assertThrows(CaptureFormatException.class, () -> importBytes(ng, null, null));
        assertTrue(e.getMessage().contains("pcapng"));
        // absurd captured length in the second record
        byte[] len = good.clone();
        len[24 + rec + 8] = 0x7f;
        e = assertThrows(CaptureFormatException.class, () -> importBytes(len, null, null));
        assertEquals(24 + rec + 8, e.offset());
        // an IPv4 header claiming version 5
        byte[] ver = good.clone();
        ver[24 + 16 + 14] = 0x55;
        e = assertThrows(CaptureFormatException.class, () -> importBytes(ver, null, null));
        assertEquals(24 + 16 + 14, e.offset());
        // unsupported link type
        byte[] lt = good.clone();
        lt[23] = 105;
        e = assertThrows(CaptureFormatException.class, () -> importBytes(lt, null, null));
        assertTrue(e.getMessage().contains("link type 105"));
    }

    @Test
    void emptyPcapHasNoEvents() throws Exception {
        assertTrue(importBytes(new PcapBuilder(ByteOrder.BIG_ENDIAN, true, 276).bytes(), null, null).isEmpty());
        try (PcapReader r = new PcapReader("e", new ByteArrayInputStream(new PcapBuilder(ByteOrder.LITTLE_ENDIAN,
                true, 113).bytes()))) {
            assertTrue(r.nanosecondTimestamps());
            assertEquals(113, r.linkType());
            assertNull(r.next());
        }
    }
}
