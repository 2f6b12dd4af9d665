package io.magicwand.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class MetricsTest {

    @Test
    void exposition() {
        Metrics m = new Metrics();
        Metrics.Counter sent = m.counter("mw_sent_total", "Records sent");
        sent.inc();
        sent.inc(41);
        m.counter("mw_errors_total", "Errors by kind", Map.of("kind", "decode")).inc();
        m.counter("mw_errors_total", "Errors by kind", Map.of("kind", "kafka \"x\"\n\\")).inc(2);
        Metrics.Gauge g = m.gauge("mw_clients", "Connected clients\nper source \\ all");
        g.set(3);
        g.inc();
        g.dec();
        g.add(0.5);
        AtomicLong lag = new AtomicLong(7);
        m.gauge("mw_lag", "Lag", Map.of("topic", "t", "partition", "0"), lag::get);
        Metrics.Histogram h = m.histogram("mw_latency_seconds", "Latency", 0.1, 1, 10);
        h.observe(0.05);
        h.observe(0.1);
        h.observe(5);
        h.observe(100);
        m.gauge("mw_broken", "Broken supplier", () -> {
            throw new IllegalStateException("boom");
        });

        String expected = String.join("\n",
                "# HELP mw_sent_total Records sent",
                "# TYPE mw_sent_total counter",
                "mw_sent_total 42",
                "# HELP mw_errors_total Errors by kind",
                "# TYPE mw_errors_total counter",
                "mw_errors_total{kind=\"decode\"} 1",
                "mw_errors_total{kind=\"kafka \\\"x\\\"\\n\\\\\"} 2",
                "# HELP mw_clients Connected clients\\nper source \\\\ all",
                "# TYPE mw_clients gauge",
                "mw_clients 3.5",
                "# HELP mw_lag Lag",
                "# TYPE mw_lag gauge",
                "mw_lag{partition=\"0\",topic=\"t\"} 7",
                "# HELP mw_latency_seconds Latency",
                "# TYPE mw_latency_seconds histogram",
                "mw_latency_seconds_bucket{le=\"0.1\"} 2",
                "mw_latency_seconds_bucket{le=\"1\"} 2",
                "mw_latency_seconds_bucket{le=\"10\"} 3",
                "mw_latency_seconds_bucket{le=\"+Inf\"} 4",
                "mw_latency_seconds_sum 105.15",
                "mw_latency_seconds_count 4",
                "# HELP mw_broken Broken supplier",
                "# TYPE mw_broken gauge",
                "mw_broken NaN",
                "");
        assertEquals(expected, m.scrape());
        lag.set(9);
        assertTrue(m.scrape().contains("mw_lag{partition=\"0\",topic=\"t\"} 9\n"));
    }

    @Test
    void reRegistrationReturnsTheSameSeriesAndConflictsAreRejected() {
        Metrics m = new Metrics();
        Metrics.Counter a = m.counter("x_total", "x", Map.of("k", "1"));
        assertSame(a, m.counter("x_total", "x", Map.of("k", "1")));
        assertThrows(IllegalArgumentException.class, () -> m.gauge("x_total", "x", Map.of("k", "1")));
        assertThrows(IllegalArgumentException.class, () -> m.counter("x_total", "x"));
        assertThrows(IllegalArgumentException.class, () -> m.counter("bad name", "x"));
        assertThrows(IllegalArgumentException.class, () -> m.counter("y_total", "y", Map.of("__bad", "v")));
        assertThrows(IllegalArgumentException.class, () -> m.histogram("h", "h", 2, 1));
        assertThrows(IllegalArgumentException.class, () -> m.histogram("h2", "h", Map.of("le", "x"), 1));
        assertThrows(IllegalArgumentException.class, () -> a.inc(-1));
        m.histogram("h3", "h", 1, 2);
        assertThrows(IllegalArgumentException.class, () -> m.histogram("h3", "h", 1, 3));
    }

    @Test
    void countersAreThreadSafe() throws Exception {
        Metrics m = new Metrics();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            threads.add(new Thread(() -> {
                for (int i = 0; i < 10_000; i++) {
                    m.counter("c_total", "c", Map.of("t", Integer.toString(i % 3))).inc();
                    m.gauge("g", "g").add(1);
                }
            }));
        }
        threads.forEach(Thread::start);
        for (Thread t : threads) {
            t.join();
        }
        long total = 0;
        for (int k = 0; k < 3; k++) {
            total += m.counter("c_total", "c", Map.of("t", Integer.toString(k))).get();
        }
        assertEquals(40_000, total);
        assertEquals(40_000.0, m.gauge("g", "g").get());
        String s = m.scrape();
        assertEquals(1, s.split("# TYPE c_total counter", -1).length - 1);
    }

    @Test
    void numberFormat() {
        assertEquals("1", Metrics.number(1.0));
        assertEquals("-2", Metrics.number(-2));
        assertEquals("0.25", Metrics.number(0.25));
        assertEquals("+Inf", Metrics.number(Double.POSITIVE_INFINITY));
        assertEquals("-Inf", Metrics.number(Double.NEGATIVE_INFINITY));
        assertEquals("NaN", Metrics.number(Double.NaN));
        assertEquals("1.0E20", Metrics.number(1e20));
    }

    @Test
    void jvmMetrics() {
        String s = new Metrics().registerJvmMetrics().registerJvmMetrics().scrape();
        assertTrue(s.contains("# TYPE jvm_memory_heap_used_bytes gauge\njvm_memory_heap_used_bytes "), s);
        assertTrue(s.contains("process_start_time_seconds "), s);
    }
}
