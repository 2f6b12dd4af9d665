package io.magicwand.netflow;

import java.util.Arrays;

/**
 * Feature response ({@code 0xd32f}, 26 bytes): {@code base(6) (id = request id), status u32 (0 or a
 * positive errno), val[16]}.
 *
 * @param id     u32 id of the request answered
 * @param status u32: 0 success, else a positive errno
 * @param val    16-byte value (defensively copied); same encodings as {@link FeatureRequest#val()}
 */
public record FeatureResponse(long id, long status, byte[] val) implements NetflowMessage {

    public static final int VAL_LEN = 16;

    public FeatureResponse {
        Unsigned.checkU32("id", id);
        Unsigned.checkU32("status", status);
        val = Unsigned.copyExact("val", val, VAL_LEN);
    }

    /** A success response carrying {@code val}. */
    public static FeatureResponse ok(long id, byte[] val) {
        return new FeatureResponse(id, 0, val);
    }

    /** A failure response with a positive errno and a zero val. */
    public static FeatureResponse error(long id, long errno) {
        if (errno <= 0) {
            throw new IllegalArgumentException("errno must be positive, got " + errno);
        }
        return new FeatureResponse(id, errno, new byte[VAL_LEN]);
    }

    @Override
    public int signature() {
        return NetflowCodec.SIG_RESPONSE;
    }

    public boolean isOk() {
        return status == 0;
    }

    /** The 16-byte val (a copy). */
    @Override
    public byte[] val() {
        return val.clone();
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

    @Override
    public boolean equals(Object o) {
        return o instanceof FeatureResponse r && r.id == id && r.status == status && Arrays.equals(r.val, val);
    }

    @Override
    public int hashCode() {
        return (31 * Long.hashCode(id) + Long.hashCode(status)) * 31 + Arrays.hashCode(val);
    }

    @Override
    public String toString() {
        return "FeatureResponse[id=" + id + ", status=" + status + ", val=" + Unsigned.hex(val) + "]";
    }
}
