package io.magicwand.ingest.capture;

/**
 * One frame of a capture file: a raw NetFlow message as received from the host tagged {@code host}.
 *
 * @param captureTimeNs when ingest received it, ns since the epoch
 * @param host          host tag of the source
 * @param message       the raw message bytes
 * @param offset        byte offset of the frame in its file (-1 when not read from a file)
 */
public record CaptureFrame(long captureTimeNs, String host, byte[] message, long offset) {}
