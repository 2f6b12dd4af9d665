package io.magicwand.netflow;

import java.net.InetAddress;
import java.util.Arrays;

/**
 * Feature request ({@code 0xd320}, 46 bytes): {@code base(6) flags u16, name u16, val[16], ident[20]}.
 *
 * <p>{@code flags}: bit 0x1 = write (else read), bit 0x2 = by socket (ident holds a socket id, an i64
 * in its first 8 bytes); otherwise an address-scoped request carries {@code af u32, addr[16]} in
 * ident, and INS-wide requests leave it zero. {@code val} holds a u32 in its first 4 bytes, a u64 in
 * its first 8, or a {@link TimeVal} (s u64, us u64). Names are in {@link FeatureNames}.
 *
 * @param id    u32 request id, echoed by the response
 * @param flags u16 flags
 * @param name  u16 feature name
 * @param val   16-byte value (defensively copied)
 * @param ident 20-byte identifier (defensively copied)
 */
public record FeatureRequest(long id, int flags, int name, byte[] val, byte[] ident) implements NetflowMessage {

    public static final int FLAG_READ = 0x0;
    public static final int FLAG_WRITE = 0x1;
    public static final int FLAG_BY_SOCKET = 0x2;
    public static final int VAL_LEN = 16;
    public static final int IDENT_LEN = 20;

    public FeatureRequest {
        Unsigned.checkU32("id", id);
        Unsigned.checkU16("flags", flags);
        Unsigned.checkU16("name", name);
        val = Unsigned.copyExact("val", val, VAL_LEN);
        ident = Unsigned.copyExact("ident", ident, IDENT_LEN);
    }

    // ---- factories -------------------------------------------------------------------------

    /** Read {@code name} of socket {@code socketId} (flags 0x2). */
    public static FeatureRequest readBySocket(long id, int name, long socketId) {
        return new FeatureRequest(id, FLAG_BY_SOCKET, name, new byte[VAL_LEN], socketIdent(socketId));
    }

    /** Write {@code val} (see {@link #u32Val}, {@link #u64Val}, {@link #timeVal}) to socket {@code socketId} (flags 0x3). */
    public static FeatureRequest writeBySocket(long id, int name, byte[] val, long socketId) {
        return new FeatureRequest(id, FLAG_WRITE | FLAG_BY_SOCKET, name, val, socketIdent(socketId));
    }

    /** Read {@code name} scoped to an address (flags 0x0). */
    public static FeatureRequest readByAddress(long id, int name, InetAddress address) {
        return new FeatureRequest(id, FLAG_READ, name, new byte[VAL_LEN], addressIdent(address));
    }

    /** Write {@code val} scoped to an address (flags 0x1), e.g. {@link FeatureNames#ADDRESS_BLOCK}. */
    public static FeatureRequest writeByAddress(long id, int name, byte[] val, InetAddress address) {
        return new FeatureRequest(id, FLAG_WRITE, name, val, addressIdent(address));
    }

    /** Read an INS-wide feature (flags 0x0, zero ident). */
    public static FeatureRequest readGlobal(long id, int name) {
        return new FeatureRequest(id, FLAG_READ, name, new byte[VAL_LEN], new byte[IDENT_LEN]);
    }

    /** Write an INS-wide feature (flags 0x1, zero ident), e.g. {@link FeatureNames#CONGESTION_CONTROL}. */
    public static FeatureRequest writeGlobal(long id, int name, byte[] val) {
        return new FeatureRequest(id, FLAG_WRITE, name, val, new byte[IDENT_LEN]);
    }

    /** Block (true) or unblock (false) an address: {@link FeatureNames#ADDRESS_BLOCK}, val.v32 1/0. */
    public static FeatureRequest blockAddress(long id, InetAddress address, boolean block) {
        return writeByAddress(id, FeatureNames.ADDRESS_BLOCK, u32Val(block ? 1 : 0), address);
    }

    /** Close a socket: {@link FeatureNames#IS_OPEN} written with 0. */
    public static FeatureRequest closeSocket(long id, long socketId) {
        return writeBySocket(id, FeatureNames.IS_OPEN, u32Val(0), socketId);
    }

    // ---- val / ident builders ---------------------------------------------------------------

    /** A 16-byte val holding a u32 in its first 4 bytes. */
    public static byte[] u32Val(long v) {
        byte[] b = new byte[VAL_LEN];
        Unsigned.putU32(b, 0, Unsigned.checkU32("val", v));
        return b;
    }

    /** A 16-byte val holding a u64 (raw bits) in its first 8 bytes. */
    public static byte[] u64Val(long v) {
        byte[] b = new byte[VAL_LEN];
        Unsigned.putU64(b, 0, v);
        return b;
    }

    /** A 16-byte val holding a time: seconds u64, microseconds u64. */
    public static byte[] timeVal(long sec, long usec) {
        byte[] b = new byte[VAL_LEN];
        Unsigned.putU64(b, 0, sec);
        Unsigned.putU64(b, 8, usec);
        return b;
    }

    /** A 16-byte val holding a time. */
    public static byte[] timeVal(TimeVal t) {
        return timeVal(t.sec(), t.usec());
    }

    /** A 20-byte ident holding a socket id (i64) in its first 8 bytes. */
    public static byte[] socketIdent(long socketId) {
        byte[] b = new byte[IDENT_LEN];
        Unsigned.putU64(b, 0, socketId);
        return b;
    }

    /** A 20-byte ident holding an address: af u32 (4|6), then the 16-byte address. */
    public static byte[] addressIdent(InetAddress address) {
        byte[] b = new byte[IDENT_LEN];
        Unsigned.putU32(b, 0, Endpoint.afOf(address));
        System.arraycopy(Endpoint.addrBytes(address), 0, b, 4, Endpoint.ADDR_LEN);
        return b;
    }

    // ---- accessors --------------------------------------------------------------------------

    @Override
    public int signature() {
        return NetflowCodec.SIG_REQUEST;
    }

    /** The 16-byte val (a copy). */
    @Override
    public byte[] val() {
        return val.clone();
    }

    /** The 20-byte ident (a copy). */
    @Override
    public byte[] ident() {
        return ident.clone();
    }

    public boolean isWrite() {
        return (flags & FLAG_WRITE) != 0;
    }

    public boolean isBySocket() {
        return (flags & FLAG_BY_SOCKET) != 0;
    }

    /** val read as a u32 (first 4 bytes). */
    public long valU32() {
        return Unsigned.getU32(val, 0);
    }

    /** val read as a u64 (first 8 bytes, raw bits). */
    public long valU64() {
        return Unsigned.getU64(val, 0);
    }

    /** val read as a time (s u64, us u64). */
    public TimeVal valTime() {
        return new TimeVal(Unsigned.getU64(val, 0), Unsigned.getU64(val, 8));
    }

    /** ident read as a socket id (i64 in the first 8 bytes); meaningful when {@link #isBySocket()}. */
    public long identSocket() {
        return Unsigned.getU64(ident, 0);
    }

    /** ident's address family (u32 in the first 4 bytes, raw bits); meaningful for address-scoped requests. */
    public int identAf() {
        return (int) Unsigned.getU32(ident, 0);
    }

    /** ident's 16 address bytes (a copy). */
    public byte[] identAddrBytes() {
        return Arrays.copyOfRange(ident, 4, 4 + Endpoint.ADDR_LEN);
    }

    /**
     * ident read as an address.
     *
     * @throws IllegalStateException when the ident's af is neither 4 nor 6 (e.g. a by-socket request)
     */
    public InetAddress identAddress() {
        return Endpoint.toInetAddress(identAf(), identAddrBytes());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof FeatureRequest r && r.id == id && r.flags == flags && r.name == name
                && Arrays.equals(r.val, val) && Arrays.equals(r.ident, ident);
    }

    @Override
    public int hashCode() {
        int h = Long.hashCode(id);
        h = 31 * h + flags;
        h = 31 * h + name;
        h = 31 * h + Arrays.hashCode(val);
        return 31 * h + Arrays.hashCode(ident);
    }

    @Override
    public String toString() {
        return "FeatureRequest[id=" + id + ", flags=0x" + Integer.toHexString(flags) + ", name="
                + FeatureNames.label(name) + ", val=" + Unsigned.hex(val) + ", ident=" + Unsigned.hex(ident) + "]";
    }
}
