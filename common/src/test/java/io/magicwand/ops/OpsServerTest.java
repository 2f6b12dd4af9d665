package io.magicwand.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

class OpsServerTest {

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @Test
    void healthFollowsTheCheckAndMetricsServeTheRegistry() throws Exception {
        Metrics metrics = new Metrics();
        metrics.counter("mw_test_total", "A test counter").inc(5);
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("kafka", "127.0.0.1:9092");
        details.put("clients", 2);
        details.put("lag", List.of(1, 2.5));
        details.put("nothing", null);
        AtomicReference<Supplier<Health>> check = new AtomicReference<>(() -> Health.up(details));
        try (OpsServer ops = OpsServer.start(0, metrics, () -> check.get().get())) {
            assertTrue(ops.port() > 0);
            assertEquals("http://127.0.0.1:" + ops.port(), ops.url());

            HttpResponse<String> r = get(ops, "/health");
            assertEquals(200, r.statusCode());
            assertEquals("application/json", r.headers().firstValue("content-type").orElse(""));
            assertEquals("{\"status\":\"UP\",\"clients\":2,\"kafka\":\"127.0.0.1:9092\",\"lag\":[1,2.5],\"nothing\":null}\n", r.body());

            check.set(() -> Health.down("Kafka \"unreachable\"\nretrying", Map.of("status", "ignored", "attempts", 3)));
            r = get(ops, "/health");
            assertEquals(503, r.statusCode());
            assertEquals("{\"status\":\"DOWN\",\"reason\":\"Kafka \\\"unreachable\\\"\\nretrying\",\"attempts\":3}\n", r.body());

            check.set(() -> {
                throw new IllegalStateException("probe exploded");
            });
            r = get(ops, "/health");
            assertEquals(503, r.statusCode());
            assertTrue(r.body().startsWith("{\"status\":\"DOWN\",\"reason\":\"health check failed: java.lang.IllegalStateException: probe exploded\""), r.body());

            r = get(ops, "/metrics");
            assertEquals(200, r.statusCode());
            assertEquals(Metrics.CONTENT_TYPE, r.headers().firstValue("content-type").orElse(""));
            assertTrue(r.body().contains("# TYPE mw_test_total counter\nmw_test_total 5\n"), r.body());
            metrics.counter("mw_test_total", "A test counter").inc();
            assertTrue(get(ops, "/metrics").body().contains("mw_test_total 6\n"));

            assertEquals(404, get(ops, "/").statusCode());
            assertEquals(404, get(ops, "/healthz").statusCode());
            assertEquals(404, get(ops, "/metrics/x").statusCode());
            HttpResponse<String> post = http.send(HttpRequest.newBuilder(URI.create(ops.url() + "/health"))
                    .POST(HttpRequest.BodyPublishers.ofString("x")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(405, post.statusCode());
            assertEquals("GET, HEAD", post.headers().firstValue("allow").orElse(""));
        }
    }

    @Test
    void closeReleasesThePort() throws Exception {
        OpsServer ops = OpsServer.start(0, new Metrics(), Health::up);
        int port = ops.port();
        assertEquals(200, get(ops, "/health").statusCode());
        ops.close();
        assertThrows(IOException.class, () -> http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health"))
                .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString()));
        // The port can be bound again by a new server.
        try (OpsServer again = OpsServer.start(port, new Metrics(), Health::up)) {
            assertEquals(port, again.port());
        }
    }

    @Test
    void portInUseGivesAClearError() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
            IOException e = assertThrows(IOException.class,
                    () -> OpsServer.start(taken.getLocalPort(), new Metrics(), Health::up));
            assertTrue(e.getMessage().startsWith("cannot bind the ops HTTP endpoint to 127.0.0.1:" + taken.getLocalPort()), e.getMessage());
        }
    }

    @Test
    void jsonWriter() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("a", Arrays.asList(true, null, "\u0001\t\\"));
        m.put("b", Map.of("c", -1L));
        m.put("d", Double.NaN);
        m.put("e", 0.5f);
        assertEquals("{\"a\":[true,null,\"\\u0001\\t\\\\\"],\"b\":{\"c\":-1},\"d\":null,\"e\":0.5}", OpsServer.Json.write(m));
    }

    private HttpResponse<String> get(OpsServer ops, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(ops.url() + path)).timeout(Duration.ofSeconds(10)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
