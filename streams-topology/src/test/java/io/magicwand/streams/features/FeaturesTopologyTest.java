package io.magicwand.streams.features;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.magicwand.avro.EndReason;
import io.magicwand.avro.EndedBy;
import io.magicwand.avro.FlowFeatures;
import io.magicwand.avro.InsLoad;
import io.magicwand.avro.PeerFeatures;
import io.magicwand.avro.SocketEvent;
import io.magicwand.avro.SocketOp;
import io.magicwand.streams.internal.DeadLetters;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FeaturesTopologyTest {
    static final long T0 = 1_700_000_000_000L; // a multiple of the 2 s window advance
    static final double EPS = 1e-9;

    @TempDir
    Path stateDir;

    /** The scripted connection of the exact-values test, in order. */
    static List<SocketEvent> scripted(Ev c) {
        return List.of(
                c.acceptOn(7, T0),
                c.at(T0 + 10, SocketOp.RECV, 100, 0),
                c.at(T0 + 30, SocketOp.RECV, 300, 0),
                c.at(T0 + 40, SocketOp.SEND, 300, 1000),
                c.at(T0 + 1540, SocketOp.SEND, 300, 3000),
                c.at(T0 + 1600, SocketOp.RECV, 350, 3000),
                c.at(T0 + 2000, SocketOp.CLOSE, 350, 3000));
    }

    static void assertScriptedFinal(FlowFeatures f) {
        assertTrue(f.getFinal$());
        assertEquals("h1", f.getHost());
        assertEquals(1, f.getInsId());
        assertEquals(42L, f.getSocketId());
        assertEquals("198.51.100.7", f.getRemoteAddr());
        assertEquals(5000, f.getRemotePort());
        assertEquals("10.0.0.1", f.getLocalAddr());
        assertEquals(80, f.getLocalPort());
        assertEquals(T0, f.getStartMs());
        assertEquals(T0 + 2000, f.getLastEventMs());
        assertEquals(T0 + 2000, f.getEmittedMs());
        assertEquals(2000, f.getDurationMs());
        assertEquals(350, f.getBytesIn());
        assertEquals(3000, f.getBytesOut());
        assertEquals(3, f.getRecvOps());
        assertEquals(2, f.getSendOps());
        assertEquals(350.0 / 3, f.getInOpBytesMean(), EPS);
        assertEquals(Math.sqrt((100.0 * 100 + 200 * 200 + 50 * 50) / 3 - Math.pow(350.0 / 3, 2)), f.getInOpBytesStd(), 1e-6);
        assertEquals(50, f.getInOpBytesMin());
        assertEquals(200, f.getInOpBytesMax());
        assertEquals(1500.0, f.getOutOpBytesMean(), EPS);
        assertEquals(500.0, f.getOutOpBytesStd(), 1e-6);
        assertEquals(1000, f.getOutOpBytesMin());
        assertEquals(2000, f.getOutOpBytesMax());
        // ops at 10(in) 30(in) 40(out) 1540(out) 1600(in): gaps 20, 10, 1500, 60
        assertEquals(1590.0 / 4, f.getIatMeanMs(), EPS);
        double m = 1590.0 / 4;
        assertEquals(Math.sqrt((20.0 * 20 + 10 * 10 + 1500 * 1500 + 60 * 60) / 4 - m * m), f.getIatStdMs(), 1e-6);
        assertEquals(1500.0, f.getIatMaxMs(), EPS);
        assertEquals(10.0, f.getIatMinMs(), EPS);
        assertEquals(795.0, f.getInIatMeanMs(), EPS);
        assertEquals(775.0, f.getInIatStdMs(), 1e-6);
        assertEquals(1570.0, f.getInIatMaxMs(), EPS);
        assertEquals(1500.0, f.getOutIatMeanMs(), EPS);
        assertEquals(0.0, f.getOutIatStdMs(), EPS);
        assertEquals(1500.0, f.getOutIatMaxMs(), EPS);
        // idle threshold 1000: active 10..40 (30 ms), idle 1500, active 1540..1600 (60 ms)
        assertEquals(45.0, f.getActiveMeanMs(), EPS);
        assertEquals(60.0, f.getActiveMaxMs(), EPS);
        assertEquals(1500.0, f.getIdleMeanMs(), EPS);
        assertEquals(1500.0, f.getIdleMaxMs(), EPS);
        assertEquals(10, f.getFirstByteInMs());
        assertEquals(40, f.getFirstByteOutMs());
        assertEquals(3000.0 / 350, f.getDownUpRatio(), EPS);
        assertEquals(1675.0, f.getBytesPerSec(), EPS);
        assertEquals(175.0, f.getInBytesPerSec(), EPS);
        assertEquals(1500.0, f.getOutBytesPerSec(), EPS);
        assertEquals(20, f.getServerWaitMs());
        assertEquals(400, f.getSinceLastInMs());
        assertEquals(460, f.getSinceLastOutMs());
        assertEquals(100, f.getInFirstOpBytes());
        assertEquals(1500, f.getSendWaitMs());
        assertEquals(2000, f.getSendWaitBytes());
        assertEquals(EndReason.CLOSED, f.getEndReason());
        assertEquals(EndedBy.CLIENT, f.getEndedBy());
    }

    static List<FlowFeatures> finals(FeaturesDriver d) {
        List<FlowFeatures> out = new ArrayList<>();
        for (FlowFeatures f : d.flows.readValuesToList()) {
            if (f.getFinal$()) {
                out.add(f);
            }
        }
        return out;
    }

    @Test
    void scriptedConnectionGivesExactFeatures() {
        try (FeaturesDriver d = new FeaturesDriver(stateDir, T0, Map.of())) {
            Ev c = new Ev("h1", 42, "198.51.100.7", 5000, T0);
            for (SocketEvent e : scripted(c)) {
                d.pipe(c, e);
            }
            List<FlowFeatures> f = finals(d);
            assertEquals(1, f.size());
            assertScriptedFinal(f.get(0));
            assertEquals(1, d.counters.get("mw_features_repeated_observations_total"), "the close repeats the last counters");
        }
    }

    @Test
    void outOfOrderRecordsWithinGraceGiveTheSameFeatures() {
        try (FeaturesDriver d = new FeaturesDriver(stateDir, T0, Map.of())) {
            Ev c = new Ev("h1", 42, "198.51.100.7", 5000, T0);
            List<SocketEvent> s = scripted(c);
            // data observations shuffled (the close stays last: it ends the connection), one duplicated
            for (int i : new int[] {0, 4, 2, 1, 5, 3, 2, 6}) {
                d.pipe(c, s.get(i));
            }
            List<FlowFeatures> f = finals(d);
            assertEquals(1, f.size());
            assertScriptedFinal(f.get(0));
            assertEquals(2, d.counters.get("mw_features_repeated_observations_total"));
        }
    }

    /**
     * Restart itself (state restored from the changelog) needs a real broker: TopologyTestDriver
     * deletes its state directory on close. FeaturesIT covers it; here: records delivered again after
     * a restart of an at-least-once producer are not counted twice.
     */
    @Test
    void redeliveredRecordsAreNotCountedTwice() {
        Ev c = new Ev("h1", 42, "198.51.100.7", 5000, T0);
        List<SocketEvent> s = scripted(c);
        try (FeaturesDriver d = new FeaturesDriver(stateDir, T0, Map.of())) {
            for (int i = 0; i < 5; i++) {
                d.pipe(c, s.get(i));
            }
            for (int i = 1; i < s.size(); i++) {
                d.pipe(c, s.get(i));
            }
            List<FlowFeatures> f = finals(d);
            assertEquals(1, f.size());
            assertScriptedFinal(f.get(0));
            assertEquals(5, d.counters.get("mw_features_repeated_observations_total"));
        }
    }

    @Test
    void silentConnectionGetsPeriodicFeaturesByWallClockAndExpires() {
        try (FeaturesDriver d = new FeaturesDriver(stateDir, T0, Map.of("flow.idle.expire.ms", "30000", "flow.early.emit.ages.ms", "1000,2000"))) {
            Ev c = new Ev("h1", 9, "203.0.113.9", 4000, T0);
            d.pipe(c, c.acceptOn(7, T0));
            d.pipe(c, c.at(T0 + 100, SocketOp.RECV, 50, 0));
            assertTrue(d.flows.isEmpty());
            d.advance(1000); // wall T0+1000: early snapshot at age 1 s
            FlowFeatures f1 = d.flows.readValue();
            assertFalse(f1.getFinal$());
            assertEquals(EndReason.OPEN, f1.getEndReason());
            assertEquals(EndedBy.NONE, f1.getEndedBy());
            assertEquals(T0 + 1000, f1.getEmittedMs());
            assertEquals(1000, f1.getDurationMs());
            assertEquals(50, f1.getBytesIn());
            assertEquals(0, f1.getBytesOut());
            assertEquals(900, f1.getSinceLastInMs());
            assertEquals(1000, f1.getSinceLastOutMs());
            assertEquals(900, f1.getServerWaitMs());
            assertEquals(-1, f1.getFirstByteOutMs());
            assertEquals(50.0, f1.getInBytesPerSec(), EPS);
            assertTrue(d.flows.isEmpty());
            d.advance(1000); // age 2 s: second early snapshot
            assertEquals(2000, d.flows.readValue().getDurationMs());
            d.advance(4500); // T0+6500: not yet 5 s since the last one
            assertTrue(d.flows.isEmpty());
            d.advance(500); // T0+7000: 5 s since T0+2000
            FlowFeatures f3 = d.flows.readValue();
            assertEquals(7000, f3.getDurationMs());
            assertEquals(6900, f3.getIdleMaxMs(), EPS);
            d.advance(23_500); // past the 30 s idle limit
            List<FlowFeatures> rest = d.flows.readValuesToList();
            FlowFeatures last = rest.get(rest.size() - 1);
            assertTrue(last.getFinal$());
            assertEquals(EndReason.EXPIRED, last.getEndReason());
            assertEquals(1, d.counters.get("mw_features_connections_expired_total"));
            d.advance(10_000);
            assertTrue(d.flows.isEmpty(), "expired state is gone: no more records");
            List<PeerFeatures> pf = d.peers.readValuesToList();
            assertEquals(0, pf.get(pf.size() - 1).getOpenConnections(), "the expired connection no longer counts as open");
        }
    }

    @Test
    void peerAndInsWindowsCountConnectionsBytesAndSlowOnes() {
        try (FeaturesDriver d = new FeaturesDriver(stateDir, T0, Map.of())) {
            Ev a1 = new Ev("h1", 101, "198.51.100.7", 5001, T0);
            Ev a2 = new Ev("h1", 102, "198.51.100.7", 5002, T0 + 200);
            Ev a3 = new Ev("h1", 103, "198.51.100.7", 5003, T0 + 300);
            Ev b1 = new Ev("h1", 201, "192.0.2.1", 6001, T0 + 100);
            // a1: slow (20 bytes, no response), a2: normal request and response, still open (keep-alive)
            d.pipe(a1, a1.acceptOn(7, T0));
            d.pipe(a1, a1.at(T0 + 50, SocketOp.RECV, 20, 0));
            d.pipe(a2, a2.acceptOn(7, T0 + 200));
            d.pipe(a2, a2.at(T0 + 210, SocketOp.RECV, 400, 0));
            d.pipe(a2, a2.at(T0 + 220, SocketOp.SEND, 400, 5000));
            // a3: sent 600 bytes, got a response, closed
            d.pipe(a3, a3.acceptOn(7, T0 + 300));
            d.pipe(a3, a3.at(T0 + 310, SocketOp.RECV, 600, 0));
            d.pipe(a3, a3.at(T0 + 320, SocketOp.SEND, 600, 100));
            d.pipe(a3, a3.at(T0 + 330, SocketOp.CLOSE, 600, 100));
            d.pipe(b1, b1.acceptOn(7, T0 + 100));
            d.pipe(b1, b1.at(T0 + 150, SocketOp.RECV, 300, 0));
            d.advance(2000); // window [T0-8000, T0+2000)
            Map<String, PeerFeatures> byKey = new java.util.HashMap<>();
            for (var kv : d.peers.readKeyValuesToList()) {
                byKey.put(kv.key, kv.value);
            }
            PeerFeatures a = byKey.get("h1/198.51.100.7");
            assertNotNull(a);
            assertEquals(T0 - 8000, a.getWindowStartMs());
            assertEquals(T0 + 2000, a.getWindowEndMs());
            assertEquals(3, a.getNewConnections());
            assertEquals(2, a.getOpenConnections());
            assertEquals((2000.0 + 1800) / 2, a.getConnAgeMeanMs(), EPS);
            assertEquals(2000, a.getConnAgeMaxMs());
            assertEquals(1.0 / 3, a.getNoResponseShare(), EPS);
            assertEquals(1, a.getSlowConnections());
            assertEquals(1020 / 10.0, a.getRequestBytesPerSec(), EPS);
            assertEquals(1020 / 3.0, a.getMeanRequestBytes(), EPS);
            assertEquals(List.of(1), a.getInsIds());
            PeerFeatures b = byKey.get("h1/192.0.2.1");
            assertEquals(1, b.getNewConnections());
            assertEquals(1, b.getOpenConnections());
            assertEquals(1, b.getSlowConnections(), "300 B in 1.9 s without a response is a slow request");
            InsLoad l = d.ins.readKeyValue().value;
            assertEquals(T0 + 2000, l.getWindowEndMs());
            assertEquals(3, l.getOpenConnections());
            assertEquals(4, l.getAccepts());
            assertEquals(0.4, l.getAcceptRate(), EPS);
            assertEquals(132.0, l.getBytesInRate(), EPS);
            assertEquals(510.0, l.getBytesOutRate(), EPS);
            assertTrue(d.ins.isEmpty());
        }
    }

    @Test
    void lateRecordsReEmitTheirPeerWindowWithinGraceAndAreCountedWhenTooLate() {
        try (FeaturesDriver d = new FeaturesDriver(stateDir, T0, Map.of())) {
            Ev a1 = new Ev("h1", 301, "198.51.100.9", 7001, T0 + 100);
            d.pipe(a1, a1.acceptOn(7, T0 + 100));
            d.pipe(a1, a1.at(T0 + 200, SocketOp.RECV, 100, 0));
            d.advance(2000);
            PeerFeatures w1 = d.peers.readValue();
            assertEquals(T0 + 2000, w1.getWindowEndMs());
            assertEquals(1, w1.getNewConnections());
            assertEquals(10.0, w1.getRequestBytesPerSec(), EPS);
            // a connection observed in [T0, T0+2000) arrives after that window was emitted
            Ev a2 = new Ev("h1", 302, "198.51.100.9", 7002, T0 + 500);
            d.pipe(a2, a2.acceptOn(7, T0 + 500));
            d.pipe(a2, a2.at(T0 + 600, SocketOp.RECV, 300, 0));
            d.advance(2000);
            List<PeerFeatures> ws = d.peers.readValuesToList();
            assertEquals(2, ws.size(), ws.toString());
            PeerFeatures again = ws.get(0);
            assertEquals(T0 + 2000, again.getWindowEndMs(), "the window the late records belong to is emitted again");
            assertEquals(2, again.getNewConnections());
            assertEquals(40.0, again.getRequestBytesPerSec(), EPS);
            assertEquals(T0 + 4000, ws.get(1).getWindowEndMs());
            assertEquals(2, ws.get(1).getNewConnections());
            // far too late for any window: counted, not added
            Ev old = new Ev("h1", 303, "198.51.100.9", 7003, T0 - 60_000);
            d.pipe(old, old.at(T0 - 59_000, SocketOp.RECV, 50, 0));
            assertEquals(2, d.counters.get("mw_features_late_records_total{window=\"peer\"}"));
        }
    }

    @Test
    void outboundConnectionsAreMarkedAndLeftOutOfPeerFeatures() {
        try (FeaturesDriver d = new FeaturesDriver(stateDir, T0, Map.of())) {
            Ev db = new Ev("h1", 401, "10.9.9.9", 5432, T0);
            d.pipe(db, db.at(T0, SocketOp.CONNECT, 0, 0));
            d.pipe(db, db.at(T0 + 10, SocketOp.SEND, 0, 80));
            d.advance(2000);
            List<FlowFeatures> f = d.flows.readValuesToList();
            assertTrue(f.get(0).getOutbound());
            assertTrue(d.peers.isEmpty(), "the application's own connection is not a peer");
            assertEquals(1, d.ins.readValue().getOpenConnections(), "but it is load on the INS");
        }
    }

    @Test
    void corruptRecordGoesToDeadLetterTopicAndProcessingContinues() {
        try (FeaturesDriver d = new FeaturesDriver(stateDir, T0, Map.of())) {
            byte[] garbage = {0, 0, 0, 0x7f, 0x7f, 1, 2, 3};
            d.rawEvents.pipeInput("h1/1".getBytes(StandardCharsets.UTF_8), garbage);
            Ev c = new Ev("h1", 42, "198.51.100.7", 5000, T0);
            for (SocketEvent e : scripted(c)) {
                d.pipe(c, e);
            }
            TestRecord<byte[], byte[]> dead = d.dlq.readRecord();
            assertEquals("h1/1", new String(dead.key(), StandardCharsets.UTF_8));
            assertEquals(java.util.Arrays.toString(garbage), java.util.Arrays.toString(dead.value()));
            assertEquals("mw.socket-events", header(dead, DeadLetters.H_TOPIC));
            assertEquals("0", header(dead, DeadLetters.H_OFFSET));
            assertNotNull(header(dead, DeadLetters.H_EXCEPTION));
            assertFalse(header(dead, DeadLetters.H_MESSAGE).isEmpty());
            assertTrue(d.dlq.isEmpty());
            List<FlowFeatures> f = finals(d);
            assertEquals(1, f.size());
            assertScriptedFinal(f.get(0));
        }
    }

    @Test
    void invalidEventGoesToDeadLetterTopicWithReason() {
        try (FeaturesDriver d = new FeaturesDriver(stateDir, T0, Map.of())) {
            Ev c = new Ev("h1", 42, "198.51.100.7", 5000, T0);
            d.pipe(c, c.at(T0 + 5, SocketOp.RECV, -5, 0));
            TestRecord<byte[], byte[]> dead = d.dlq.readRecord();
            assertTrue(header(dead, DeadLetters.H_MESSAGE).contains("negative cumulative bytes"), header(dead, DeadLetters.H_MESSAGE));
            for (SocketEvent e : scripted(c)) {
                d.pipe(c, e);
            }
            assertScriptedFinal(finals(d).get(0));
        }
    }

    static String header(TestRecord<byte[], byte[]> r, String name) {
        Header h = r.headers().lastHeader(name);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }
}
