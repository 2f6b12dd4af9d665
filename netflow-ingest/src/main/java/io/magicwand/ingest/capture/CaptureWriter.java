package io.magicwand.ingest.capture;

import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

/**
 * Writes raw NetFlow messages to rotating capture files in {@code dir} ({@link CaptureFormat}).
 * A new file starts when the current one would exceed {@code maxBytes} or is older than
 * {@code maxAgeNs}. Writes are buffered; call {@link #flush()} periodically. Not thread-safe: one
 * writer is owned by one event loop.
 */
public final class CaptureWriter implements Closeable {

    private static final DateTimeFormatter NAME_TS =
            DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss.SSS'Z'").withZone(ZoneOffset.UTC);

    private final Path dir;
    private final String prefix;
    private final long maxBytes;
    private final long maxAgeNs;

    private OutputStream out;
    private Path current;
    private long written;
    private long openedAtNs;
    private int fileSeq;
    private long framesTotal;
    private final byte[] hdr = new byte[14];

    public CaptureWriter(Path dir, String prefix, long maxBytes, long maxAgeNs) throws IOException {
        if (maxBytes < CaptureFormat.HEADER_LEN + 64) {
            throw new IllegalArgumentException("capture rotation size " + maxBytes + " is too small");
        }
        this.dir = Files.createDirectories(dir);
        this.prefix = prefix;
        this.maxBytes = maxBytes;
        this.maxAgeNs = maxAgeNs;
    }

    /** Appends one frame (rotating first if needed). */
    public void write(long captureTimeNs, String host, byte[] message, int off, int len) throws IOException {
        byte[] hostBytes = host.getBytes(StandardCharsets.UTF_8);
        if (hostBytes.length > 0xffff) {
            throw new IllegalArgumentException("host tag too long for a capture frame");
        }
        long frameLen = 8 + 2 + hostBytes.length + 4 + (long) len;
        long now = System.nanoTime();
        if (out == null || (written + frameLen > maxBytes && written > CaptureFormat.HEADER_LEN)
                || (maxAgeNs > 0 && now - openedAtNs >= maxAgeNs)) {
            rotate(captureTimeNs);
        }
        putLong(hdr, 0, captureTimeNs);
        hdr[8] = (byte) (hostBytes.length >>> 8);
        hdr[9] = (byte) hostBytes.length;
        out.write(hdr, 0, 10);
        out.write(hostBytes);
        hdr[10] = (byte) (len >>> 24);
        hdr[11] = (byte) (len >>> 16);
        hdr[12] = (byte) (len >>> 8);
        hdr[13] = (byte) len;
        out.write(hdr, 10, 4);
        out.write(message, off, len);
        written += frameLen;
        framesTotal++;
    }

    public void write(long captureTimeNs, String host, byte[] message) throws IOException {
        write(captureTimeNs, host, message, 0, message.length);
    }

    private void rotate(long captureTimeNs) throws IOException {
        closeCurrent();
        String name = prefix + "-" + NAME_TS.format(Instant.ofEpochSecond(0, captureTimeNs)) + "-" + (fileSeq++)
                + CaptureFormat.SUFFIX;
        current = dir.resolve(name);
        out = new BufferedOutputStream(Files.newOutputStream(current), 1 << 20);
        byte[] h = new byte[CaptureFormat.HEADER_LEN];
        System.arraycopy(CaptureFormat.MAGIC, 0, h, 0, 8);
        h[8] = 0;
        h[9] = (byte) CaptureFormat.VERSION;
        h[10] = 0;
        h[11] = (byte) CaptureFormat.HEADER_LEN;
        out.write(h);
        written = CaptureFormat.HEADER_LEN;
        openedAtNs = System.nanoTime();
    }

    /** The file being written, or null before the first frame. */
    public Path currentFile() {
        return current;
    }

    public long framesWritten() {
        return framesTotal;
    }

    public void flush() throws IOException {
        if (out != null) {
            out.flush();
        }
    }

    private void closeCurrent() throws IOException {
        if (out != null) {
            out.close();
            out = null;
        }
    }

    @Override
    public void close() throws IOException {
        closeCurrent();
    }

    static void putLong(byte[] b, int off, long v) {
        for (int i = 7; i >= 0; i--) {
            b[off + i] = (byte) v;
            v >>>= 8;
        }
    }
}
