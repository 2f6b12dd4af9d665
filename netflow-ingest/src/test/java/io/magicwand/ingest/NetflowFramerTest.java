package io.magicwand.ingest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.magicwand.netflow.FeatureRequest;
import io.magicwand.netflow.FeatureResponse;
import io.magicwand.netflow.NetflowCodec;
import io.magicwand.netflow.NetflowFormatException;
import io.magicwand.netflow.NetflowInfo;
import io.magicwand.netflow.NetflowMessage;
import io.vertx.core.buffer.Buffer;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class NetflowFramerTest {

    private static final List<NetflowMessage> MESSAGES = List.of(
            TestRecords.info(1, NetflowInfo.OBS_ACCEPT, 10, 0, 0),
            FeatureResponse.ok(77, FeatureRequest.u32Val(5)),
            TestRecords.info(2, NetflowInfo.OBS_RECV, 11, 100, 0),
            FeatureRequest.closeSocket(9, 11),
            TestRecords.info(3, NetflowInfo.OBS_CLOSE, 11, 100, 200));

    private static byte[] stream() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (NetflowMessage m : MESSAGES) {
            out.writeBytes(NetflowCodec.encode(m));
        }
        return out.toByteArray();
    }

    private record Got(byte[] bytes, long offset) {}

    private static void check(List<Got> got) {
        assertEquals(MESSAGES.size(), got.size());
        long off = 0;
        for (int i = 0; i < MESSAGES.size(); i++) {
            byte[] want = NetflowCodec.encode(MESSAGES.get(i));
            assertArrayEquals(want, got.get(i).bytes(), "message " + i);
            assertEquals(off, got.get(i).offset());
            off += want.length;
        }
    }

    @Test
    void everySplitPointYieldsTheSameMessages() {
        byte[] s = stream();
        for (int cut = 0; cut <= s.length; cut++) {
            List<Got> got = new ArrayList<>();
            NetflowFramer f = new NetflowFramer((m, o) -> got.add(new Got(m, o)));
            f.handle(Buffer.buffer().appendBytes(s, 0, cut));
            f.handle(Buffer.buffer().appendBytes(s, cut, s.length - cut));
            check(got);
            assertEquals(0, f.pendingBytes());
        }
    }

    @Test
    void everyTwoSplitPointsAndByteByByte() {
        byte[] s = stream();
        for (int a = 1; a < s.length; a += 7) {
            for (int b = a; b < s.length; b += 5) {
                List<Got> got = new ArrayList<>();
                NetflowFramer f = new NetflowFramer((m, o) -> got.add(new Got(m, o)));
                f.handle(Buffer.buffer().appendBytes(s, 0, a));
                f.handle(Buffer.buffer().appendBytes(s, a, b - a));
                f.handle(Buffer.buffer().appendBytes(s, b, s.length - b));
                check(got);
            }
        }
        List<Got> got = new ArrayList<>();
        NetflowFramer f = new NetflowFramer((m, o) -> got.add(new Got(m, o)));
        for (byte x : s) {
            f.handle(Buffer.buffer().appendByte(x));
        }
        check(got);
    }

    @Test
    void garbageAfterGoodMessagesKeepsThemAndReportsTheOffset() {
        byte[] good = NetflowCodec.encode(MESSAGES.get(0));
        Buffer b = Buffer.buffer().appendBytes(good).appendBytes(new byte[] {(byte) 0xde, (byte) 0xad, 0, 0, 0, 1, 2, 3});
        List<Got> got = new ArrayList<>();
        NetflowFramer f = new NetflowFramer((m, o) -> got.add(new Got(m, o)));
        NetflowFormatException e = assertThrows(NetflowFormatException.class, () -> f.handle(b));
        assertEquals(1, got.size());
        assertEquals(good.length, e.streamOffset());
        assertTrue(e.getMessage().contains("0xdead"), e.getMessage());
        assertTrue(f.failed());
        f.handle(Buffer.buffer().appendBytes(good)); // ignored after failure
        assertEquals(1, got.size());
    }

    @Test
    void partialMessageIsReportedAsPending() {
        byte[] s = stream();
        List<Got> got = new ArrayList<>();
        NetflowFramer f = new NetflowFramer((m, o) -> got.add(new Got(m, o)));
        f.handle(Buffer.buffer().appendBytes(s, 0, 116 + 10));
        assertEquals(1, got.size());
        assertEquals(10, f.pendingBytes());
        assertEquals(116, f.offset());
    }

    @Test
    void pauseHoldsMessagesUntilResume() {
        byte[] s = stream();
        List<Got> got = new ArrayList<>();
        NetflowFramer[] ref = new NetflowFramer[1];
        ref[0] = new NetflowFramer((m, o) -> {
            got.add(new Got(m, o));
            if (got.size() == 2) {
                ref[0].pause();
            }
        });
        ref[0].handle(Buffer.buffer().appendBytes(s));
        assertEquals(2, got.size());
        ref[0].resume();
        check(got);
    }
}
