package io.magicwand.sink;

/** The NetFlow connection to an mwcomms is down (not yet connected, or lost while a request was pending). */
public class NetflowUnavailableException extends Exception {
    private static final long serialVersionUID = 1L;

    public NetflowUnavailableException(String message) {
        super(message);
    }
}
