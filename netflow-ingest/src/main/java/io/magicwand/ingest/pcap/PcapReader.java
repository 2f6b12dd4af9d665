package io.magicwand.ingest.pcap;

import io.magicwand.ingest.capture.CaptureFormatException;
import java.io.BufferedInputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads classic libpcap files (tcpdump's {@code -w} format): both byte orders, microsecond
 * ({@code 0xa1b2c3d4}) and nanosecond ({@code 0xa1b23c4d}) timestamps. pcapng is recognised and
 * refused with a clear message. Truncated or malformed structure raises
 * {@link CaptureFormatException} with the byte offset.
 */
public final class PcapReader implements Closeable {

    public static final int LINKTYPE_ETHERNET = 1;
    public static final int LINKTYPE_LINUX_SLL = 113;
    public static final int LINKTYPE_LINUX_SLL2 = 276;
    /** Largest record we accept; larger is a corrupt length field (pcap's own limit is 256 KiB). */
    public static final int MAX_RECORD = 1 << 20;

    /** One captured packet. */
    public record Packet(long tsNs, byte[] data, int origLen, long offset) {}

    private final String name;
    private final InputStream in;
    private final boolean bigEndian;
    private final boolean nanos;
    private final int linkType;
    private final long snapLen;
    private long offset;
    private final byte[] hdr = new byte[24];

    public PcapReader(Path file) throws IOException {
        this(file.toString(), Files.newInputStream(file));
    }

    public PcapReader(String name, InputStream raw) throws IOException {
        this.name = name;
        this.in = new BufferedInputStream(raw, 1 << 16);
        int n = readFully(hdr, 24);
        if (n >= 4 && (hdr[0] & 0xff) == 0x0a && (hdr[1] & 0xff) == 0x0d && (hdr[2] & 0xff) == 0x0d
                && (hdr[3] & 0xff) == 0x0a) {
            throw new CaptureFormatException(name, 0, "pcapng file; convert it first with 'tcpdump -r IN -w OUT'"
                    + " (only classic pcap is supported)");
        }
        if (n < 24) {
            throw new CaptureFormatException(name, n, "truncated pcap global header (" + n + " of 24 bytes)");
        }
        long be = u32(hdr, 0, true);
        long le = u32(hdr, 0, false);
        if (be == 0xa1b2c3d4L || be == 0xa1b23c4dL) {
            bigEndian = true;
            nanos = be == 0xa1b23c4dL;
        } else if (le == 0xa1b2c3d4L || le == 0xa1b23c4dL) {
            bigEndian = false;
            nanos = le == 0xa1b23c4dL;
        } else {
            throw new CaptureFormatException(name, 0, String.format("not a pcap file (magic 0x%08x)", be));
        }
        int major = u16(hdr, 4, bigEndian);
        if (major != 2) {
            throw new CaptureFormatException(name, 4, "unsupported pcap version " + major);
        }
        snapLen = u32(hdr, 16, bigEndian);
        linkType = (int) (u32(hdr, 20, bigEndian) & 0x0fff_ffffL);
        if (linkType != LINKTYPE_ETHERNET && linkType != LINKTYPE_LINUX_SLL && linkType != LINKTYPE_LINUX_SLL2) {
            throw new CaptureFormatException(name, 20, "unsupported link type " + linkType
                    + " (supported: Ethernet 1, Linux cooked SLL 113, SLL2 276)");
        }
        offset = 24;
    }

    public int linkType() {
        return linkType;
    }

    public boolean nanosecondTimestamps() {
        return nanos;
    }

    public boolean bigEndian() {
        return bigEndian;
    }

    /** Next packet, or null at a clean end of file. */
    public Packet next() throws IOException {
        long start = offset;
        int n = readFully(hdr, 16);
        if (n == 0) {
            return null;
        }
        if (n < 16) {
            throw new CaptureFormatException(name, start, "truncated pcap record header (" + n + " of 16 bytes)");
        }
        long sec = u32(hdr, 0, bigEndian);
        long frac = u32(hdr, 4, bigEndian);
        long incl = u32(hdr, 8, bigEndian);
        long orig = u32(hdr, 12, bigEndian);
        if (frac >= (nanos ? 1_000_000_000L : 1_000_000L)) {
            throw new CaptureFormatException(name, start + 4, "bad timestamp fraction " + frac);
        }
        if (incl > MAX_RECORD || (snapLen > 0 && incl > Math.max(snapLen, 65535))) {
            throw new CaptureFormatException(name, start + 8, "implausible captured length " + incl
                    + " (snaplen " + snapLen + ")");
        }
        byte[] data = new byte[(int) incl];
        int got = readFully(data, (int) incl);
        if (got < incl) {
            throw new CaptureFormatException(name, start, "truncated pcap record (" + got + " of " + incl
                    + " packet bytes)");
        }
        long tsNs = sec * 1_000_000_000L + (nanos ? frac : frac * 1000L);
        return new Packet(tsNs, data, (int) Math.min(orig, Integer.MAX_VALUE), start);
    }

    public String name() {
        return name;
    }

    private int readFully(byte[] b, int len) throws IOException {
        int total = 0;
        while (total < len) {
            int r = in.read(b, total, len - total);
            if (r < 0) {
                break;
            }
            total += r;
        }
        offset += total;
        return total;
    }

    static long u32(byte[] b, int off, boolean be) {
        if (be) {
            return ((b[off] & 0xffL) << 24) | ((b[off + 1] & 0xff) << 16) | ((b[off + 2] & 0xff) << 8) | (b[off + 3] & 0xff);
        }
        return ((b[off + 3] & 0xffL) << 24) | ((b[off + 2] & 0xff) << 16) | ((b[off + 1] & 0xff) << 8) | (b[off] & 0xff);
    }

    static int u16(byte[] b, int off, boolean be) {
        return be ? ((b[off] & 0xff) << 8) | (b[off + 1] & 0xff) : ((b[off + 1] & 0xff) << 8) | (b[off] & 0xff);
    }

    @Override
    public void close() throws IOException {
        in.close();
    }
}
