package io.magicwand.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.magicwand.avro.ResultStatus;
import io.magicwand.netflow.Endpoint;
import io.magicwand.netflow.FeatureRequest;
import io.magicwand.netflow.FeatureResponse;
import io.magicwand.netflow.NetflowCodec;
import io.magicwand.netflow.NetflowInfo;
import java.time.Clock;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Timeouts, retries, errno and reconnects against a real loopback NetFlow server. */
class RequestExecutorTest {
    private ScriptedNetflowServer server;
    private NetflowTargets targets;
    private final SinkMetrics metrics = new SinkMetrics();

    private RequestExecutor executor(Map<String, String> extra) {
        Map<String, String> p = new HashMap<>();
        p.put("netflow.targets", "host1=" + server.address());
        p.put("netflow.request.timeout.ms", "300");
        p.put("netflow.max.retries", "2");
        p.put("netflow.retry.backoff.ms", "10");
        p.put("netflow.reconnect.backoff.ms", "20");
        p.put("netflow.reconnect.backoff.max.ms", "200");
        p.put("netflow.unavailable.max.ms", "3000");
        p.putAll(extra);
        SinkConfig cfg = SinkConfig.of(p);
        targets = new NetflowTargets(cfg);
        return new RequestExecutor(targets, cfg, Clock.systemUTC(), metrics);
    }

    @AfterEach
    void tearDown() throws Exception {
        if (targets != null) {
            targets.close();
        }
        if (server != null) {
            server.close();
        }
    }

    private static List<FeatureRequest> close17() throws Exception {
        return DecisionMapper.map(Decisions.close("c", 17));
    }

    @Test
    void appliedWhenMwcommsAnswersZero() throws Exception {
        server = new ScriptedNetflowServer(ScriptedNetflowServer.OK);
        Outcome o = executor(Map.of()).execute("host1", close17(), Long.MAX_VALUE, () -> false);
        assertEquals(ResultStatus.APPLIED, o.status(), o.message());
        assertEquals(1, server.requests().size());
        FeatureRequest seen = server.requests().get(0);
        assertEquals(17, seen.identSocket());
        assertTrue(seen.id() != 0, "request ids are never 0");
    }

    @Test
    void failedCarriesTheErrnoAndStopsTheSequence() throws Exception {
        server = new ScriptedNetflowServer(r -> FeatureResponse.error(r.id(), 9));
        List<FeatureRequest> two = List.of(close17().get(0), close17().get(0));
        Outcome o = executor(Map.of()).execute("host1", two, Long.MAX_VALUE, () -> false);
        assertEquals(ResultStatus.FAILED, o.status());
        assertEquals(9, o.errno());
        assertTrue(o.message().contains("EBADF"), o.message());
        assertEquals(1, server.requests().size(), "the second request is not sent after a failure");
    }

    @Test
    void noAnswerIsRetriedWithANewIdThenApplied() throws Exception {
        AtomicInteger n = new AtomicInteger();
        server = new ScriptedNetflowServer(r -> n.incrementAndGet() <= 2 ? null : FeatureResponse.ok(r.id(), r.val()));
        Outcome o = executor(Map.of()).execute("host1", close17(), Long.MAX_VALUE, () -> false);
        assertEquals(ResultStatus.APPLIED, o.status(), o.message());
        assertEquals(3, o.attempts());
        List<FeatureRequest> seen = server.requests();
        assertEquals(3, seen.size());
        assertTrue(seen.get(0).id() != seen.get(1).id() && seen.get(1).id() != seen.get(2).id(), "fresh id per attempt");
        assertEquals(2, metrics.retryCount());
    }

    @Test
    void lateAnswerToAnAbandonedIdIsIgnored() throws Exception {
        // First attempt answered after the timeout with an error; the retry is answered OK: the late
        // error must not be taken for the retry's answer.
        AtomicInteger n = new AtomicInteger();
        server = new ScriptedNetflowServer(r -> {
            if (n.incrementAndGet() == 1) {
                server.answerLater(FeatureResponse.error(r.id(), 1), 450);
                return null;
            }
            try {
                Thread.sleep(200); // let the late error arrive first
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return FeatureResponse.ok(r.id(), r.val());
        });
        Outcome o = executor(Map.of()).execute("host1", close17(), Long.MAX_VALUE, () -> false);
        assertEquals(ResultStatus.APPLIED, o.status(), o.message());
        assertEquals(1, targets.connection("host1").staleResponses());
    }

    @Test
    void timedOutAfterTheRetries() throws Exception {
        server = new ScriptedNetflowServer(r -> null);
        Outcome o = executor(Map.of()).execute("host1", close17(), Long.MAX_VALUE, () -> false);
        assertEquals(ResultStatus.TIMED_OUT, o.status());
        assertEquals(3, server.requests().size(), "1 attempt + 2 retries");
        assertTrue(o.message().contains("3 attempts"), o.message());
    }

    @Test
    void infoRecordsOnTheStreamAreSkipped() throws Exception {
        server = new ScriptedNetflowServer(ScriptedNetflowServer.OK);
        NetflowInfo info = new NetflowInfo(1, NetflowInfo.OBS_RECV, 1, 2, 3, 4, 5, Endpoint.of("127.0.0.1", 80),
                Endpoint.of("127.0.0.2", 5555), 10, 20, 0);
        byte[] one = NetflowCodec.encode(info);
        byte[] many = new byte[one.length * 50];
        for (int i = 0; i < 50; i++) {
            System.arraycopy(one, 0, many, i * one.length, one.length);
        }
        server.greeting = List.of(many);
        Outcome o = executor(Map.of()).execute("host1", close17(), Long.MAX_VALUE, () -> false);
        assertEquals(ResultStatus.APPLIED, o.status(), o.message());
        assertEquals(1, targets.connection("host1").connects());
    }

    @Test
    void garbageOnTheStreamMakesTheClientReconnect() throws Exception {
        server = new ScriptedNetflowServer(ScriptedNetflowServer.OK);
        RequestExecutor ex = executor(Map.of());
        assertEquals(ResultStatus.APPLIED, ex.execute("host1", close17(), Long.MAX_VALUE, () -> false).status());
        server.sendToClients(new byte[] {(byte) 0xde, (byte) 0xad, 0, 0, 0, 0});
        long end = System.currentTimeMillis() + 5000;
        while (targets.connection("host1").connects() < 2 && System.currentTimeMillis() < end) {
            Thread.sleep(20);
        }
        assertEquals(2, targets.connection("host1").connects(), "reconnected after the bad signature");
        assertTrue(targets.connection("host1").lastError().contains("unknown signature"),
                targets.connection("host1").lastError());
        assertEquals(ResultStatus.APPLIED, ex.execute("host1", close17(), Long.MAX_VALUE, () -> false).status());
    }

    @Test
    void lostConnectionIsReestablishedAndThePendingRequestResent() throws Exception {
        AtomicInteger n = new AtomicInteger();
        server = new ScriptedNetflowServer(r -> n.incrementAndGet() == 1 ? null : FeatureResponse.ok(r.id(), r.val()));
        RequestExecutor ex = executor(Map.of("netflow.request.timeout.ms", "5000"));
        CompletableFuture<Outcome> f = CompletableFuture.supplyAsync(() -> {
            try {
                return ex.execute("host1", close17(), Long.MAX_VALUE, () -> false);
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        assertTrue(server.awaitRequests(1, 5000));
        server.stop(); // mwcomms dies with the request pending
        Thread.sleep(300);
        server.restart();
        Outcome o = f.get(10, TimeUnit.SECONDS);
        assertEquals(ResultStatus.APPLIED, o.status(), o.message());
        assertEquals(2, server.requests().size());
        assertTrue(targets.connection("host1").connects() >= 2);
        assertEquals(0, metrics.resultCount(ResultStatus.TIMED_OUT));
    }

    @Test
    void unreachableHostTimesOutNamingIt() throws Exception {
        server = new ScriptedNetflowServer(ScriptedNetflowServer.OK);
        server.stop();
        Outcome o = executor(Map.of("netflow.unavailable.max.ms", "500")).execute("host1", close17(), Long.MAX_VALUE,
                () -> false);
        assertEquals(ResultStatus.TIMED_OUT, o.status());
        assertTrue(o.message().contains("unreachable"), o.message());
    }

    @Test
    void expiryWhileUnreachableIsSkippedExpired() throws Exception {
        server = new ScriptedNetflowServer(ScriptedNetflowServer.OK);
        server.stop();
        Outcome o = executor(Map.of()).execute("host1", close17(), System.currentTimeMillis() + 300, () -> false);
        assertEquals(ResultStatus.SKIPPED_EXPIRED, o.status(), o.message());
    }

    @Test
    void unknownHostFailsWithEhostunreachUnlessADefaultIsSet() throws Exception {
        server = new ScriptedNetflowServer(ScriptedNetflowServer.OK);
        Outcome o = executor(Map.of()).execute("other", close17(), Long.MAX_VALUE, () -> false);
        assertEquals(ResultStatus.FAILED, o.status());
        assertEquals(RequestExecutor.EHOSTUNREACH, o.errno());
        targets.close();
        Outcome o2 = executor(Map.of("netflow.default.target", server.address())).execute("other", close17(),
                Long.MAX_VALUE, () -> false);
        assertEquals(ResultStatus.APPLIED, o2.status(), o2.message());
    }
}
