package io.magicwand.ingest.capture;

import java.io.BufferedInputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Reads a capture file frame by frame ({@link CaptureFormat}). A bad header, an absurd length or a
 * file that ends inside a frame raises {@link CaptureFormatException} with the byte offset.
 */
public final class CaptureReader implements Closeable {

    private final String name;
    private final InputStream in;
    private long offset;
    private final byte[] buf = new byte[16];

    public CaptureReader(Path file) throws IOException {
        this(file.toString(), Files.newInputStream(file));
    }

    public CaptureReader(String name, InputStream raw) throws IOException {
        this.name = name;
        this.in = new BufferedInputStream(raw, 1 << 16);
        int n = readFully(buf, 0, CaptureFormat.HEADER_LEN);
        if (n < CaptureFormat.HEADER_LEN) {
            throw new CaptureFormatException(name, n, "truncated file header (" + n + " of "
                    + CaptureFormat.HEADER_LEN + " bytes)");
        }
        if (!Arrays.equals(buf, 0, 8, CaptureFormat.MAGIC, 0, 8)) {
            throw new CaptureFormatException(name, 0, "not a NetFlow capture file (bad magic)");
        }
        int version = ((buf[8] & 0xff) << 8) | (buf[9] & 0xff);
        int hlen = ((buf[10] & 0xff) << 8) | (buf[11] & 0xff);
        if (version != CaptureFormat.VERSION) {
            throw new CaptureFormatException(name, 8, "unsupported capture version " + version);
        }
        if (hlen < CaptureFormat.HEADER_LEN) {
            throw new CaptureFormatException(name, 10, "bad header length " + hlen);
        }
        offset = CaptureFormat.HEADER_LEN;
        // Future versions may grow the header; skip what we do not know.
        for (long skip = hlen - CaptureFormat.HEADER_LEN; skip > 0; skip--) {
            if (in.read() < 0) {
                throw new CaptureFormatException(name, offset, "truncated file header");
            }
            offset++;
        }
    }

    /** The next frame, or null at a clean end of file. */
    public CaptureFrame next() throws IOException {
        long start = offset;
        int n = readFully(buf, 0, 10);
        if (n == 0) {
            return null;
        }
        if (n < 10) {
            throw new CaptureFormatException(name, start, "truncated frame header");
        }
        long ts = 0;
        for (int i = 0; i < 8; i++) {
            ts = (ts << 8) | (buf[i] & 0xff);
        }
        int hostLen = ((buf[8] & 0xff) << 8) | (buf[9] & 0xff);
        byte[] host = new byte[hostLen];
        if (readFully(host, 0, hostLen) < hostLen) {
            throw new CaptureFormatException(name, start, "truncated host tag in frame");
        }
        if (readFully(buf, 0, 4) < 4) {
            throw new CaptureFormatException(name, start, "truncated frame length");
        }
        long len = ((buf[0] & 0xffL) << 24) | ((buf[1] & 0xff) << 16) | ((buf[2] & 0xff) << 8) | (buf[3] & 0xff);
        if (len > CaptureFormat.MAX_MESSAGE_LEN) {
            throw new CaptureFormatException(name, start, "frame length " + len + " exceeds the maximum "
                    + CaptureFormat.MAX_MESSAGE_LEN);
        }
        byte[] msg = new byte[(int) len];
        int got = readFully(msg, 0, (int) len);
        if (got < len) {
            throw new CaptureFormatException(name, start, "truncated frame (message has " + got + " of " + len
                    + " bytes)");
        }
        return new CaptureFrame(ts, new String(host, StandardCharsets.UTF_8), msg, start);
    }

    /** Current byte offset (start of the next frame). */
    public long offset() {
        return offset;
    }

    public String name() {
        return name;
    }

    private int readFully(byte[] b, int off, int len) throws IOException {
        int total = 0;
        while (total < len) {
            int r = in.read(b, off + total, len - total);
            if (r < 0) {
                break;
            }
            total += r;
        }
        offset += total;
        return total;
    }

    @Override
    public void close() throws IOException {
        in.close();
    }
}
