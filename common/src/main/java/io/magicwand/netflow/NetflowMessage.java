package io.magicwand.netflow;

/**
 * One message of the NetFlow wire protocol (DESIGN §5). Every message starts with the 6-byte base
 * header: a big-endian u16 signature and a u32 id.
 *
 * <p>Unsigned wire integers are carried in Java as follows, everywhere in this package: a u16 in an
 * {@code int} (0..65535), a u32 in a {@code long} (0..2^32-1, validated), and a u64 in a {@code long}
 * holding the raw 64 bits (values above {@link Long#MAX_VALUE} appear negative; use
 * {@link Long#toUnsignedString(long)} / {@link Long#compareUnsigned(long, long)} on them).
 */
public sealed interface NetflowMessage permits NetflowInfo, FeatureRequest, FeatureResponse, NetflowSnapshot, NetflowAuth {

    /**
     * The wire signature: {@link NetflowCodec#SIG_INFO}, {@link NetflowCodec#SIG_REQUEST},
     * {@link NetflowCodec#SIG_RESPONSE}, or one of the extensions {@link NetflowCodec#SIG_SNAPSHOT},
     * {@link NetflowCodec#SIG_AUTH}.
     */
    int signature();

    /** The u32 id of the base header (0..2^32-1). */
    long id();
}
