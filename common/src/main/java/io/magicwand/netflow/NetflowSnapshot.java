package io.magicwand.netflow;

import java.util.Objects;

/**
 * Socket snapshot extension ({@code 0xd311}, 116 bytes, server to client): one socket the server
 * knows to be open, sent only to a client that asked with a {@code socket-list} request (before that
 * request's response). The layout is the info record's byte for byte with another signature; {@code
 * id} is the id of the socket-list request (not a sequence number) and the other fields are those of
 * the socket's latest info record.
 *
 * @param info the socket's fields; its {@link NetflowInfo#id()} is the request id
 */
public record NetflowSnapshot(NetflowInfo info) implements NetflowMessage {

    public NetflowSnapshot {
        Objects.requireNonNull(info, "info");
    }

    @Override
    public int signature() {
        return NetflowCodec.SIG_SNAPSHOT;
    }

    /** The id of the socket-list request this snapshot answers. */
    @Override
    public long id() {
        return info.id();
    }
}
