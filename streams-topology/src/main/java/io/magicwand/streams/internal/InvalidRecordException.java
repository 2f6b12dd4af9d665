package io.magicwand.streams.internal;

/**
 * A record that deserialized but whose content cannot be processed (negative cumulative bytes from a
 * wrapped counter, no host, impossible timestamps). Thrown before any state is touched; the
 * processing exception handler dead-letters the record with this message and processing continues.
 */
public class InvalidRecordException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public InvalidRecordException(String message) {
        super(message);
    }
}
