package io.magicwand.config;

/**
 * Bad command line or configuration: unknown option, missing value, bad number, unreadable config
 * file. The message is one line that names the option (or key and where it came from), suitable for
 * printing as-is before exiting with status 2.
 */
public class ConfigException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ConfigException(String message) {
        super(message);
    }

    public ConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}
