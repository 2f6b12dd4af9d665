package io.magicwand.ingest;

import io.magicwand.netflow.NetflowCodec;
import io.magicwand.netflow.NetflowFormatException;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.parsetools.RecordParser;

/**
 * Frames one NetFlow TCP stream into whole messages with a fixed-size {@link RecordParser}: first
 * the 6-byte base, then the rest of the message, whose length the signature gives
 * ({@link NetflowCodec#messageLength}). An unknown signature throws {@link NetflowFormatException}
 * with the stream offset of the bad message; the stream cannot be resynchronised after that, so
 * the owner drops the connection. One framer per connection.
 */
public final class NetflowFramer implements Handler<Buffer> {

    /** Receives each whole message. */
    @FunctionalInterface
    public interface MessageHandler {
        /**
         * @param message      the raw message bytes (owned by the callee)
         * @param streamOffset offset of its first byte in the connection's stream
         */
        void onMessage(byte[] message, long streamOffset);
    }

    private final RecordParser parser;
    private final MessageHandler handler;
    private final byte[] base = new byte[NetflowCodec.BASE_LEN];
    private boolean inBody;
    private int length;
    private long messageOffset;
    private long bytesFed;
    private boolean failed;

    public NetflowFramer(MessageHandler handler) {
        this.handler = handler;
        this.parser = RecordParser.newFixed(NetflowCodec.BASE_LEN);
        this.parser.handler(this::onRecord);
    }

    @Override
    public void handle(Buffer chunk) {
        if (failed) {
            return;
        }
        bytesFed += chunk.length();
        try {
            parser.handle(chunk);
        } catch (NetflowFormatException e) {
            failed = true;
            throw e;
        }
    }

    private void onRecord(Buffer rec) {
        if (!inBody) {
            int sig = rec.getUnsignedShort(0);
            int len = NetflowCodec.messageLength(sig);
            if (len < NetflowCodec.BASE_LEN) {
                throw new NetflowFormatException(String.format("unknown NetFlow signature 0x%04x", sig), messageOffset);
            }
            rec.getBytes(0, NetflowCodec.BASE_LEN, base, 0);
            length = len;
            inBody = true;
            parser.fixedSizeMode(len - NetflowCodec.BASE_LEN);
            return;
        }
        byte[] msg = new byte[length];
        System.arraycopy(base, 0, msg, 0, NetflowCodec.BASE_LEN);
        rec.getBytes(0, length - NetflowCodec.BASE_LEN, msg, NetflowCodec.BASE_LEN);
        long off = messageOffset;
        messageOffset += length;
        inBody = false;
        parser.fixedSizeMode(NetflowCodec.BASE_LEN);
        handler.onMessage(msg, off);
    }

    /** Stops delivering messages (the rest of the current chunk waits) until {@link #resume()}. */
    public void pause() {
        parser.pause();
    }

    public void resume() {
        if (!failed) {
            parser.resume();
        }
    }

    /** Offset of the next message's first byte = bytes of whole messages delivered so far. */
    public long offset() {
        return messageOffset;
    }

    /** Bytes received but not yet delivered as a whole message (a partial message at a disconnect). */
    public long pendingBytes() {
        return bytesFed - messageOffset;
    }

    public long bytesFed() {
        return bytesFed;
    }

    public boolean failed() {
        return failed;
    }
}
