package io.magicwand.netflow;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Incremental decoder for a NetFlow TCP byte stream. Feed it chunks split anywhere (one byte at a
 * time, or several messages per chunk); it emits every complete message, in stream order, and keeps
 * the bytes of a partial message until the rest arrives.
 *
 * <p>Knows every signature of {@link NetflowCodec} (the original three plus the snapshot and auth
 * extensions). The protocol has no resynchronisation marker, so an unknown signature makes the rest
 * of the stream meaningless (and a malformed auth message ends it too, see {@link #decodeOrFail}): the decoder throws a {@link NetflowFormatException} naming the signature and
 * the absolute stream offset of the bad message, and stays failed (later calls throw the same
 * error); the caller closes the connection. Messages completed before the garbage in the same chunk
 * are still delivered to the consumer before the exception is thrown.
 *
 * <p>Not thread-safe: one instance per connection, fed from one thread (e.g. a Vert.x event loop).
 */
public final class NetflowStreamDecoder {

    private final byte[] pending = new byte[NetflowCodec.MAX_LEN];
    private int pendingLen;
    /** Absolute stream offset of the first byte of {@link #pending} (= bytes consumed into whole messages). */
    private long messageStart;
    private long messagesDecoded;
    private NetflowFormatException failure;

    /** Feeds a chunk; returns the messages it completed, in order. */
    public List<NetflowMessage> feed(byte[] chunk) {
        return feed(chunk, 0, chunk.length);
    }

    /** Feeds {@code len} bytes of {@code chunk} from {@code off}; returns the messages completed, in order. */
    public List<NetflowMessage> feed(byte[] chunk, int off, int len) {
        List<NetflowMessage> out = new ArrayList<>();
        feed(chunk, off, len, out::add);
        return out;
    }

    /** Feeds the remaining bytes of {@code chunk} (consuming them); returns the messages completed. */
    public List<NetflowMessage> feed(ByteBuffer chunk) {
        byte[] b = new byte[chunk.remaining()];
        chunk.get(b);
        return feed(b);
    }

    /**
     * Feeds {@code len} bytes of {@code chunk} from {@code off}, handing each completed message to
     * {@code sink} as soon as it is complete.
     *
     * @throws NetflowFormatException on an unknown signature (after delivering the messages before it)
     */
    public void feed(byte[] chunk, int off, int len, Consumer<? super NetflowMessage> sink) {
        if (failure != null) {
            throw new NetflowFormatException("stream already failed: " + failure.getMessage(), failure.streamOffset());
        }
        if (off < 0 || len < 0 || off > chunk.length - len) {
            throw new IndexOutOfBoundsException("off=" + off + " len=" + len + " array=" + chunk.length);
        }
        int p = off;
        int end = off + len;
        while (p < end) {
            // Fast path: nothing pending and a whole message in the chunk -> decode in place.
            if (pendingLen == 0 && end - p >= 2) {
                int msgLen = lengthOrFail(NetflowCodec.getU16(chunk, p));
                if (end - p >= msgLen) {
                    NetflowMessage m = decodeOrFail(chunk, p, NetflowCodec.getU16(chunk, p));
                    p += msgLen;
                    complete(msgLen);
                    sink.accept(m);
                    continue;
                }
            }
            // Slow path: accumulate into the pending buffer.
            int need = pendingLen < 2 ? 2 - pendingLen : lengthOrFail(NetflowCodec.getU16(pending, 0)) - pendingLen;
            int n = Math.min(need, end - p);
            System.arraycopy(chunk, p, pending, pendingLen, n);
            pendingLen += n;
            p += n;
            if (pendingLen < 2) {
                continue;
            }
            int sig = NetflowCodec.getU16(pending, 0);
            int msgLen = lengthOrFail(sig);
            if (pendingLen == msgLen) {
                NetflowMessage m = decodeOrFail(pending, 0, sig);
                pendingLen = 0;
                complete(msgLen);
                sink.accept(m);
            }
        }
    }

    /**
     * Declares the end of the stream (peer closed the connection).
     *
     * @throws NetflowFormatException when the stream ended inside a message
     */
    public void endOfStream() {
        if (failure != null) {
            throw new NetflowFormatException("stream already failed: " + failure.getMessage(), failure.streamOffset());
        }
        if (pendingLen > 0) {
            String what = pendingLen >= 2
                    ? String.format("a 0x%04x message (%d of %d bytes)", NetflowCodec.getU16(pending, 0), pendingLen,
                            NetflowCodec.messageLength(NetflowCodec.getU16(pending, 0)))
                    : "a message header (1 of 2 signature bytes)";
            throw new NetflowFormatException("stream ended inside " + what + " at stream offset " + messageStart, messageStart);
        }
    }

    /** Bytes of the stream consumed into whole messages so far (the offset of the next message). */
    public long offset() {
        return messageStart;
    }

    /** Total bytes fed (including those of a partial message), excluding bytes after a failure. */
    public long bytesFed() {
        return messageStart + pendingLen;
    }

    /** Bytes held for a message not yet complete. */
    public int pendingBytes() {
        return pendingLen;
    }

    /** Number of messages emitted so far. */
    public long messagesDecoded() {
        return messagesDecoded;
    }

    /** True once an unknown signature (or a malformed auth message) was seen; the decoder then rejects further input. */
    public boolean failed() {
        return failure != null;
    }

    private void complete(int msgLen) {
        messageStart += msgLen;
        messagesDecoded++;
    }

    /**
     * Decodes a whole framed message. A body that is invalid although framed (an auth token length
     * outside 1..64) also fails the stream: only a client sends auth, and the protocol answers a
     * malformed handshake with EACCES and a disconnect, so there is nothing to continue with.
     */
    private NetflowMessage decodeOrFail(byte[] b, int off, int sig) {
        try {
            return NetflowCodec.decodeAt(b, off, sig);
        } catch (NetflowFormatException e) {
            failure = new NetflowFormatException(e.getMessage() + " at stream offset " + messageStart, messageStart);
            pendingLen = 0;
            throw failure;
        }
    }

    private int lengthOrFail(int sig) {
        int len = NetflowCodec.messageLength(sig);
        if (len < 0) {
            failure = new NetflowFormatException(
                    String.format("unknown signature 0x%04x at stream offset %d", sig, messageStart), messageStart);
            throw failure;
        }
        return len;
    }
}
