package io.magicwand.serde;

/**
 * A schema registry call failed. Carries what the registry said: the HTTP status (e.g. 409 for a
 * schema rejected as incompatible, 404 for an unknown subject or id, 422 for an invalid schema or
 * level) and the registry's {@code error_code} (e.g. 40401 subject not found, 40403 schema not
 * found). {@link #status()} is {@link #UNREACHABLE} when the registry could not be reached at all.
 */
public class SchemaRegistryException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** Status used when no HTTP response was received (connection refused, timeout, I/O error). */
    public static final int UNREACHABLE = -1;

    /** Confluent error code: subject not found. */
    public static final int SUBJECT_NOT_FOUND = 40401;
    /** Confluent error code: version not found. */
    public static final int VERSION_NOT_FOUND = 40402;
    /** Confluent error code: schema not found. */
    public static final int SCHEMA_NOT_FOUND = 40403;

    private final int status;
    private final int errorCode;

    public SchemaRegistryException(int status, int errorCode, String message) {
        this(status, errorCode, message, null);
    }

    public SchemaRegistryException(int status, int errorCode, String message, Throwable cause) {
        super(message, cause);
        this.status = status;
        this.errorCode = errorCode;
    }

    /** HTTP status of the registry's answer, or {@link #UNREACHABLE}. */
    public int status() {
        return status;
    }

    /** The registry's {@code error_code}, or the HTTP status when it sent none, or -1. */
    public int errorCode() {
        return errorCode;
    }

    /** True for failures worth retrying later: registry unreachable or a 5xx answer. */
    public boolean isTransient() {
        return status == UNREACHABLE || status >= 500;
    }

    /** True when the registry answered 404 (unknown subject, version or schema id). */
    public boolean isNotFound() {
        return status == 404;
    }
}
