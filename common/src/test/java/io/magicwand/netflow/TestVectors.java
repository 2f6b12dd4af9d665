package io.magicwand.netflow;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/** Locates the shared NetFlow vectors (testdata/netflow-vectors) and reads them. */
final class TestVectors {

    private TestVectors() {}

    /** The vector directory: ${mw.root}/testdata/netflow-vectors, else found walking up from the cwd. */
    static Path dir() {
        String root = System.getProperty("mw.root");
        if (root != null && !root.isBlank()) {
            Path p = Paths.get(root, "testdata", "netflow-vectors");
            if (Files.isDirectory(p)) {
                return p;
            }
        }
        for (Path p = Paths.get("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path c = p.resolve("testdata").resolve("netflow-vectors");
            if (Files.isDirectory(c)) {
                return c;
            }
        }
        throw new IllegalStateException("testdata/netflow-vectors not found: set -Dmw.root=<checkout> (surefire does)");
    }

    /** Vector names (file names without .hex), sorted. */
    static List<String> names() {
        try (Stream<Path> s = Files.list(dir())) {
            return s.map(p -> p.getFileName().toString())
                    .filter(n -> n.endsWith(".hex"))
                    .map(n -> n.substring(0, n.length() - 4))
                    .sorted()
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static byte[] bytes(String name) {
        try {
            return HexFormat.of().parseHex(Files.readString(dir().resolve(name + ".hex")).strip());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String json(String name) {
        try {
            return Files.readString(dir().resolve(name + ".json"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
