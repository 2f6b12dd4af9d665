package io.magicwand.streams.features;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.magicwand.avro.Action;
import io.magicwand.avro.FlowFeatures;
import io.magicwand.avro.MitigationDecision;
import io.magicwand.avro.PeerFeatures;
import io.magicwand.avro.SocketEvent;
import io.magicwand.avro.TargetKind;
import io.magicwand.streams.detector.DetectorDriver;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.kafka.streams.KeyValue;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Detection driven by traffic the test makes itself: real client sockets from distinct loopback
 * sources perform each attack kind and benign browsing against a JVM HTTP server whose sockets
 * report INS-style observations; the observations flow through the feature topology and the
 * baseline detector (both with their default settings) in real time, wall clocks advanced with the
 * real clock. Every attacker must be blocked with the right kind; no benign source may be touched.
 */
class TrafficDetectionTest {
    static final long RUN_MS = 12_000;
    static final long ATTACKS_AT_MS = 1_000;
    /** In observation time, from the source's first connection; the rules need 1-4 s of a connection's life. */
    static final long MAX_LATENCY_MS = 5_000;

    @TempDir
    Path dir;

    static long ts(SocketEvent e) {
        return e.getTsSec() * 1000 + e.getTsNsec() / 1_000_000;
    }

    @Test
    void everyAttackKindIsDetectedAndNoBenignSourceIsFlagged() throws Exception {
        Map<String, String> attackers = new LinkedHashMap<>();
        attackers.put("127.0.0.11", "slowloris");
        attackers.put("127.0.0.12", "slowpost");
        attackers.put("127.0.0.13", "slowread");
        attackers.put("127.0.0.14", "range");
        attackers.put("127.0.0.15", "flood");
        List<String> benign = List.of("127.0.0.21", "127.0.0.22", "127.0.0.23");

        List<SocketEvent> recorded = new ArrayList<>();
        Map<Long, String> remoteOf;
        long start;
        long attacksAt;
        // Phase 1: real traffic, observations recorded with their real timestamps.
        try (ObservedHttpServer server = new ObservedHttpServer(); Traffic traffic = new Traffic(server.port())) {
            start = System.currentTimeMillis();
            long seed = 1;
            for (String b : benign) {
                traffic.benign(b, seed++);
            }
            Thread.sleep(ATTACKS_AT_MS);
            attacksAt = System.currentTimeMillis();
            traffic.slowloris("127.0.0.11", 5);
            traffic.slowPost("127.0.0.12", 5);
            traffic.slowRead("127.0.0.13", 4);
            traffic.range("127.0.0.14", 4);
            traffic.flood("127.0.0.15", 60);
            Thread.sleep(RUN_MS - ATTACKS_AT_MS);
            traffic.stop();
            assertTrue(traffic.errors.isEmpty(), "client errors: " + traffic.errors);
            traffic.close();
            Thread.sleep(200);
            SocketEvent e;
            while ((e = server.events.poll()) != null) {
                recorded.add(e);
            }
            remoteOf = new HashMap<>(server.remoteOf);
        }
        // Phase 2: the observations through both topologies, each driver's wall clock following the
        // observation times as if processing took no time (so a slow, shared CI machine changes nothing).
        List<MitigationDecision> decisions = new ArrayList<>();
        long flows = 0;
        long peers = 0;
        // In-memory stores and at-least-once: TopologyTestDriver commits after every record, which
        // with RocksDB and transactions costs milliseconds; the topologies and rule settings are the defaults.
        Map<String, String> fast = Map.of("state.store.type", "memory", "kafka.processing.guarantee", "at_least_once");
        try (FeaturesDriver fd = new FeaturesDriver(dir.resolve("features"), start, fast);
             DetectorDriver dd = new DetectorDriver(dir.resolve("detector"), start, fast)) {
            long clock = start;
            int next = 0;
            for (long t = start + 100; t <= start + RUN_MS + 3000; t += 100) {
                while (next < recorded.size() && ts(recorded.get(next)) < t) {
                    SocketEvent e = recorded.get(next++);
                    long ets = ts(e);
                    if (ets > clock) {
                        fd.advance(ets - clock);
                        dd.advance(ets - clock);
                        clock = ets;
                    }
                    fd.events.pipeInput(e.getHost() + "/" + e.getSocketId(), e, ets);
                }
                fd.advance(t - clock);
                for (KeyValue<String, FlowFeatures> kv : fd.flows.readKeyValuesToList()) {
                    dd.flows.pipeInput(kv.key, kv.value, kv.value.getEmittedMs());
                    flows++;
                }
                for (KeyValue<String, PeerFeatures> kv : fd.peers.readKeyValuesToList()) {
                    dd.peers.pipeInput(kv.key, kv.value, kv.value.getWindowEndMs());
                    peers++;
                }
                dd.advance(t - clock);
                clock = t;
                decisions.addAll(dd.decisions.readValuesToList());
            }
            System.out.println("features counters: " + fd.counters.snapshot());
        }
        Map<String, Long> visibleAt = new HashMap<>();
        for (SocketEvent e : recorded) {
            visibleAt.merge(e.getRemoteAddr(), ts(e), Math::min);
        }
        Map<String, Long> firstDecisionAt = new HashMap<>();
        for (MitigationDecision d : decisions) {
            String addr = d.getTarget() == TargetKind.ADDRESS ? d.getAddress() : remoteOf.get(d.getSocketId());
            firstDecisionAt.merge(addr, d.getCreatedAtMs(), Math::min);
        }
        {
            long events = recorded.size();
            Map<String, TreeSet<String>> byAddr = new TreeMap<>();
            for (MitigationDecision d : decisions) {
                String addr = d.getTarget() == TargetKind.ADDRESS ? d.getAddress() : remoteOf.get(d.getSocketId());
                byAddr.computeIfAbsent(addr, k -> new TreeSet<>()).add(d.getAction() + " " + d.getDetector());
            }
            System.out.printf("traffic test: %d socket events, %d flow and %d peer feature records, %d decisions%n",
                    events, flows, peers, decisions.size());
            byAddr.forEach((a, ds) -> System.out.println("  " + a + " (" + attackers.getOrDefault(a, "benign") + "): " + ds
                    + (attackers.containsKey(a) ? ", first decision " + (firstDecisionAt.get(a) - visibleAt.get(a)) + " ms after its first connection" : "")));
            for (MitigationDecision d : decisions) {
                if (d.getAction() == Action.BLOCK) {
                    System.out.println("  BLOCK " + d.getAddress() + ": " + d.getReason());
                }
            }

            for (String b : benign) {
                assertTrue(!byAddr.containsKey(b), "benign source " + b + " was acted on: " + byAddr.get(b));
            }
            for (Map.Entry<String, String> a : attackers.entrySet()) {
                TreeSet<String> ds = byAddr.get(a.getKey());
                assertTrue(ds != null, a.getValue() + " from " + a.getKey() + " was not detected");
                assertTrue(ds.stream().anyMatch(x -> x.startsWith("BLOCK ")), a.getValue() + " source not blocked: " + ds);
                assertTrue(ds.stream().anyMatch(x -> x.endsWith("baseline/" + a.getValue())),
                        a.getValue() + " source not recognised as " + a.getValue() + ": " + ds);
                long latency = firstDecisionAt.get(a.getKey()) - visibleAt.get(a.getKey());
                // A slow read shows only once the first stalled send completes (the client has to drain
                // a few KiB at its slow pace first), and is judged at the next emission of its features.
                long limit = a.getValue().equals("slowread") ? 2 * MAX_LATENCY_MS : MAX_LATENCY_MS;
                assertTrue(latency <= limit, a.getValue() + " detected only after " + latency + " ms");
            }
            long blocks = decisions.stream().filter(d -> d.getAction() == Action.BLOCK).count();
            assertEquals(attackers.size(), blocks, "exactly one block per attacking address");
        }
    }
}
