package io.magicwand.ingest;

import io.magicwand.netflow.Endpoint;
import io.magicwand.netflow.NetflowInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;

/** Builders of NetFlow records for the tests. */
public final class TestRecords {
    private TestRecords() {}

    /** A plausible info record: socket {@code sock}, observation {@code obs}, sequence {@code seq}. */
    public static NetflowInfo info(long seq, int obs, long sock, long bytesIn, long bytesOut) {
        long now = System.currentTimeMillis();
        return new NetflowInfo(seq & 0xffff_ffffL, obs, 1_764_320_000L, 5, now / 1000, (now % 1000) * 1_000_000L, sock,
                Endpoint.of("10.1.2.3", 80), Endpoint.of("198.51.100." + (sock % 200), 40000 + (int) (sock % 20000)),
                bytesIn, bytesOut, obs == NetflowInfo.OBS_ACCEPT ? sock + 1000 : 0);
    }

    /** The project root (system property mw.root set by the build, else found from the cwd). */
    public static Path root() {
        String r = System.getProperty("mw.root");
        if (r != null && !r.isBlank() && Files.isDirectory(Path.of(r, "testdata"))) {
            return Path.of(r);
        }
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isDirectory(p.resolve("testdata"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("cannot find the project root (testdata/)");
        }
        return p;
    }

    public static byte[] vector(String name) throws IOException {
        String hex = Files.readString(root().resolve("testdata/netflow-vectors/" + name + ".hex")).trim();
        return HexFormat.of().parseHex(hex);
    }
}
