package io.magicwand.netflow;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Auth extension ({@code 0xd330}, 72 bytes, client to server): the token handshake. Wire layout
 * after the base header: {@code token_len u16 (1..64), token[64]} (the token bytes, zero padded).
 * The server answers with a {@link FeatureResponse} carrying this id: status 0, or {@code EACCES}
 * (13) followed by a disconnect (docs/protocol.md, "Auth 0xd330").
 *
 * <p>{@link #toString()} never shows the token, only its length.
 *
 * @param id    u32 id chosen by the client, echoed in the response
 * @param token 1..64 token bytes (defensively copied)
 */
public record NetflowAuth(long id, byte[] token) implements NetflowMessage {

    /** Longest token the message can carry. */
    public static final int TOKEN_MAX = 64;

    public NetflowAuth {
        Unsigned.checkU32("id", id);
        if (token == null || token.length == 0 || token.length > TOKEN_MAX) {
            throw new IllegalArgumentException("auth token must be 1.." + TOKEN_MAX + " bytes, got "
                    + (token == null ? "none" : token.length));
        }
        token = token.clone();
    }

    /** An auth message carrying the UTF-8 bytes of {@code token} (1..64 bytes once encoded). */
    public static NetflowAuth of(long id, String token) {
        return new NetflowAuth(id, token.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public int signature() {
        return NetflowCodec.SIG_AUTH;
    }

    /** The token bytes (a copy). */
    @Override
    public byte[] token() {
        return token.clone();
    }

    /** Number of token bytes (the wire's {@code token_len}). */
    public int tokenLength() {
        return token.length;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NetflowAuth a && a.id == id && Arrays.equals(a.token, token);
    }

    @Override
    public int hashCode() {
        return 31 * Long.hashCode(id) + Arrays.hashCode(token);
    }

    @Override
    public String toString() {
        return "NetflowAuth[id=" + id + ", token=<" + token.length + " bytes>]";
    }
}
