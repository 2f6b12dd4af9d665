package io.magicwand.netflow;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Byte-exact encoder/decoder of the NetFlow messages (DESIGN §5, docs/protocol.md): the three
 * original ones (info, feature request, feature response) and the extensions socket snapshot
 * ({@code 0xd311}) and auth ({@code 0xd330}). Big-endian, packed. Stateless and thread-safe. For a
 * TCP stream use {@link NetflowStreamDecoder}.
 */
public final class NetflowCodec {

    public static final int SIG_INFO = 0xd310;
    public static final int SIG_REQUEST = 0xd320;
    public static final int SIG_RESPONSE = 0xd32f;
    /** Extension: socket snapshot, info layout (answer to a socket-list request). */
    public static final int SIG_SNAPSHOT = 0xd311;
    /** Extension: token handshake, client to server. */
    public static final int SIG_AUTH = 0xd330;

    /** Base header: sig u16 + id u32. */
    public static final int BASE_LEN = 6;
    public static final int INFO_LEN = 116;
    public static final int REQUEST_LEN = 46;
    public static final int RESPONSE_LEN = 26;
    public static final int SNAPSHOT_LEN = INFO_LEN;
    public static final int AUTH_LEN = 72;
    /** The longest message; a buffer of this size holds any one message. */
    public static final int MAX_LEN = INFO_LEN;

    private NetflowCodec() {}

    /** Total length in bytes of a message with this signature, or -1 for an unknown signature. */
    public static int messageLength(int sig) {
        return switch (sig) {
            case SIG_INFO -> INFO_LEN;
            case SIG_REQUEST -> REQUEST_LEN;
            case SIG_RESPONSE -> RESPONSE_LEN;
            case SIG_SNAPSHOT -> SNAPSHOT_LEN;
            case SIG_AUTH -> AUTH_LEN;
            default -> -1;
        };
    }

    /** Encodes one message into a new array of exactly {@link #messageLength(int)} bytes. */
    public static byte[] encode(NetflowMessage msg) {
        byte[] out = new byte[messageLength(msg.signature())];
        encodeInto(msg, out, 0);
        return out;
    }

    /** Encodes one message at the buffer's position, advancing it. */
    public static void encode(NetflowMessage msg, ByteBuffer dst) {
        dst.put(encode(msg));
    }

    /** Writes {@code msg} into {@code out} at {@code off}; returns the number of bytes written. */
    public static int encodeInto(NetflowMessage msg, byte[] out, int off) {
        int len = messageLength(msg.signature());
        if (off < 0 || out.length - off < len) {
            throw new IndexOutOfBoundsException("need " + len + " bytes at offset " + off + " of a " + out.length + "-byte array");
        }
        Arrays.fill(out, off, off + len, (byte) 0);
        putU16(out, off, msg.signature());
        Unsigned.putU32(out, off + 2, msg.id());
        int p = off + BASE_LEN;
        NetflowInfo info = msg instanceof NetflowInfo i ? i : msg instanceof NetflowSnapshot s ? s.info() : null;
        if (info != null) {
            NetflowInfo i = info;
            putU16(out, p, i.obs());
            Unsigned.putU64(out, p + 2, i.sessionStartSec());
            Unsigned.putU64(out, p + 10, i.sessionStartNsec());
            Unsigned.putU64(out, p + 18, i.currSec());
            Unsigned.putU64(out, p + 26, i.currNsec());
            Unsigned.putU64(out, p + 34, i.sockfd());
            putEndpoint(out, p + 42, i.local());
            putEndpoint(out, p + 64, i.remote());
            Unsigned.putU64(out, p + 86, i.bytesIn());
            Unsigned.putU64(out, p + 94, i.bytesOut());
            Unsigned.putU64(out, p + 102, i.extra());
        } else if (msg instanceof FeatureRequest r) {
            putU16(out, p, r.flags());
            putU16(out, p + 2, r.name());
            System.arraycopy(r.val(), 0, out, p + 4, FeatureRequest.VAL_LEN);
            System.arraycopy(r.ident(), 0, out, p + 20, FeatureRequest.IDENT_LEN);
        } else if (msg instanceof FeatureResponse r) {
            Unsigned.putU32(out, p, r.status());
            System.arraycopy(r.val(), 0, out, p + 4, FeatureResponse.VAL_LEN);
        } else if (msg instanceof NetflowAuth a) {
            byte[] token = a.token();
            putU16(out, p, token.length);
            System.arraycopy(token, 0, out, p + 2, token.length); // the rest stays zero (padding)
        }
        return len;
    }

    /**
     * Decodes exactly one message: the array must hold one whole message and nothing else.
     *
     * @throws NetflowFormatException on an unknown signature, a short array, trailing bytes or an
     *         invalid body (auth token length outside 1..64)
     */
    public static NetflowMessage decode(byte[] bytes) {
        if (bytes.length < 2) {
            throw new NetflowFormatException("truncated message: " + bytes.length + " bytes, need at least 2 for the signature");
        }
        int sig = getU16(bytes, 0);
        int len = messageLength(sig);
        if (len < 0) {
            throw new NetflowFormatException(String.format("unknown signature 0x%04x", sig));
        }
        if (bytes.length != len) {
            throw new NetflowFormatException(String.format("message 0x%04x must be %d bytes, got %d", sig, len, bytes.length));
        }
        return decodeAt(bytes, 0, sig);
    }

    /**
     * Decodes one message starting at the buffer's position and advances the position past it. On
     * failure the position is left unchanged.
     *
     * @throws NetflowFormatException on an unknown signature, when fewer bytes remain than the message
     *         needs, or on an invalid body (auth token length outside 1..64)
     */
    public static NetflowMessage decode(ByteBuffer src) {
        int start = src.position();
        if (src.remaining() < 2) {
            throw new NetflowFormatException("truncated message: " + src.remaining() + " bytes left, need at least 2 for the signature");
        }
        int sig = ((src.get(start) & 0xFF) << 8) | (src.get(start + 1) & 0xFF);
        int len = messageLength(sig);
        if (len < 0) {
            throw new NetflowFormatException(String.format("unknown signature 0x%04x", sig));
        }
        if (src.remaining() < len) {
            throw new NetflowFormatException(String.format("truncated message 0x%04x: %d of %d bytes", sig, src.remaining(), len));
        }
        byte[] b = new byte[len];
        src.get(start, b);
        NetflowMessage m = decodeAt(b, 0, sig); // may throw: the position is then unchanged
        src.position(start + len);
        return m;
    }

    /**
     * Decodes a message of known, valid signature whose bytes are all present at {@code off}.
     *
     * @throws NetflowFormatException when the message is framed but its body is invalid (an auth
     *         token length outside 1..64); the caller knows the message's length, so framing is intact
     */
    static NetflowMessage decodeAt(byte[] b, int off, int sig) {
        long id = Unsigned.getU32(b, off + 2);
        int p = off + BASE_LEN;
        return switch (sig) {
            case SIG_INFO -> decodeInfo(b, p, id);
            case SIG_SNAPSHOT -> new NetflowSnapshot(decodeInfo(b, p, id));
            case SIG_AUTH -> {
                int tokenLen = getU16(b, p);
                if (tokenLen == 0 || tokenLen > NetflowAuth.TOKEN_MAX) {
                    throw new NetflowFormatException(String.format(
                            "auth message (id %d): token length %d is outside 1..%d", id, tokenLen, NetflowAuth.TOKEN_MAX));
                }
                yield new NetflowAuth(id, Arrays.copyOfRange(b, p + 2, p + 2 + tokenLen));
            }
            case SIG_REQUEST -> new FeatureRequest(id, getU16(b, p), getU16(b, p + 2),
                    Arrays.copyOfRange(b, p + 4, p + 20), Arrays.copyOfRange(b, p + 20, p + 40));
            case SIG_RESPONSE -> new FeatureResponse(id, Unsigned.getU32(b, p), Arrays.copyOfRange(b, p + 4, p + 20));
            default -> throw new NetflowFormatException(String.format("unknown signature 0x%04x", sig));
        };
    }

    private static NetflowInfo decodeInfo(byte[] b, int p, long id) {
        return new NetflowInfo(id, getU16(b, p),
                Unsigned.getU64(b, p + 2), Unsigned.getU64(b, p + 10),
                Unsigned.getU64(b, p + 18), Unsigned.getU64(b, p + 26),
                Unsigned.getU64(b, p + 34),
                getEndpoint(b, p + 42), getEndpoint(b, p + 64),
                Unsigned.getU64(b, p + 86), Unsigned.getU64(b, p + 94), Unsigned.getU64(b, p + 102));
    }

    static int getU16(byte[] b, int off) {
        return ((b[off] & 0xFF) << 8) | (b[off + 1] & 0xFF);
    }

    private static void putU16(byte[] b, int off, int v) {
        b[off] = (byte) (v >>> 8);
        b[off + 1] = (byte) v;
    }

    private static Endpoint getEndpoint(byte[] b, int off) {
        return new Endpoint((int) Unsigned.getU32(b, off), Arrays.copyOfRange(b, off + 4, off + 20), getU16(b, off + 20));
    }

    private static void putEndpoint(byte[] b, int off, Endpoint e) {
        Unsigned.putU32(b, off, e.af() & 0xFFFF_FFFFL);
        System.arraycopy(e.addr(), 0, b, off + 4, Endpoint.ADDR_LEN);
        putU16(b, off + 20, e.port());
    }
}
