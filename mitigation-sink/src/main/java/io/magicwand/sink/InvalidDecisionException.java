package io.magicwand.sink;

/**
 * A decision that decodes as Avro but cannot be turned into NetFlow requests (a missing socket id for
 * CLOSE, an address that is not a numeric IP literal, a value out of range, ...). The sink reports it
 * as a FAILED result with errno EINVAL instead of dead-lettering it: the record itself is well formed,
 * the producer's intent is what is wrong, and the detector's operator sees it on mw.mitigation-results.
 */
public class InvalidDecisionException extends Exception {
    private static final long serialVersionUID = 1L;

    public InvalidDecisionException(String message) {
        super(message);
    }
}
