package io.magicwand.serde;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaParseException;

/**
 * The build-time schema compatibility check: every schema in the baseline directory (the released
 * versions, schemas/compat/baseline) must still be readable by the current schema of the same file
 * name in src/main/avro (backward compatibility: new readers read old data). Returns one line per
 * problem, naming the schema and the incompatibility; empty means compatible.
 */
final class SchemaCompatibilityCheck {
    private SchemaCompatibilityCheck() {
    }

    /** " (field a.b)" for a location like /fields/3/type/fields/1 in {@code reader}, "" when none. */
    static String fieldPath(Schema reader, String location) {
        List<String> names = new ArrayList<>();
        Schema s = reader;
        String[] parts = location.split("/");
        for (int i = 0; i < parts.length && s != null; i++) {
            if (parts[i].equals("fields") && i + 1 < parts.length && s.getType() == Schema.Type.RECORD) {
                try {
                    Schema.Field f = s.getFields().get(Integer.parseInt(parts[i + 1]));
                    names.add(f.name());
                    s = f.schema();
                    i++;
                } catch (RuntimeException e) {
                    break;
                }
            } else if (parts[i].equals("type") || parts[i].isEmpty()) {
                continue;
            } else if (s.getType() == Schema.Type.UNION && parts[i].matches("\\d+")) {
                s = s.getTypes().get(Integer.parseInt(parts[i]));
            } else if (parts[i].equals("items") && s.getType() == Schema.Type.ARRAY) {
                s = s.getElementType();
            } else {
                break;
            }
        }
        return names.isEmpty() ? "" : " (field " + String.join(".", names) + ")";
    }

    static List<String> check(Path baselineDir, Path currentDir) throws IOException {
        List<String> problems = new ArrayList<>();
        List<Path> baselines;
        try (Stream<Path> s = Files.list(baselineDir)) {
            baselines = s.filter(p -> p.toString().endsWith(".avsc")).sorted().toList();
        }
        if (baselines.isEmpty()) {
            problems.add("no baseline schemas (*.avsc) in " + baselineDir);
        }
        for (Path baseline : baselines) {
            String file = baseline.getFileName().toString();
            Path current = currentDir.resolve(file);
            if (!Files.exists(current)) {
                problems.add(file + ": removed (baseline " + baseline + " has no current schema in " + currentDir
                        + "); consumers of the topic still need it");
                continue;
            }
            Schema old;
            Schema now;
            try {
                old = new Schema.Parser().parse(baseline.toFile());
            } catch (SchemaParseException e) {
                problems.add(file + ": baseline does not parse: " + e.getMessage());
                continue;
            }
            try {
                now = new Schema.Parser().parse(current.toFile());
            } catch (SchemaParseException e) {
                problems.add(file + ": current schema does not parse: " + e.getMessage());
                continue;
            }
            if (!old.getFullName().equals(now.getFullName())) {
                problems.add(file + ": renamed from " + old.getFullName() + " to " + now.getFullName());
            }
            SchemaCompatibility.SchemaCompatibilityResult r =
                    SchemaCompatibility.checkReaderWriterCompatibility(now, old).getResult();
            if (r.getCompatibility() != SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE) {
                for (SchemaCompatibility.Incompatibility i : r.getIncompatibilities()) {
                    problems.add(file + " (" + now.getFullName() + "): cannot read data written with the baseline: "
                            + i.getType() + " at " + i.getLocation() + fieldPath(now, i.getLocation()) + ": " + i.getMessage());
                }
            }
        }
        return problems;
    }
}
