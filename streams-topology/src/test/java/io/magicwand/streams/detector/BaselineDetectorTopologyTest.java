package io.magicwand.streams.detector;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.magicwand.avro.Action;
import io.magicwand.avro.FlowFeatures;
import io.magicwand.avro.MitigationDecision;
import io.magicwand.avro.TargetKind;
import io.magicwand.netflow.FeatureNames;
import io.magicwand.streams.internal.DeadLetters;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BaselineDetectorTopologyTest {
    static final long T0 = 1_700_000_000_000L;
    static final String ATTACKER = "203.0.113.5";

    @TempDir
    Path stateDir;

    static List<MitigationDecision> of(List<MitigationDecision> ds, Action a) {
        return ds.stream().filter(d -> d.getAction() == a).collect(Collectors.toList());
    }

    static FlowFeatures slowloris(String addr, long sid, long now) {
        return Ff.bytes(Ff.open(addr, sid, now, 1200), 120, 0, 3, 0, 60).setSinceLastInMs(300).build();
    }

    @Test
    void slowlorisConnectionsAreTightenedThenClosedAndTheAddressBlocked() {
        try (DetectorDriver d = new DetectorDriver(stateDir, T0, Map.of())) {
            d.flow(slowloris(ATTACKER, 1, T0 + 1000));
            List<MitigationDecision> first = d.decisions.readValuesToList();
            assertEquals(1, first.size(), "one slow connection: only its timeout is tightened");
            MitigationDecision t = first.get(0);
            assertEquals(Action.SET_ATTRIBUTE, t.getAction());
            assertEquals(TargetKind.SOCKET, t.getTarget());
            assertEquals(1L, t.getSocketId());
            assertEquals(FeatureNames.RCVTIMEO, t.getAttributeName());
            assertEquals(5000L, t.getAttributeValue());
            assertEquals("baseline/slowloris", t.getDetector());
            assertTrue(t.getReason().contains("MinRate"), t.getReason());
            d.flow(slowloris(ATTACKER, 2, T0 + 1100));
            d.flow(slowloris(ATTACKER, 3, T0 + 1200));
            List<MitigationDecision> ds = d.decisions.readValuesToList();
            List<MitigationDecision> blocks = of(ds, Action.BLOCK);
            assertEquals(1, blocks.size());
            MitigationDecision b = blocks.get(0);
            assertEquals(TargetKind.ADDRESS, b.getTarget());
            assertEquals(ATTACKER, b.getAddress());
            assertEquals(60_000L, b.getTtlMs());
            assertEquals("baseline/slowloris", b.getDetector());
            assertTrue(b.getReason().contains("3 suspect connections"), b.getReason());
            assertEquals(List.of(1L, 2L, 3L), of(ds, Action.CLOSE).stream().map(MitigationDecision::getSocketId).sorted().toList());
            // the same connections reported again: nothing new (no second block, no second close)
            d.flow(slowloris(ATTACKER, 1, T0 + 2000));
            d.flow(slowloris(ATTACKER, 3, T0 + 2100));
            assertTrue(d.decisions.isEmpty());
            // a fourth connection while the address is blocked is closed at once
            d.flow(slowloris(ATTACKER, 4, T0 + 2200));
            List<MitigationDecision> late = d.decisions.readValuesToList();
            assertEquals(1, of(late, Action.CLOSE).size());
            assertEquals(0, of(late, Action.BLOCK).size());
        }
    }

    @Test
    void slowPostIsRecognisedByItsWholeHeaderBlockThenTrickle() {
        try (DetectorDriver d = new DetectorDriver(stateDir, T0, Map.of())) {
            for (int i = 1; i <= 3; i++) {
                d.flow(Ff.bytes(Ff.open(ATTACKER, i, T0 + 2000, 1500), 420, 0, 6, 0, 400).build());
            }
            List<MitigationDecision> ds = d.decisions.readValuesToList();
            MitigationDecision b = of(ds, Action.BLOCK).get(0);
            assertEquals("baseline/slowpost", b.getDetector());
            assertTrue(b.getReason().contains("body trickled"), b.getReason());
            assertEquals(3, of(ds, Action.CLOSE).size());
        }
    }

    @Test
    void slowReadIsRecognisedBySendWaitsAndSlowDrain() {
        try (DetectorDriver d = new DetectorDriver(stateDir, T0, Map.of())) {
            for (int i = 1; i <= 3; i++) {
                d.flow(Ff.bytes(Ff.open(ATTACKER, i, T0 + 4000, 4000), 300, 250_000, 1, 12, 300)
                        .setSendWaitMs(3000).setSendWaitBytes(600).setSinceLastOutMs(500).setSinceLastInMs(3900).build());
            }
            List<MitigationDecision> ds = d.decisions.readValuesToList();
            MitigationDecision t = of(ds, Action.SET_ATTRIBUTE).get(0);
            assertEquals(FeatureNames.SNDTIMEO, t.getAttributeName());
            MitigationDecision b = of(ds, Action.BLOCK).get(0);
            assertEquals("baseline/slowread", b.getDetector());
            assertTrue(b.getReason().contains("drained 200.0 B/s"), b.getReason());
            assertEquals(3, of(ds, Action.CLOSE).size());
        }
    }

    @Test
    void rangeAttackBlocksAfterRepeatedHugeResponsesToHugeRequests() {
        try (DetectorDriver d = new DetectorDriver(stateDir, T0, Map.of())) {
            d.flow(Ff.closed(Ff.bytes(Ff.open(ATTACKER, 1, T0 + 300, 300), 4000, 200_000, 1, 600, 4000)).build());
            assertTrue(d.decisions.isEmpty(), "one such request is not enough");
            d.flow(Ff.closed(Ff.bytes(Ff.open(ATTACKER, 2, T0 + 700, 300), 4000, 200_000, 1, 600, 4000)).build());
            List<MitigationDecision> ds = d.decisions.readValuesToList();
            assertEquals(1, ds.size());
            assertEquals(Action.BLOCK, ds.get(0).getAction());
            assertEquals("baseline/range", ds.get(0).getDetector());
            assertTrue(ds.get(0).getReason().contains("down_up_ratio 50.0"), ds.get(0).getReason());
        }
    }

    @Test
    void connectionFloodFromOneAddressIsBlockedOnce() {
        try (DetectorDriver d = new DetectorDriver(stateDir, T0, Map.of())) {
            d.peer(Ff.peer(ATTACKER, T0 + 2000, 60, 60, 0));
            List<MitigationDecision> ds = d.decisions.readValuesToList();
            assertEquals(1, ds.size());
            assertEquals(Action.BLOCK, ds.get(0).getAction());
            assertEquals("baseline/flood", ds.get(0).getDetector());
            assertTrue(ds.get(0).getReason().contains("60 open connections (> 50"), ds.get(0).getReason());
            d.peer(Ff.peer(ATTACKER, T0 + 4000, 150, 70, 0));
            assertTrue(d.decisions.isEmpty(), "already blocked: no second block");
            d.peer(Ff.peer("198.51.100.20", T0 + 4000, 101, 3, 0));
            assertEquals("baseline/flood", d.decisions.readValue().getDetector(), "more than 100 new connections per window");
        }
    }

    @Test
    void manySlowConnectionsInPeerFeaturesBlockTheAddress() {
        try (DetectorDriver d = new DetectorDriver(stateDir, T0, Map.of())) {
            d.peer(Ff.peer(ATTACKER, T0 + 2000, 4, 4, 3));
            MitigationDecision b = d.decisions.readValue();
            assertEquals(Action.BLOCK, b.getAction());
            assertEquals("baseline/slowloris", b.getDetector());
        }
    }

    @Test
    void benignFlowsAreNotFlagged() {
        try (DetectorDriver d = new DetectorDriver(stateDir, T0, Map.of())) {
            String a = "192.0.2.10";
            // page load: request in one burst, response, closed
            d.flow(Ff.closed(Ff.bytes(Ff.open(a, 1, T0 + 80, 80), 450, 20_000, 1, 3, 450)).build());
            // keep-alive connection idle after its response
            d.flow(Ff.bytes(Ff.open(a, 2, T0 + 30_000, 30_000), 900, 40_000, 2, 6, 450).setSinceLastOutMs(25_000).setSinceLastInMs(25_010).build());
            // a large download on a fast link (request small)
            d.flow(Ff.bytes(Ff.open(a, 3, T0 + 3000, 3000), 500, 30_000_000, 1, 900, 500).setSendWaitMs(40).setSendWaitBytes(28_000_000).build());
            // a large upload sent at a normal rate
            d.flow(Ff.bytes(Ff.open(a, 4, T0 + 2000, 2000), 1_000_000, 0, 120, 0, 700).build());
            // a pre-connected socket that has not sent its request yet
            d.flow(Ff.open(a, 5, T0 + 5000, 5000).build());
            // a big page with large cookies: big request, big response, but a single one
            d.flow(Ff.closed(Ff.bytes(Ff.open(a, 6, T0 + 200, 200), 3000, 500_000, 1, 40, 3000)).build());
            // several browsers behind one NAT address
            d.peer(Ff.peer(a, T0 + 2000, 40, 24, 1));
            assertTrue(d.decisions.isEmpty(), () -> "benign flagged: " + d.decisions.readValuesToList());
        }
    }

    @Test
    void outboundConnectionsAreNeverActedOn() {
        try (DetectorDriver d = new DetectorDriver(stateDir, T0, Map.of())) {
            for (int i = 1; i <= 4; i++) {
                d.flow(Ff.open("10.9.9.9", i, T0 + 30_000, 30_000).setOutbound(true).build());
            }
            assertTrue(d.decisions.isEmpty());
            assertEquals(4, d.counters.get("mw_detector_outbound_ignored_total"));
        }
    }

    @Test
    void allowListedAddressesAreNeverActedOn() {
        try (DetectorDriver d = new DetectorDriver(stateDir, T0, Map.of("allowlist", "10.0.0.0/8, 2001:db8::/32"))) {
            for (int i = 1; i <= 4; i++) {
                d.flow(slowloris("10.1.2.3", i, T0 + 1000 + i));
                d.flow(slowloris("2001:db8::7", 100 + i, T0 + 1000 + i));
            }
            d.peer(Ff.peer("10.1.2.3", T0 + 2000, 500, 500, 10));
            assertTrue(d.decisions.isEmpty());
            assertEquals(9, d.counters.get("mw_detector_allowlisted_total"));
            d.flow(slowloris("11.1.2.3", 1, T0 + 1000));
            assertFalse(d.decisions.isEmpty(), "addresses outside the list are still acted on");
        }
    }

    @Test
    void banExpiryEmitsUnblockAndAllowsANewBlock() {
        try (DetectorDriver d = new DetectorDriver(stateDir, T0, Map.of())) {
            d.peer(Ff.peer(ATTACKER, T0, 60, 60, 0));
            MitigationDecision b = d.decisions.readValue();
            d.advance(59_000);
            assertTrue(d.decisions.isEmpty());
            d.advance(1_000);
            MitigationDecision u = d.decisions.readValue();
            assertEquals(Action.UNBLOCK, u.getAction());
            assertEquals(TargetKind.ADDRESS, u.getTarget());
            assertEquals(ATTACKER, u.getAddress());
            assertTrue(u.getReason().contains(b.getDecisionId()), u.getReason());
            assertTrue(d.decisions.isEmpty());
            d.advance(5_000);
            assertTrue(d.decisions.isEmpty(), "one UNBLOCK per ban");
            d.peer(Ff.peer(ATTACKER, T0 + 70_000, 60, 60, 0));
            MitigationDecision again = d.decisions.readValue();
            assertEquals(Action.BLOCK, again.getAction());
            assertFalse(again.getDecisionId().equals(b.getDecisionId()));
        }
    }

    @Test
    void decisionIdsAreDeterministic() {
        List<List<String>> runs = new ArrayList<>();
        for (int run = 0; run < 2; run++) {
            try (DetectorDriver d = new DetectorDriver(stateDir.resolve("run" + run), T0, Map.of())) {
                for (int i = 1; i <= 3; i++) {
                    d.flow(slowloris(ATTACKER, i, T0 + 1000 + i));
                }
                runs.add(d.decisions.readValuesToList().stream().map(MitigationDecision::getDecisionId).toList());
            }
        }
        assertEquals(7, runs.get(0).size());
        assertEquals(runs.get(0), runs.get(1));
        assertEquals(7, runs.get(0).stream().distinct().count());
    }

    @Test
    void corruptFlowAndPeerRecordsGoToTheirDeadLetterTopics() {
        try (DetectorDriver d = new DetectorDriver(stateDir, T0, Map.of())) {
            d.rawFlows.pipeInput("h1/1".getBytes(StandardCharsets.UTF_8), new byte[] {1, 2, 3});
            d.rawPeers.pipeInput("h1/x".getBytes(StandardCharsets.UTF_8), new byte[] {0, 0, 0});
            d.peer(Ff.peer(ATTACKER, T0, 60, 60, 0));
            TestRecord<byte[], byte[]> f = d.flowDlq.readRecord();
            assertEquals("mw.flow-features", header(f, DeadLetters.H_TOPIC));
            assertNotNull(header(f, DeadLetters.H_MESSAGE));
            TestRecord<byte[], byte[]> p = d.peerDlq.readRecord();
            assertEquals("mw.peer-features", header(p, DeadLetters.H_TOPIC));
            assertEquals(Action.BLOCK, d.decisions.readValue().getAction(), "processing continued");
        }
    }

    static String header(TestRecord<byte[], byte[]> r, String name) {
        var h = r.headers().lastHeader(name);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }
}
