package io.magicwand.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.magicwand.testkit.EmbeddedKafkaBroker;
import io.magicwand.testkit.TestRegistry;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pcap import on a capture this test records itself: tcpdump on loopback around a Java server and
 * client exchanging known byte counts; the pcap is replayed into a real broker and read back with
 * the registry.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class PcapImportIT {

    @TempDir
    Path tmp;

    static final int CONNS = 5;

    static int request(int i) {
        return 1000 * (i + 1) + 7;
    }

    static int response(int i) {
        return 30_000 * (i + 1) + 3;
    }

    @Test
    void tcpdumpOfAKnownExchangeReplaysToMatchingEvents() throws Exception {
        assertTrue(Files.isExecutable(Path.of("/usr/bin/tcpdump")) || Files.isExecutable(Path.of("/usr/sbin/tcpdump")),
                "tcpdump is not installed (launcher/install-deps.sh installs it)");
        Path pcap = tmp.resolve("exchange.pcap");
        try (ServerSocket server = new ServerSocket()) {
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            int port = server.getLocalPort();
            Process tcpdump = new ProcessBuilder("tcpdump", "-i", "lo", "-w", pcap.toString(), "-U", "--immediate-mode", "-B", "65536", "-Z", "root",
                    "-s", "0", "tcp", "port", String.valueOf(port)).redirectErrorStream(true)
                    .redirectOutput(tmp.resolve("tcpdump.log").toFile()).start();
            Path tlog = tmp.resolve("tcpdump.log");
            try {
                for (int i = 0; i < 100 && !Files.readString(tlog).contains("listening on"); i++) {
                    assertTrue(tcpdump.isAlive(), "tcpdump exited: " + Files.readString(tlog));
                    Thread.sleep(100);
                }
                assertTrue(Files.readString(tlog).contains("listening on"), "tcpdump did not start: "
                        + Files.readString(tlog));
                Thread serverThread = new Thread(() -> serve(server), "pcap-it-server");
                serverThread.start();
                for (int i = 0; i < CONNS; i++) {
                    try (Socket c = new Socket(InetAddress.getLoopbackAddress(), port)) {
                        OutputStream out = c.getOutputStream();
                        out.write(new byte[request(i)]);
                        out.flush();
                        InputStream in = c.getInputStream();
                        long got = 0;
                        byte[] buf = new byte[65536];
                        int n;
                        while ((n = in.read(buf)) >= 0) {
                            got += n;
                        }
                        assertEquals(response(i), got);
                    }
                }
                // one connection reset by the client (SO_LINGER 0) after 10 bytes
                Socket r = new Socket(InetAddress.getLoopbackAddress(), port);
                r.getOutputStream().write(new byte[10]);
                r.getOutputStream().flush();
                Thread.sleep(200);
                r.setSoLinger(true, 0);
                r.close();
                serverThread.join(10_000);
                // On a busy machine tcpdump may lag behind the kernel: packets it has not read when it
                // stops are lost. Wait until the file has stopped growing.
                long size = -1;
                long stableSince = System.nanoTime();
                for (int i = 0; i < 300; i++) {
                    long now = Files.exists(pcap) ? Files.size(pcap) : 0;
                    if (now != size) {
                        size = now;
                        stableSince = System.nanoTime();
                    } else if (System.nanoTime() - stableSince > 1_500_000_000L) {
                        break;
                    }
                    Thread.sleep(100);
                }
            } finally {
                tcpdump.destroy();
                assertTrue(tcpdump.waitFor(10, TimeUnit.SECONDS), "tcpdump did not stop");
            }
            String stats = Files.readString(tlog);
            assertTrue(stats.matches("(?s).*(^|\\n)0 packets dropped by kernel.*"), "tcpdump lost packets: " + stats);
            assertTrue(Files.size(pcap) > 24, "empty pcap");

            String registry = TestRegistry.url();
            try (EmbeddedKafkaBroker broker = new EmbeddedKafkaBroker().start()) {
                String topic = "it-pcap-" + System.nanoTime();
                int rc = Replay.run(new String[] {"--pcap", pcap.toString(), "--host", "pcaphost", "--max",
                        "--server-ports", String.valueOf(port), "--topic", topic,
                        "--bootstrap-servers", broker.bootstrapServers(), "--registry", registry});
                assertEquals(0, rc);
                // accept + close per connection, plus at least one recv and one send per exchange
                List<KafkaCheck.Got> got = new KafkaCheck(broker.bootstrapServers(), registry)
                        .readAll(topic, 2 * (CONNS + 1) + 2 * CONNS + 1, Duration.ofSeconds(60));
                check(got, port);
            }
        }
    }

    private static void check(List<KafkaCheck.Got> got, int port) {
        Map<Long, long[]> finalBytes = new HashMap<>(); // conn id -> {in, out}
        List<Long> accepted = new ArrayList<>();
        int closes = 0;
        long recvTotal = 0;
        Map<Long, Long> lastIn = new HashMap<>();
        for (KafkaCheck.Got g : got) {
            assertEquals("pcaphost", g.value().get("host").toString());
            String obs = g.value().get("obs").toString();
            long sock = (Long) g.value().get("socket_id");
            long in = (Long) g.value().get("bytes_in");
            long out = (Long) g.value().get("bytes_out");
            switch (obs) {
                case "ACCEPT" -> {
                    accepted.add((Long) g.value().get("extra"));
                    assertEquals(port, g.value().get("local_port"));
                    assertEquals("127.0.0.1", g.value().get("remote_addr").toString());
                }
                case "RECV" -> {
                    recvTotal += in - lastIn.getOrDefault(sock, 0L);
                    lastIn.put(sock, in);
                }
                case "CLOSE" -> {
                    closes++;
                    finalBytes.put(sock, new long[] {in, out});
                }
                case "SEND" -> { }
                default -> throw new AssertionError("unexpected " + obs + " in " + g.value());
            }
        }
        assertEquals(CONNS + 1, accepted.size(), "connections");
        assertEquals(CONNS + 1, closes, "close events");
        long wantIn = 10;
        for (int i = 0; i < CONNS; i++) {
            long[] b = finalBytes.get(accepted.get(i));
            assertEquals(request(i), b[0], "bytes in of connection " + i);
            assertEquals(response(i), b[1], "bytes out of connection " + i);
            wantIn += request(i);
        }
        long[] reset = finalBytes.get(accepted.get(CONNS));
        assertEquals(10, reset[0]);
        assertEquals(0, reset[1]);
        assertEquals(wantIn, recvTotal);
    }

    private static void serve(ServerSocket server) {
        try {
            for (int i = 0; i <= CONNS; i++) {
                try (Socket s = server.accept()) {
                    InputStream in = s.getInputStream();
                    int want = i < CONNS ? request(i) : 10;
                    int got = 0;
                    byte[] buf = new byte[65536];
                    while (got < want) {
                        int n = in.read(buf, 0, Math.min(buf.length, want - got));
                        if (n < 0) {
                            break;
                        }
                        got += n;
                    }
                    if (i < CONNS) {
                        s.getOutputStream().write(new byte[response(i)]);
                        s.getOutputStream().flush();
                    } else {
                        // wait for the client's reset
                        while (in.read(buf) >= 0) {
                            // drain
                        }
                    }
                }
            }
        } catch (java.io.IOException e) {
            // the reset connection ends here (Connection reset); anything else fails the byte checks
        }
    }
}
