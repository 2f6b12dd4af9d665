package io.magicwand.serde;

import org.apache.avro.Schema;

/**
 * The part of the Confluent Schema Registry REST API the serde needs. Implementations cache
 * what is immutable (schema by id, id of a schema under a subject) and are thread-safe.
 * Every method throws {@link SchemaRegistryException} carrying the registry's status and error code.
 */
public interface SchemaRegistryClient extends AutoCloseable {

    /** Registers {@code schema} under {@code subject} (idempotent) and returns its global id. 409 when incompatible. */
    int register(String subject, Schema schema);

    /** The schema with global id {@code id}; 404 / 40403 when unknown. */
    Schema getById(int id);

    /** The id of {@code schema} already registered under {@code subject}; 404 (40401 / 40403) when not registered. */
    int getIdBySchema(String subject, Schema schema);

    /**
     * Whether {@code schema} could be registered under {@code subject} given its compatibility level,
     * tested against the latest version. True when the subject has no versions yet.
     */
    boolean testCompatibility(String subject, Schema schema);

    /** Sets the compatibility level of {@code subject}: NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE. */
    void setCompatibility(String subject, String level);

    @Override
    default void close() {
    }
}
