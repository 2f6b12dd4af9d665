package io.magicwand.ops;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Collection;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operations endpoint of a service (JDK {@code HttpServer}, loopback by default):
 * <ul>
 *   <li>{@code GET /health}: 200 {@code {"status":"UP",...details}} or 503
 *       {@code {"status":"DOWN","reason":"...",...details}} from the supplied check; a check that
 *       throws counts as DOWN with the exception as reason.</li>
 *   <li>{@code GET /metrics}: {@link Metrics#scrape()} as Prometheus text 0.0.4.</li>
 * </ul>
 *
 * <pre>{@code
 * try (OpsServer ops = OpsServer.start(cfg.getInt("ops.port"), metrics, () -> kafkaOk ? Health.healthy() : Health.down("Kafka unreachable"))) {
 *     ...
 * }
 * }</pre>
 */
public final class OpsServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(OpsServer.class);
    private static final AtomicInteger THREADS = new AtomicInteger();

    private final HttpServer server;
    private final ExecutorService executor;
    private final Metrics metrics;
    private final Supplier<Health> health;

    private OpsServer(HttpServer server, ExecutorService executor, Metrics metrics, Supplier<Health> health) {
        this.server = server;
        this.executor = executor;
        this.metrics = metrics;
        this.health = health;
    }

    /** Starts on 127.0.0.1:{@code port} ({@code 0} = an ephemeral port, see {@link #port()}). */
    public static OpsServer start(int port, Metrics metrics, Supplier<Health> health) throws IOException {
        return start("127.0.0.1", port, metrics, health);
    }

    /**
     * Starts on {@code host:port}.
     *
     * @throws IOException when the port cannot be bound (the message names the address)
     */
    public static OpsServer start(String host, int port, Metrics metrics, Supplier<Health> health) throws IOException {
        InetSocketAddress addr = new InetSocketAddress(InetAddress.getByName(host), port);
        HttpServer http;
        try {
            http = HttpServer.create(addr, 16);
        } catch (IOException e) {
            throw new IOException("cannot bind the ops HTTP endpoint to " + host + ":" + port + ": " + e.getMessage()
                    + " (is another instance running? choose another port)", e);
        }
        ExecutorService ex = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "mw-ops-http-" + THREADS.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        OpsServer ops = new OpsServer(http, ex, metrics, health);
        http.createContext("/health", ops::handleHealth);
        http.createContext("/metrics", ops::handleMetrics);
        http.createContext("/", ops::handleOther);
        http.setExecutor(ex);
        http.start();
        log.info("ops endpoint on http://{}:{}/health and /metrics", host, ops.port());
        return ops;
    }

    /** The bound port. */
    public int port() {
        return server.getAddress().getPort();
    }

    /** Base URL, e.g. {@code http://127.0.0.1:18091}. */
    public String url() {
        InetSocketAddress a = server.getAddress();
        String h = a.getAddress().getHostAddress();
        return "http://" + (h.contains(":") ? "[" + h + "]" : h) + ":" + a.getPort();
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
        try {
            executor.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void handleHealth(HttpExchange ex) throws IOException {
        if (!allowGet(ex) || !exactPath(ex, "/health")) {
            return;
        }
        Health h;
        try {
            h = health.get();
            if (h == null) {
                h = Health.down("health check returned nothing");
            }
        } catch (RuntimeException e) {
            log.warn("health check failed: {}", e.toString());
            h = Health.down("health check failed: " + e);
        }
        Map<String, Object> body = new java.util.LinkedHashMap<>();
        body.put("status", h.healthy() ? "UP" : "DOWN");
        if (!h.healthy()) {
            body.put("reason", h.reason());
        }
        new TreeMap<>(h.details()).forEach(body::putIfAbsent);
        send(ex, h.healthy() ? 200 : 503, "application/json", Json.write(body) + "\n");
    }

    private void handleMetrics(HttpExchange ex) throws IOException {
        if (!allowGet(ex) || !exactPath(ex, "/metrics")) {
            return;
        }
        String text;
        try {
            text = metrics.scrape();
        } catch (RuntimeException e) {
            log.warn("metrics scrape failed: {}", e.toString());
            send(ex, 500, "text/plain; charset=utf-8", "metrics scrape failed: " + e + "\n");
            return;
        }
        send(ex, 200, Metrics.CONTENT_TYPE, text);
    }

    private void handleOther(HttpExchange ex) throws IOException {
        send(ex, 404, "text/plain; charset=utf-8", "not found; try /health or /metrics\n");
    }

    private static boolean allowGet(HttpExchange ex) throws IOException {
        String m = ex.getRequestMethod();
        if (m.equals("GET") || m.equals("HEAD")) {
            return true;
        }
        ex.getResponseHeaders().set("Allow", "GET, HEAD");
        send(ex, 405, "text/plain; charset=utf-8", "method " + m + " not allowed\n");
        return false;
    }

    private static boolean exactPath(HttpExchange ex, String path) throws IOException {
        String p = ex.getRequestURI().getPath();
        if (p.equals(path) || p.equals(path + "/")) {
            return true;
        }
        send(ex, 404, "text/plain; charset=utf-8", "not found; try /health or /metrics\n");
        return false;
    }

    private static void send(HttpExchange ex, int status, String type, String body) throws IOException {
        try (ex) {
            byte[] b = body.getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", type);
            ex.getResponseHeaders().set("Cache-Control", "no-store");
            if (ex.getRequestMethod().equals("HEAD")) {
                ex.sendResponseHeaders(status, -1);
                return;
            }
            ex.sendResponseHeaders(status, b.length);
            try (OutputStream os = ex.getResponseBody()) {
                os.write(b);
            }
        }
    }

    /** Minimal JSON writer for the health body. */
    static final class Json {
        private Json() {}

        static String write(Object v) {
            StringBuilder sb = new StringBuilder();
            write(sb, v);
            return sb.toString();
        }

        private static void write(StringBuilder sb, Object v) {
            if (v == null) {
                sb.append("null");
            } else if (v instanceof Boolean || v instanceof Integer || v instanceof Long || v instanceof Short
                    || v instanceof Byte || v instanceof java.math.BigInteger) {
                sb.append(v);
            } else if (v instanceof Number n) {
                double d = n.doubleValue();
                sb.append(Double.isFinite(d) ? Metrics.number(d) : "null");
            } else if (v instanceof Map<?, ?> m) {
                sb.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    if (!first) {
                        sb.append(',');
                    }
                    first = false;
                    string(sb, String.valueOf(e.getKey()));
                    sb.append(':');
                    write(sb, e.getValue());
                }
                sb.append('}');
            } else if (v instanceof Collection<?> c) {
                sb.append('[');
                boolean first = true;
                for (Object o : c) {
                    if (!first) {
                        sb.append(',');
                    }
                    first = false;
                    write(sb, o);
                }
                sb.append(']');
            } else {
                string(sb, v.toString());
            }
        }

        private static void string(StringBuilder sb, String s) {
            sb.append('"');
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                switch (c) {
                    case '"' -> sb.append("\\\"");
                    case '\\' -> sb.append("\\\\");
                    case '\n' -> sb.append("\\n");
                    case '\r' -> sb.append("\\r");
                    case '\t' -> sb.append("\\t");
                    default -> {
                        if (c < 0x20) {
                            sb.append(String.format("\\u%04x", (int) c));
                        } else {
                            sb.append(c);
                        }
                    }
                }
            }
            sb.append('"');
        }
    }
}
