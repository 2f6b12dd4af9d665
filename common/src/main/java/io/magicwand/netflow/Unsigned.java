package io.magicwand.netflow;

/** Range checks for unsigned wire fields; package-private helpers for the message records. */
final class Unsigned {
    static final long U32_MAX = 0xFFFF_FFFFL;
    static final int U16_MAX = 0xFFFF;

    private Unsigned() {}

    static long checkU32(String field, long v) {
        if (v < 0 || v > U32_MAX) {
            throw new IllegalArgumentException(field + " must be a u32 (0.." + U32_MAX + "), got " + v);
        }
        return v;
    }

    static int checkU16(String field, int v) {
        if (v < 0 || v > U16_MAX) {
            throw new IllegalArgumentException(field + " must be a u16 (0..65535), got " + v);
        }
        return v;
    }

    static byte[] copyExact(String field, byte[] b, int len) {
        if (b == null) {
            throw new IllegalArgumentException(field + " must not be null");
        }
        if (b.length != len) {
            throw new IllegalArgumentException(field + " must be " + len + " bytes, got " + b.length);
        }
        return b.clone();
    }

    static long getU32(byte[] b, int off) {
        return ((b[off] & 0xFFL) << 24) | ((b[off + 1] & 0xFFL) << 16) | ((b[off + 2] & 0xFFL) << 8) | (b[off + 3] & 0xFFL);
    }

    static long getU64(byte[] b, int off) {
        return (getU32(b, off) << 32) | getU32(b, off + 4);
    }

    static void putU32(byte[] b, int off, long v) {
        b[off] = (byte) (v >>> 24);
        b[off + 1] = (byte) (v >>> 16);
        b[off + 2] = (byte) (v >>> 8);
        b[off + 3] = (byte) v;
    }

    static void putU64(byte[] b, int off, long v) {
        putU32(b, off, v >>> 32);
        putU32(b, off + 4, v & U32_MAX);
    }

    static String hex(byte[] b) {
        StringBuilder sb = new StringBuilder(b.length * 2);
        for (byte x : b) {
            sb.append(Character.forDigit((x >> 4) & 0xF, 16)).append(Character.forDigit(x & 0xF, 16));
        }
        return sb.toString();
    }
}
