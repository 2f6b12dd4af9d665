package io.magicwand.netflow;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class NetflowStreamDecoderTest {

    /** All vectors back to back, twice, so every kind follows every other kind. */
    private static final List<NetflowMessage> MESSAGES = new ArrayList<>();
    private static final byte[] STREAM;

    static {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int round = 0; round < 2; round++) {
            for (String n : TestVectors.names()) {
                byte[] b = TestVectors.bytes(n);
                MESSAGES.add(NetflowCodec.decode(b));
                out.writeBytes(b);
            }
        }
        STREAM = out.toByteArray();
    }

    @Test
    void wholeStreamInOneChunk() {
        NetflowStreamDecoder d = new NetflowStreamDecoder();
        assertEquals(MESSAGES, d.feed(STREAM));
        assertEquals(STREAM.length, d.offset());
        assertEquals(0, d.pendingBytes());
        assertEquals(MESSAGES.size(), d.messagesDecoded());
        d.endOfStream();
    }

    @Test
    void byteByByte() {
        NetflowStreamDecoder d = new NetflowStreamDecoder();
        List<NetflowMessage> got = new ArrayList<>();
        long lastOffset = 0;
        for (int i = 0; i < STREAM.length; i++) {
            got.addAll(d.feed(STREAM, i, 1));
            assertEquals(i + 1, d.bytesFed());
            assertTrue(d.offset() >= lastOffset);
            lastOffset = d.offset();
        }
        assertEquals(MESSAGES, got);
        assertEquals(STREAM.length, d.offset());
        d.endOfStream();
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 42, 1234, 99999})
    void randomSplits(long seed) {
        Random rnd = new Random(seed);
        NetflowStreamDecoder d = new NetflowStreamDecoder();
        List<NetflowMessage> got = new ArrayList<>();
        int p = 0;
        while (p < STREAM.length) {
            int n = Math.min(STREAM.length - p, rnd.nextInt(300)); // 0-length chunks included
            if (rnd.nextBoolean()) {
                got.addAll(d.feed(Arrays.copyOfRange(STREAM, p, p + n)));
            } else {
                got.addAll(d.feed(ByteBuffer.wrap(STREAM, p, n)));
            }
            p += n;
        }
        assertEquals(MESSAGES, got);
        d.endOfStream();
    }

    @Test
    void consumerGetsMessagesBeforeGarbageThenTheErrorNamesTheOffset() {
        byte[] a = TestVectors.bytes("info-create-ipv4");
        byte[] b = TestVectors.bytes("req-set-sndbuf");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(a);
        out.writeBytes(b);
        out.writeBytes(new byte[] {(byte) 0xde, (byte) 0xad, 0, 0, 0, 1});
        byte[] stream = out.toByteArray();

        NetflowStreamDecoder d = new NetflowStreamDecoder();
        List<NetflowMessage> got = new ArrayList<>();
        NetflowFormatException e = assertThrows(NetflowFormatException.class,
                () -> d.feed(stream, 0, stream.length, got::add));
        assertEquals(List.of(NetflowCodec.decode(a), NetflowCodec.decode(b)), got);
        assertEquals("unknown signature 0xdead at stream offset " + (a.length + b.length), e.getMessage());
        assertEquals(a.length + b.length, e.streamOffset());
        assertTrue(d.failed());
        // The stream cannot be resynchronised: further input is refused, not misparsed.
        NetflowFormatException again = assertThrows(NetflowFormatException.class, () -> d.feed(a));
        assertTrue(again.getMessage().contains("already failed"), again.getMessage());
    }

    @Test
    void garbageSplitAcrossChunksIsDetectedOnceTheSignatureIsComplete() {
        byte[] a = TestVectors.bytes("resp-rcvbuf");
        NetflowStreamDecoder d = new NetflowStreamDecoder();
        assertEquals(1, d.feed(a).size());
        assertEquals(0, d.feed(new byte[] {(byte) 0xd3}).size()); // could still be a valid signature
        NetflowFormatException e = assertThrows(NetflowFormatException.class, () -> d.feed(new byte[] {0x12}));
        assertEquals("unknown signature 0xd312 at stream offset 26", e.getMessage());
    }

    @Test
    void extensionsAreFramedSplitAnywhere() {
        byte[] snap = TestVectors.bytes("ext-snapshot-ipv4");
        byte[] auth = TestVectors.bytes("ext-auth");
        byte[] resp = TestVectors.bytes("resp-rcvbuf");
        byte[] all = new byte[snap.length + auth.length + resp.length];
        System.arraycopy(snap, 0, all, 0, snap.length);
        System.arraycopy(auth, 0, all, snap.length, auth.length);
        System.arraycopy(resp, 0, all, snap.length + auth.length, resp.length);
        List<NetflowMessage> want = List.of(NetflowCodec.decode(snap), NetflowCodec.decode(auth), NetflowCodec.decode(resp));
        assertTrue(want.get(0) instanceof NetflowSnapshot && want.get(1) instanceof NetflowAuth);
        for (int cut = 1; cut < all.length; cut++) {
            NetflowStreamDecoder d = new NetflowStreamDecoder();
            List<NetflowMessage> got = new ArrayList<>(d.feed(all, 0, cut));
            got.addAll(d.feed(all, cut, all.length - cut));
            assertEquals(want, got, "split at " + cut);
            d.endOfStream();
        }
    }

    @Test
    void malformedAuthFailsTheStreamAfterTheMessagesBeforeIt() {
        byte[] resp = TestVectors.bytes("resp-rcvbuf");
        byte[] auth = TestVectors.bytes("ext-auth");
        auth[6] = 0;
        auth[7] = 65; // token length 65 > 64
        for (int cut : new int[] {resp.length + 10, resp.length + auth.length}) {
            byte[] all = new byte[resp.length + auth.length];
            System.arraycopy(resp, 0, all, 0, resp.length);
            System.arraycopy(auth, 0, all, resp.length, auth.length);
            NetflowStreamDecoder d = new NetflowStreamDecoder();
            List<NetflowMessage> got = new ArrayList<>();
            NetflowFormatException e = assertThrows(NetflowFormatException.class, () -> {
                d.feed(all, 0, cut, got::add);
                d.feed(all, cut, all.length - cut, got::add);
            });
            assertEquals(List.of(NetflowCodec.decode(resp)), got);
            assertEquals(resp.length, e.streamOffset());
            assertTrue(e.getMessage().contains("token length 65"), e.getMessage());
            assertTrue(d.failed());
        }
    }

    @Test
    void garbageAtStart() {
        NetflowStreamDecoder d = new NetflowStreamDecoder();
        NetflowFormatException e = assertThrows(NetflowFormatException.class,
                () -> d.feed("GET / HTTP/1.1\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
        assertEquals("unknown signature 0x4745 at stream offset 0", e.getMessage());
    }

    @Test
    void truncatedStreamIsReportedAtEnd() {
        byte[] a = TestVectors.bytes("info-recv-ipv4");
        NetflowStreamDecoder d = new NetflowStreamDecoder();
        assertEquals(1, d.feed(a).size());
        assertEquals(0, d.feed(Arrays.copyOf(a, 50)).size());
        assertEquals(50, d.pendingBytes());
        NetflowFormatException e = assertThrows(NetflowFormatException.class, d::endOfStream);
        assertEquals("stream ended inside a 0xd310 message (50 of 116 bytes) at stream offset 116", e.getMessage());

        NetflowStreamDecoder d2 = new NetflowStreamDecoder();
        d2.feed(new byte[] {(byte) 0xd3});
        NetflowFormatException e2 = assertThrows(NetflowFormatException.class, d2::endOfStream);
        assertTrue(e2.getMessage().contains("1 of 2 signature bytes"), e2.getMessage());
    }

    @Test
    void emptyStreamEndsCleanly() {
        NetflowStreamDecoder d = new NetflowStreamDecoder();
        assertEquals(List.of(), d.feed(new byte[0]));
        d.endOfStream();
        assertEquals(0, d.offset());
    }

    @Test
    void badBoundsAreRejected() {
        NetflowStreamDecoder d = new NetflowStreamDecoder();
        assertThrows(IndexOutOfBoundsException.class, () -> d.feed(new byte[4], 2, 3));
    }

    @Test
    void randomGarbageNeverEscapesAsAnotherException() {
        Random rnd = new Random(7);
        for (int i = 0; i < 2000; i++) {
            byte[] junk = new byte[rnd.nextInt(400)];
            rnd.nextBytes(junk);
            if (rnd.nextInt(3) == 0 && junk.length >= 2) { // often start with a valid signature
                int sig = new int[] {NetflowCodec.SIG_INFO, NetflowCodec.SIG_REQUEST, NetflowCodec.SIG_RESPONSE}[rnd.nextInt(3)];
                junk[0] = (byte) (sig >> 8);
                junk[1] = (byte) sig;
            }
            NetflowStreamDecoder d = new NetflowStreamDecoder();
            try {
                for (NetflowMessage m : d.feed(junk)) {
                    // Whatever decoded must re-encode to the exact bytes it came from.
                    assertEquals(m, NetflowCodec.decode(NetflowCodec.encode(m)));
                }
                d.endOfStream();
            } catch (NetflowFormatException expected) {
                assertTrue(expected.getMessage().contains("stream offset"), expected.getMessage());
            }
        }
    }
}
