package io.magicwand.ingest.capture;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.magicwand.ingest.TestRecords;
import io.magicwand.netflow.NetflowCodec;
import io.magicwand.netflow.NetflowInfo;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CaptureTest {

    @TempDir
    Path dir;

    private List<CaptureFrame> readAll(Path f) throws Exception {
        List<CaptureFrame> out = new ArrayList<>();
        try (CaptureReader r = new CaptureReader(f)) {
            CaptureFrame fr;
            while ((fr = r.next()) != null) {
                out.add(fr);
            }
        }
        return out;
    }

    @Test
    void writesRotatesAndReadsBack() throws Exception {
        List<byte[]> msgs = new ArrayList<>();
        try (CaptureWriter w = new CaptureWriter(dir, "netflow", 4096, 0)) {
            for (int i = 0; i < 100; i++) {
                byte[] m = NetflowCodec.encode(TestRecords.info(i, NetflowInfo.OBS_RECV, i % 7, i, 0));
                msgs.add(m);
                w.write(1_000_000_000L * i + 17, i % 2 == 0 ? "alpha" : "béta", m);
            }
            assertEquals(100, w.framesWritten());
        }
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.sorted().toList();
        }
        assertTrue(files.size() >= 3, "rotated into " + files.size() + " files");
        for (Path f : files) {
            assertTrue(Files.size(f) <= 4096, f + " is " + Files.size(f));
        }
        List<CaptureFrame> all = new ArrayList<>();
        for (Path f : files) {
            all.addAll(readAll(f));
        }
        assertEquals(100, all.size());
        for (int i = 0; i < 100; i++) {
            assertArrayEquals(msgs.get(i), all.get(i).message());
            assertEquals(1_000_000_000L * i + 17, all.get(i).captureTimeNs());
            assertEquals(i % 2 == 0 ? "alpha" : "béta", all.get(i).host());
        }
    }

    @Test
    void rotatesByAge() throws Exception {
        try (CaptureWriter w = new CaptureWriter(dir, "nf", 1 << 20, 1)) { // 1 ns: every frame a new file
            w.write(1, "h", new byte[] {1});
            Thread.sleep(2);
            w.write(2, "h", new byte[] {2});
        }
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(2, s.count());
        }
    }

    private byte[] oneFile() throws Exception {
        try (CaptureWriter w = new CaptureWriter(dir, "one", 1 << 20, 0)) {
            for (int i = 0; i < 3; i++) {
                w.write(i, "host", NetflowCodec.encode(TestRecords.info(i, NetflowInfo.OBS_SEND, 1, 0, i)));
            }
            w.flush();
            return Files.readAllBytes(w.currentFile());
        }
    }

    @Test
    void truncatedFileReportsTheFrameOffset() throws Exception {
        byte[] f = oneFile();
        int frame = 8 + 2 + 4 + 4 + 116; // "host" tag
        assertEquals(16 + 3 * frame, f.length);
        for (int cut : new int[] {16 + frame + 3, 16 + frame + 12, 16 + 2 * frame + 100}) {
            CaptureReader r = new CaptureReader("x.mwcap", new ByteArrayInputStream(Arrays.copyOf(f, cut)));
            r.next();
            if (cut > 16 + 2 * frame) {
                r.next();
            }
            CaptureFormatException e = assertThrows(CaptureFormatException.class, r::next);
            long want = cut > 16 + 2 * frame ? 16 + 2 * frame : 16 + frame;
            assertEquals(want, e.offset());
            assertTrue(e.getMessage().contains("offset " + want) && e.getMessage().contains("truncated"), e.getMessage());
        }
        CaptureReader r = new CaptureReader("x", new ByteArrayInputStream(f));
        r.next();
        r.next();
        r.next();
        assertNull(r.next());
    }

    @Test
    void badHeaderAndAbsurdLength() throws Exception {
        byte[] f = oneFile();
        byte[] bad = f.clone();
        bad[0] = 'X';
        assertThrows(CaptureFormatException.class, () -> new CaptureReader("x", new ByteArrayInputStream(bad)));
        CaptureFormatException e = assertThrows(CaptureFormatException.class,
                () -> new CaptureReader("x", new ByteArrayInputStream(Arrays.copyOf(f, 9))));
        assertEquals(9, e.offset());
        byte[] len = f.clone();
        int lenAt = 16 + 8 + 2 + 4;
        len[lenAt] = 0x7f;
        CaptureReader r = new CaptureReader("x", new ByteArrayInputStream(len));
        e = assertThrows(CaptureFormatException.class, r::next);
        assertEquals(16, e.offset());
        assertTrue(e.getMessage().contains("exceeds"), e.getMessage());
    }
}
