package io.magicwand.ingest.capture;

/** A capture or pcap file that is malformed or truncated; carries the byte offset of the problem. */
public class CaptureFormatException extends java.io.IOException {
    private static final long serialVersionUID = 1L;

    private final long offset;

    public CaptureFormatException(String file, long offset, String what) {
        super(file + ": " + what + " at byte offset " + offset);
        this.offset = offset;
    }

    /** Byte offset in the file where the bad structure starts. */
    public long offset() {
        return offset;
    }
}
