package io.magicwand.streams.internal;

/** A record whose bytes are not a valid Avro record of the topic's type (dead-lettered, see {@link Decode}). */
public class PoisonPillException extends InvalidRecordException {
    private static final long serialVersionUID = 1L;

    public PoisonPillException(String message, Throwable cause) {
        super(message);
        initCause(cause);
    }
}
