package io.magicwand.serde;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fails the build when a schema in src/main/avro can no longer read data written with its released
 * version in compat/baseline. To evolve a schema add fields with defaults; after a release copy the
 * new .avsc files to compat/baseline (see docs/schemas.md).
 */
class SchemaCompatibilityTest {
    static final Path MODULE = Path.of(System.getProperty("basedir", "."));
    static final Path BASELINE = MODULE.resolve("compat/baseline");
    static final Path CURRENT = MODULE.resolve("src/main/avro");

    @Test
    void currentSchemasReadEveryBaseline() throws Exception {
        assertTrue(Files.isDirectory(BASELINE), "missing " + BASELINE.toAbsolutePath());
        List<String> problems = SchemaCompatibilityCheck.check(BASELINE, CURRENT);
        assertTrue(problems.isEmpty(), "schema changes that are not backward compatible with compat/baseline:\n  "
                + String.join("\n  ", problems)
                + "\nAdd new fields with defaults instead of changing or removing fields; see docs/schemas.md.");
    }

    @Test
    void everyTopicSchemaHasABaseline() throws Exception {
        try (var s = Files.list(CURRENT)) {
            List<String> missing = s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".avsc"))
                    .filter(n -> !Files.exists(BASELINE.resolve(n))).sorted().collect(Collectors.toList());
            // A brand-new schema has no released version yet; this only documents which ones are unchecked.
            missing.forEach(n -> System.out.println("note: " + n + " has no baseline yet (new schema, not checked)"));
        }
    }

    // ---- the check itself fails on incompatible changes ----------------------------------------

    private static Path copyCurrent(Path dir) throws Exception {
        Files.createDirectories(dir);
        try (var s = Files.list(CURRENT)) {
            for (Path p : s.toList()) {
                Files.copy(p, dir.resolve(p.getFileName()));
            }
        }
        return dir;
    }

    private static void edit(Path file, String from, String to) throws Exception {
        String s = Files.readString(file);
        assertTrue(s.contains(from), file + " lacks " + from);
        Files.writeString(file, s.replace(from, to));
    }

    @Test
    void newFieldWithoutDefaultFails(@TempDir Path tmp) throws Exception {
        Path dir = copyCurrent(tmp.resolve("avro"));
        edit(dir.resolve("SocketEvent.avsc"), "\"fields\": [",
                "\"fields\": [\n    {\"name\": \"tenant\", \"type\": \"string\", \"doc\": \"no default\"},");
        List<String> problems = SchemaCompatibilityCheck.check(BASELINE, dir);
        assertEquals(1, problems.size(), problems.toString());
        String p = problems.get(0);
        assertTrue(p.startsWith("SocketEvent.avsc (io.magicwand.avro.SocketEvent)"), p);
        assertTrue(p.contains("READER_FIELD_MISSING_DEFAULT_VALUE") && p.contains("tenant"), p);
    }

    @Test
    void newFieldWithDefaultPasses(@TempDir Path tmp) throws Exception {
        Path dir = copyCurrent(tmp.resolve("avro"));
        edit(dir.resolve("SocketEvent.avsc"), "\"fields\": [",
                "\"fields\": [\n    {\"name\": \"tenant\", \"type\": \"string\", \"default\": \"\"},");
        assertEquals(List.of(), SchemaCompatibilityCheck.check(BASELINE, dir));
    }

    @Test
    void changedTypeRemovedEnumSymbolAndRemovedSchemaFail(@TempDir Path tmp) throws Exception {
        Path dir = copyCurrent(tmp.resolve("avro"));
        edit(dir.resolve("InsLoad.avsc"), "{\"name\": \"accepts\", \"type\": \"long\"",
                "{\"name\": \"accepts\", \"type\": \"string\"");
        edit(dir.resolve("MitigationResult.avsc"), "\"TIMED_OUT\", ", "");
        Files.delete(dir.resolve("PeerFeatures.avsc"));
        String all = String.join("\n", SchemaCompatibilityCheck.check(BASELINE, dir));
        assertTrue(all.contains("InsLoad.avsc") && all.contains("TYPE_MISMATCH") && all.contains("accepts"), all);
        assertTrue(all.contains("MitigationResult.avsc") && all.contains("MISSING_ENUM_SYMBOLS"), all);
        assertTrue(all.contains("PeerFeatures.avsc: removed"), all);
    }
}
