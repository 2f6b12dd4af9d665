package io.magicwand.serde;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;

/**
 * A schema registry in memory, for unit tests. Behaves like the real one where the serde cares:
 * global ids (the same schema gets the same id under every subject), 404 with the Confluent error
 * codes for unknown subjects/schemas/ids, and compatibility levels enforced on registration with
 * Avro's {@link SchemaCompatibility} (default BACKWARD; an incompatible schema is rejected with
 * status 409).
 */
public final class InMemorySchemaRegistryClient implements SchemaRegistryClient {
    public static final String DEFAULT_LEVEL = "BACKWARD";
    private static final Set<String> LEVELS = Set.of("NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD",
            "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE");

    private final Map<Schema, Integer> idBySchema = new HashMap<>();
    private final Map<Integer, Schema> schemaById = new HashMap<>();
    private final Map<String, List<Schema>> versions = new HashMap<>();
    private final Map<String, String> levels = new HashMap<>();
    private int nextId = 1;

    @Override
    public synchronized int register(String subject, Schema schema) {
        List<Schema> existing = versions.getOrDefault(subject, List.of());
        if (existing.contains(schema)) {
            return idBySchema.get(schema);
        }
        List<String> problems = incompatibilities(subject, schema);
        if (!problems.isEmpty()) {
            throw new SchemaRegistryException(409, 409, "schema " + schema.getFullName() + " is incompatible with subject '"
                    + subject + "' (level " + level(subject) + "): " + String.join("; ", problems));
        }
        int id = idBySchema.computeIfAbsent(schema, t -> {
            int assigned = nextId++;
            schemaById.put(assigned, schema);
            return assigned;
        });
        versions.computeIfAbsent(subject, s -> new ArrayList<>()).add(schema);
        return id;
    }

    @Override
    public synchronized Schema getById(int id) {
        Schema s = schemaById.get(id);
        if (s == null) {
            throw new SchemaRegistryException(404, SchemaRegistryException.SCHEMA_NOT_FOUND, "Schema " + id + " not found.");
        }
        return s;
    }

    @Override
    public synchronized int getIdBySchema(String subject, Schema schema) {
        List<Schema> existing = versions.get(subject);
        if (existing == null) {
            throw new SchemaRegistryException(404, SchemaRegistryException.SUBJECT_NOT_FOUND,
                    "Subject '" + subject + "' not found.");
        }
        if (!existing.contains(schema)) {
            throw new SchemaRegistryException(404, SchemaRegistryException.SCHEMA_NOT_FOUND,
                    "The given schema does not match any schema under the subject " + subject);
        }
        return idBySchema.get(schema);
    }

    @Override
    public synchronized boolean testCompatibility(String subject, Schema schema) {
        return incompatibilities(subject, schema).isEmpty();
    }

    @Override
    public synchronized void setCompatibility(String subject, String level) {
        String l = level == null ? "" : level.toUpperCase(Locale.ROOT);
        if (!LEVELS.contains(l)) {
            throw new SchemaRegistryException(422, 42203, "Invalid compatibility level: " + level);
        }
        levels.put(subject, l);
    }

    /** The subject's compatibility level (default {@value #DEFAULT_LEVEL}). */
    public synchronized String level(String subject) {
        return levels.getOrDefault(subject, DEFAULT_LEVEL);
    }

    /** Registered versions of a subject, oldest first (empty when unknown). */
    public synchronized List<Schema> versions(String subject) {
        return List.copyOf(versions.getOrDefault(subject, List.of()));
    }

    private List<String> incompatibilities(String subject, Schema candidate) {
        List<Schema> existing = versions.getOrDefault(subject, List.of());
        if (existing.isEmpty()) {
            return List.of();
        }
        String level = level(subject);
        if (level.equals("NONE")) {
            return List.of();
        }
        List<Schema> against = level.endsWith("_TRANSITIVE") ? existing : List.of(existing.get(existing.size() - 1));
        boolean backward = level.startsWith("BACKWARD") || level.startsWith("FULL");
        boolean forward = level.startsWith("FORWARD") || level.startsWith("FULL");
        List<String> problems = new ArrayList<>();
        for (Schema old : against) {
            if (backward) {
                problems.addAll(describe("new schema cannot read data written with an existing one",
                        SchemaCompatibility.checkReaderWriterCompatibility(candidate, old)));
            }
            if (forward) {
                problems.addAll(describe("an existing schema cannot read data written with the new one",
                        SchemaCompatibility.checkReaderWriterCompatibility(old, candidate)));
            }
        }
        return problems;
    }

    static List<String> describe(String what, SchemaCompatibility.SchemaPairCompatibility pair) {
        SchemaCompatibility.SchemaCompatibilityResult r = pair.getResult();
        if (r.getCompatibility() == SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE) {
            return List.of();
        }
        return r.getIncompatibilities().stream()
                .map(i -> what + ": " + i.getType() + " at " + i.getLocation() + " (" + i.getMessage() + ")")
                .collect(Collectors.toList());
    }

    @Override
    public String toString() {
        return "InMemorySchemaRegistryClient";
    }
}
