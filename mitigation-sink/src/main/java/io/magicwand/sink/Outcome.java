package io.magicwand.sink;

import io.magicwand.avro.ResultStatus;

/**
 * What applying a decision's requests came to.
 *
 * @param status   the result status to publish
 * @param errno    positive errno from mwcomms when FAILED, else 0
 * @param message  human-readable detail
 * @param attempts requests put on the wire (retries included)
 */
public record Outcome(ResultStatus status, int errno, String message, int attempts) {

    public static Outcome applied(String message, int attempts) {
        return new Outcome(ResultStatus.APPLIED, 0, message, attempts);
    }

    public static Outcome failed(int errno, String message, int attempts) {
        return new Outcome(ResultStatus.FAILED, errno, message, attempts);
    }

    public static Outcome timedOut(String message, int attempts) {
        return new Outcome(ResultStatus.TIMED_OUT, 0, message, attempts);
    }

    public static Outcome expired(String message, int attempts) {
        return new Outcome(ResultStatus.SKIPPED_EXPIRED, 0, message, attempts);
    }
}
