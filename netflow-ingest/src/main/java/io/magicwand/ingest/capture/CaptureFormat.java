package io.magicwand.ingest.capture;

import java.nio.charset.StandardCharsets;

/**
 * The NetFlow capture file format (documented in docs/ingest.md). Big-endian throughout.
 *
 * <pre>
 * file header (16 bytes): magic "MWNFCAP\n" (8), version u16 (= 1), header length u16 (= 16), reserved u32 (0)
 * frame:  capture time u64 (ns since the epoch), host tag length u16, host tag (UTF-8),
 *         message length u32, message bytes (one whole raw NetFlow message as received)
 * </pre>
 */
public final class CaptureFormat {

    public static final byte[] MAGIC = "MWNFCAP\n".getBytes(StandardCharsets.US_ASCII);
    public static final int VERSION = 1;
    public static final int HEADER_LEN = 16;
    /** Largest message length a reader accepts; anything above is a corrupt file. */
    public static final int MAX_MESSAGE_LEN = 1 << 20;
    public static final String SUFFIX = ".mwcap";

    private CaptureFormat() {}
}
