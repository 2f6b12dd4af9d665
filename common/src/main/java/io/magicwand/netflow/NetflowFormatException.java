package io.magicwand.netflow;

/**
 * Bytes that are not a valid NetFlow message: unknown signature, short buffer, trailing bytes, or a
 * stream that ended inside a message. Unchecked so that codec callers decide where to handle it (a
 * TCP client typically logs it and closes the connection, since the stream cannot be resynchronised).
 */
public class NetflowFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final long streamOffset;

    public NetflowFormatException(String message) {
        this(message, -1);
    }

    public NetflowFormatException(String message, long streamOffset) {
        super(message);
        this.streamOffset = streamOffset;
    }

    /** Absolute offset in the stream where the bad message started, or -1 when not decoding a stream. */
    public long streamOffset() {
        return streamOffset;
    }
}
