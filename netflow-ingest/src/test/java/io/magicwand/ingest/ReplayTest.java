package io.magicwand.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.magicwand.avro.SocketEvent;
import io.magicwand.ingest.capture.CaptureFormatException;
import io.magicwand.ingest.capture.CaptureWriter;
import io.magicwand.netflow.FeatureResponse;
import io.magicwand.netflow.NetflowCodec;
import io.magicwand.netflow.NetflowInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReplayTest {

    @TempDir
    Path dir;

    static final class ListOutput implements Replay.Output {
        final List<String> keys = new ArrayList<>();
        final List<SocketEvent> events = new ArrayList<>();
        final List<Long> sentAtNs = new ArrayList<>();

        @Override
        public void send(String key, SocketEvent event) {
            keys.add(key);
            events.add(event);
            sentAtNs.add(System.nanoTime());
        }

        @Override
        public long finish() {
            return 0;
        }
    }

    private List<NetflowInfo> writeCapture(long stepNs) throws Exception {
        List<NetflowInfo> infos = new ArrayList<>();
        try (CaptureWriter w = new CaptureWriter(dir, "netflow", 1 << 20, 0)) {
            long t0 = 1_700_000_000_000_000_000L;
            for (int i = 0; i < 20; i++) {
                NetflowInfo info = TestRecords.info(i, i % 3 == 0 ? NetflowInfo.OBS_ACCEPT : NetflowInfo.OBS_RECV,
                        i % 4, i, 2L * i);
                infos.add(info);
                w.write(t0 + i * stepNs, i % 2 == 0 ? "h1" : "h2", NetflowCodec.encode(info));
                if (i == 5) {
                    w.write(t0 + i * stepNs, "h1", NetflowCodec.encode(FeatureResponse.error(3, 2)));
                }
            }
        }
        return infos;
    }

    @Test
    void replaysEveryInfoRecordInOrderAsFastAsPossible() throws Exception {
        List<NetflowInfo> infos = writeCapture(1_000_000_000L); // 1 s apart: --max must not pace
        Replay.Options o = Replay.parse(new String[] {dir.toString(), "--max"});
        ListOutput out = new ListOutput();
        long t = System.nanoTime();
        Replay.Result r = new Replay(o, out).replay();
        assertTrue(System.nanoTime() - t < 5_000_000_000L);
        assertEquals(20, r.events);
        assertEquals(1, r.skippedMessages);
        for (int i = 0; i < 20; i++) {
            String host = i % 2 == 0 ? "h1" : "h2";
            SocketEvent want = EventMapper.toEvent(host, infos.get(i), 1_700_000_000_000L + i * 1000L);
            assertEquals(want, out.events.get(i));
            assertEquals(host + "/" + (i % 4), out.keys.get(i));
        }
    }

    @Test
    void pacesAtTheRequestedSpeed() throws Exception {
        writeCapture(20_000_000L); // 20 ms apart, 19 intervals = 380 ms of capture
        ListOutput out = new ListOutput();
        new Replay(Replay.parse(new String[] {dir.toString(), "--speed", "2"}), out).replay();
        long span = out.sentAtNs.get(19) - out.sentAtNs.get(0);
        assertTrue(span >= 180_000_000L && span < 1_500_000_000L, "span " + span / 1_000_000 + " ms");
    }

    @Test
    void malformedCaptureFails() throws Exception {
        writeCapture(1);
        Path f;
        try (var s = Files.list(dir)) {
            f = s.findFirst().orElseThrow();
        }
        byte[] b = Files.readAllBytes(f);
        Files.write(f, Arrays.copyOf(b, b.length - 3));
        CaptureFormatException e = assertThrows(CaptureFormatException.class,
                () -> new Replay(Replay.parse(new String[] {f.toString(), "--max"}), new ListOutput()).replay());
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void badArgumentsAreRejected() {
        for (String[] a : new String[][] {{}, {"--speed", "0", "x"}, {"--pcap", "x.pcap"}, {"--bogus"},
                {"--speed"}, {dir.resolve("missing").toString()}, {"--server-ports", "80", "f"}}) {
            assertThrows(IllegalArgumentException.class, () -> Replay.parse(a), Arrays.toString(a));
        }
        assertEquals(2, Replay.run(new String[] {"--bogus"}));
    }
}
