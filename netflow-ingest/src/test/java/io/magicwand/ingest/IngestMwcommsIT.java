package io.magicwand.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.magicwand.testkit.EmbeddedKafkaBroker;
import io.magicwand.testkit.TestRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Against the real data plane: mwcomms (native/build) with a protected python3 HTTP server under
 * the shim, loaded by curl; every observation mwcomms streams arrives in Kafka (contiguous
 * sequence numbers from 0, no gap), decodable with the registry, with the right accepts, byte
 * totals and closes.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class IngestMwcommsIT {

    static final int REQUESTS = 20;
    static final int FILE_SIZE = 5000;

    @TempDir
    Path tmp;

    @Test
    void protectedHttpServerObservationsAllArriveInKafka() throws Exception {
        Path build = TestRecords.root().resolve("native/build");
        assumeTrue(Files.isExecutable(build.resolve("mwcomms")) && Files.exists(build.resolve("libmwshim.so"))
                && Files.isExecutable(build.resolve("mwctl")),
                "native/build/{mwcomms,mwctl,libmwshim.so} not built (make -C native): skipping the real-mwcomms test");
        String registry = TestRegistry.url();
        Path sock = tmp.resolve("mw.sock");
        Path mwlog = tmp.resolve("mwcomms.log");
        List<Process> procs = new ArrayList<>();
        try (EmbeddedKafkaBroker broker = new EmbeddedKafkaBroker().start()) {
            Process mwcomms = new ProcessBuilder(build.resolve("mwcomms").toString(), "--rendezvous", sock.toString(),
                    "--netflow", "127.0.0.1:0", "--ins", "2", "--isolation", "off")
                    .redirectErrorStream(true).redirectOutput(mwlog.toFile()).start();
            procs.add(mwcomms);
            Process wait = new ProcessBuilder(build.resolve("mwctl").toString(), "--rendezvous", sock.toString(),
                    "wait", "20").redirectErrorStream(true).start();
            assertTrue(wait.waitFor(30, TimeUnit.SECONDS) && wait.exitValue() == 0,
                    "mwcomms did not start: " + Files.readString(mwlog));
            int nfPort = -1;
            Pattern p = Pattern.compile("netflow: listening on 127\\.0\\.0\\.1 port (\\d+)");
            for (int i = 0; i < 100 && nfPort < 0; i++) {
                Matcher m = p.matcher(Files.readString(mwlog));
                if (m.find()) {
                    nfPort = Integer.parseInt(m.group(1));
                } else {
                    Thread.sleep(100);
                }
            }
            assertTrue(nfPort > 0, "no NetFlow port in the mwcomms log: " + Files.readString(mwlog));

            String topic = "it-mwcomms-" + System.nanoTime();
            IngestConfig cfg = new IngestConfig();
            cfg.topic = topic;
            cfg.partitions = 3;
            cfg.reconnectInitialMs = 50;
            cfg.reconnectMaxMs = 400;
            cfg.bootstrapServers = broker.bootstrapServers();
            cfg.registryUrl = registry;
            cfg.sources = List.of(new SourceSpec("mw1", "127.0.0.1", nfPort));
            long produced;
            try (IngestService svc = IngestIT.start(cfg)) {
                SourceStats st = svc.stats().get("mw1");
                IngestIT.waitFor("connected to mwcomms", 30_000, () -> st.connected);

                Path www = Files.createDirectories(tmp.resolve("www"));
                Files.write(www.resolve("f.bin"), new byte[FILE_SIZE]);
                int httpPort;
                try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1,
                        java.net.InetAddress.getLoopbackAddress())) {
                    httpPort = s.getLocalPort();
                }
                ProcessBuilder pb = new ProcessBuilder("python3", "-m", "http.server", "--bind", "127.0.0.1",
                        "--directory", www.toString(), String.valueOf(httpPort))
                        .redirectErrorStream(true).redirectOutput(tmp.resolve("http.log").toFile());
                pb.environment().put("LD_PRELOAD", build.resolve("libmwshim.so").toString());
                pb.environment().put("MW_RENDEZVOUS", sock.toString());
                Process server = pb.start();
                procs.add(server);
                String url = "http://127.0.0.1:" + httpPort + "/f.bin";
                boolean up = false;
                for (int i = 0; i < 100 && !up; i++) {
                    up = curl(url) == FILE_SIZE;
                    if (!up) {
                        Thread.sleep(200);
                    }
                }
                assertTrue(up, "protected http.server did not answer: " + Files.readString(tmp.resolve("http.log")));
                for (int i = 0; i < REQUESTS; i++) {
                    assertEquals(FILE_SIZE, curl(url));
                }
                server.destroy();
                assertTrue(server.waitFor(20, TimeUnit.SECONDS));
                Thread.sleep(1500); // the last close records
                long in = st.eventsIn.sum();
                IngestIT.waitFor("all produced", 60_000, () -> st.eventsProduced.sum() >= in);
                assertEquals(0, st.gaps.sum(), "mwcomms dropped records for ingest");
                assertEquals(0, st.produceErrors.sum());
                produced = st.eventsProduced.sum();
                assertTrue(produced > 4L * (REQUESTS + 1), "only " + produced + " events");
            }
            List<KafkaCheck.Got> got = new KafkaCheck(broker.bootstrapServers(), registry)
                    .readAll(topic, (int) produced, Duration.ofSeconds(60));
            assertEquals(produced, got.size());
            check(got, (int) produced);
        } finally {
            for (Process pr : procs) {
                pr.destroy();
                if (!pr.waitFor(20, TimeUnit.SECONDS)) {
                    pr.destroyForcibly();
                }
            }
        }
    }

    private static long curl(String url) throws Exception {
        Process c = new ProcessBuilder("curl", "-s", "-o", "/dev/null", "-w", "%{size_download}", "-m", "10", url)
                .redirectErrorStream(true).start();
        String out = new String(c.getInputStream().readAllBytes()).trim();
        c.waitFor(15, TimeUnit.SECONDS);
        try {
            return c.exitValue() == 0 ? Long.parseLong(out) : -1;
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static void check(List<KafkaCheck.Got> unordered, int total) {
        // An accept is keyed by the listener, the connection's own records by its socket: they sit
        // in different partitions, so put everything back in mwcomms' order first.
        List<KafkaCheck.Got> got = new ArrayList<>(unordered);
        got.sort(java.util.Comparator.comparingLong(KafkaCheck.Got::seq));
        Set<Long> seqs = new HashSet<>();
        Map<Long, long[]> last = new HashMap<>(); // accepted socket -> {bytes_in, bytes_out, closed}
        int httpAccepts = 0;
        StringBuilder trace = new StringBuilder();
        for (KafkaCheck.Got g : got) {
            trace.append(g.seq()).append(' ').append(g.value().get("obs")).append(" sock=")
                    .append(g.value().get("socket_id")).append(" extra=").append(g.value().get("extra"))
                    .append(" in=").append(g.value().get("bytes_in")).append(" out=")
                    .append(g.value().get("bytes_out")).append('\n');
            assertEquals("mw1", g.value().get("host").toString());
            assertTrue(seqs.add(g.seq()), "duplicate seq " + g.seq());
            String obs = g.value().get("obs").toString();
            long sock = (Long) g.value().get("socket_id");
            if (obs.equals("ACCEPT")) {
                httpAccepts++;
                long child = (Long) g.value().get("extra");
                assertTrue(child != 0, "accept without the new socket id");
                int ins = (Integer) g.value().get("ins_id");
                assertTrue(ins >= 1 && ins == (int) (child >>> 40), "accept of " + child + " attributed to INS " + ins);
                last.put(child, new long[] {0, 0, 0});
                assertEquals("127.0.0.1", g.value().get("remote_addr").toString());
            } else if (last.containsKey(sock)) {
                assertEquals((int) (sock >>> 40), g.value().get("ins_id"), "INS of socket " + sock);
                long[] b = last.get(sock);
                b[0] = Math.max(b[0], (Long) g.value().get("bytes_in"));
                b[1] = Math.max(b[1], (Long) g.value().get("bytes_out"));
                if (obs.equals("CLOSE")) {
                    b[2]++;
                }
            }
        }
        // every record mwcomms sent to this client: sequence numbers 0..n-1 without a hole
        for (long s = 0; s < total; s++) {
            assertTrue(seqs.contains(s), "sequence number " + s + " missing");
        }
        assertTrue(httpAccepts >= REQUESTS + 1, "accepts: " + httpAccepts);
        int full = 0;
        for (long[] b : last.values()) {
            assertEquals(1, b[2], "each accepted connection closes once:\n" + trace);
            assertTrue(b[0] > 0, "request bytes counted");
            if (b[1] > FILE_SIZE) {
                full++; // the response: headers + the file
            }
        }
        assertEquals(httpAccepts, full, "every connection sent the whole file");
    }
}
