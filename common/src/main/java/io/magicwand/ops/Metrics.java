package io.magicwand.ops;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.DoubleSupplier;
import java.util.regex.Pattern;

/**
 * A small, thread-safe metrics registry rendered in the Prometheus text exposition format 0.0.4
 * ({@link #scrape()}, served on {@code GET /metrics} by {@link OpsServer}).
 *
 * <p>Metric families have a name, help text and type; each family holds one time series per label
 * set. Registering the same name again with the same type returns the existing series (so code may
 * call {@code counter(...)} where it needs it); a different type or label names is an error.
 *
 * <pre>{@code
 * Metrics m = new Metrics();
 * Metrics.Counter sent = m.counter("mw_ingest_records_sent_total", "Records written to Kafka");
 * Metrics.Counter bad = m.counter("mw_ingest_errors_total", "Errors by kind", Map.of("kind", "decode"));
 * m.gauge("mw_ingest_clients", "Connected NetFlow clients", () -> clients.size());
 * Metrics.Histogram lat = m.histogram("mw_sink_latency_seconds", "Decision latency", 0.01, 0.1, 1, 10);
 * }</pre>
 */
public final class Metrics {

    /** Content type of {@link #scrape()}. */
    public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private static final Pattern NAME = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
    private static final Pattern LABEL = Pattern.compile("[a-zA-Z_][a-zA-Z0-9_]*");

    private final Map<String, Family> families = Collections.synchronizedMap(new LinkedHashMap<>());

    // ---- series types ----------------------------------------------------------------------

    /** A monotonically increasing count. */
    public static final class Counter {
        private final LongAdder value = new LongAdder();

        public void inc() {
            value.increment();
        }

        /** Adds {@code n >= 0}. */
        public void inc(long n) {
            if (n < 0) {
                throw new IllegalArgumentException("counters only go up, got " + n);
            }
            value.add(n);
        }

        public long get() {
            return value.sum();
        }
    }

    /** A value that goes up and down, set by the application. */
    public static final class Gauge {
        private final AtomicLong bits = new AtomicLong(Double.doubleToLongBits(0));

        public void set(double v) {
            bits.set(Double.doubleToLongBits(v));
        }

        public void add(double d) {
            bits.getAndUpdate(b -> Double.doubleToLongBits(Double.longBitsToDouble(b) + d));
        }

        public void inc() {
            add(1);
        }

        public void dec() {
            add(-1);
        }

        public double get() {
            return Double.longBitsToDouble(bits.get());
        }
    }

    /** Observations counted into cumulative buckets (Prometheus histogram). */
    public static final class Histogram {
        private final double[] bounds;
        private final LongAdder[] buckets;
        private final LongAdder count = new LongAdder();
        private final DoubleAdder sum = new DoubleAdder();

        Histogram(double[] bounds) {
            this.bounds = bounds;
            this.buckets = new LongAdder[bounds.length + 1];
            for (int i = 0; i < buckets.length; i++) {
                buckets[i] = new LongAdder();
            }
        }

        public void observe(double v) {
            int i = 0;
            while (i < bounds.length && v > bounds[i]) {
                i++;
            }
            buckets[i].increment();
            count.increment();
            sum.add(v);
        }

        public long count() {
            return count.sum();
        }

        public double sum() {
            return sum.sum();
        }
    }

    private enum Type {
        COUNTER("counter"), GAUGE("gauge"), HISTOGRAM("histogram");

        final String text;

        Type(String text) {
            this.text = text;
        }
    }

    private static final class Family {
        final String name;
        final String help;
        final Type type;
        final List<String> labelNames;
        final double[] buckets; // histograms only
        /** label values (in labelNames order) -> Counter | Gauge | DoubleSupplier | Histogram */
        final Map<List<String>, Object> series = new ConcurrentHashMap<>();
        final List<List<String>> order = Collections.synchronizedList(new ArrayList<>());

        Family(String name, String help, Type type, List<String> labelNames, double[] buckets) {
            this.name = name;
            this.help = help;
            this.type = type;
            this.labelNames = labelNames;
            this.buckets = buckets;
        }
    }

    // ---- registration ------------------------------------------------------------------------

    /** An unlabelled counter. By convention the name ends in {@code _total}. */
    public Counter counter(String name, String help) {
        return counter(name, help, Map.of());
    }

    /** The counter of one label set of a family (label names must be the same for every call). */
    public Counter counter(String name, String help, Map<String, String> labels) {
        return (Counter) series(name, help, Type.COUNTER, labels, null, Counter::new);
    }

    /** An unlabelled gauge set by the application. */
    public Gauge gauge(String name, String help) {
        return gauge(name, help, Map.of());
    }

    public Gauge gauge(String name, String help, Map<String, String> labels) {
        return (Gauge) series(name, help, Type.GAUGE, labels, null, Gauge::new);
    }

    /** A gauge read from {@code supplier} at every scrape (which must be cheap and thread-safe). */
    public void gauge(String name, String help, DoubleSupplier supplier) {
        gauge(name, help, Map.of(), supplier);
    }

    /** A labelled gauge read from {@code supplier} at every scrape; re-registering replaces the supplier. */
    public void gauge(String name, String help, Map<String, String> labels, DoubleSupplier supplier) {
        Family f = family(name, help, Type.GAUGE, labels, null);
        List<String> key = labelValues(f, labels);
        if (f.series.put(key, supplier) == null) {
            f.order.add(key);
        }
    }

    /** A counter read from {@code supplier} at every scrape (for counts kept elsewhere, e.g. an AtomicLong). */
    public void counterFunction(String name, String help, Map<String, String> labels, DoubleSupplier supplier) {
        Family f = family(name, help, Type.COUNTER, labels, null);
        List<String> key = labelValues(f, labels);
        if (f.series.put(key, supplier) == null) {
            f.order.add(key);
        }
    }

    /** A histogram with the given upper bucket bounds (ascending; +Inf is implicit). */
    public Histogram histogram(String name, String help, double... buckets) {
        return histogram(name, help, Map.of(), buckets);
    }

    public Histogram histogram(String name, String help, Map<String, String> labels, double... buckets) {
        double[] b = buckets.clone();
        if (b.length == 0) {
            throw new IllegalArgumentException("histogram " + name + " needs at least one bucket bound");
        }
        for (int i = 1; i < b.length; i++) {
            if (!(b[i] > b[i - 1])) {
                throw new IllegalArgumentException("histogram " + name + " bucket bounds must be strictly ascending: " + Arrays.toString(b));
            }
        }
        return (Histogram) series(name, help, Type.HISTOGRAM, labels, b, () -> new Histogram(b));
    }

    /** Adds process/JVM gauges: uptime, heap use, thread count. Idempotent. */
    public Metrics registerJvmMetrics() {
        MemoryMXBean mem = ManagementFactory.getMemoryMXBean();
        long start = ManagementFactory.getRuntimeMXBean().getStartTime();
        gauge("process_start_time_seconds", "Start time of the process since the Unix epoch in seconds", () -> start / 1000.0);
        gauge("jvm_memory_heap_used_bytes", "Used heap memory", () -> mem.getHeapMemoryUsage().getUsed());
        gauge("jvm_memory_heap_max_bytes", "Maximum heap memory (-1 if undefined)", () -> mem.getHeapMemoryUsage().getMax());
        gauge("jvm_threads_live", "Live JVM threads", () -> ManagementFactory.getThreadMXBean().getThreadCount());
        return this;
    }

    private Object series(String name, String help, Type type, Map<String, String> labels, double[] buckets,
                          java.util.function.Supplier<Object> create) {
        Family f = family(name, help, type, labels, buckets);
        List<String> key = labelValues(f, labels);
        Object[] created = new Object[1];
        Object s = f.series.computeIfAbsent(key, k -> created[0] = create.get());
        if (s == created[0]) {
            f.order.add(key);
        }
        if (type == Type.COUNTER && !(s instanceof Counter) || type == Type.GAUGE && !(s instanceof Gauge)) {
            throw new IllegalArgumentException("metric " + name + labels + " is registered as a function");
        }
        return s;
    }

    private Family family(String name, String help, Type type, Map<String, String> labels, double[] buckets) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("bad metric name: " + name);
        }
        List<String> names = new ArrayList<>(new TreeMap<>(labels).keySet());
        for (String l : names) {
            if (!LABEL.matcher(l).matches() || l.startsWith("__") || (type == Type.HISTOGRAM && l.equals("le"))) {
                throw new IllegalArgumentException("bad label name '" + l + "' for metric " + name);
            }
        }
        synchronized (families) {
            Family f = families.get(name);
            if (f == null) {
                f = new Family(name, help == null ? "" : help, type, List.copyOf(names), buckets);
                families.put(name, f);
                return f;
            }
            if (f.type != type) {
                throw new IllegalArgumentException("metric " + name + " is already a " + f.type.text + ", not a " + type.text);
            }
            if (!f.labelNames.equals(names)) {
                throw new IllegalArgumentException("metric " + name + " has labels " + f.labelNames + ", not " + names);
            }
            if (type == Type.HISTOGRAM && !Arrays.equals(f.buckets, buckets)) {
                throw new IllegalArgumentException("histogram " + name + " already has buckets " + Arrays.toString(f.buckets));
            }
            return f;
        }
    }

    private static List<String> labelValues(Family f, Map<String, String> labels) {
        List<String> v = new ArrayList<>(f.labelNames.size());
        for (String n : f.labelNames) {
            String x = labels.get(n);
            if (x == null) {
                throw new IllegalArgumentException("label " + n + " of metric " + f.name + " has no value");
            }
            v.add(x);
        }
        return List.copyOf(v);
    }

    // ---- exposition --------------------------------------------------------------------------

    /** The current values in the Prometheus text format 0.0.4. */
    public String scrape() {
        List<Family> fs;
        synchronized (families) {
            fs = new ArrayList<>(families.values());
        }
        StringBuilder sb = new StringBuilder(256 * fs.size());
        for (Family f : fs) {
            sb.append("# HELP ").append(f.name).append(' ').append(escapeHelp(f.help)).append('\n');
            sb.append("# TYPE ").append(f.name).append(' ').append(f.type.text).append('\n');
            List<List<String>> keys;
            synchronized (f.order) {
                keys = new ArrayList<>(f.order);
            }
            for (List<String> key : keys) {
                Object s = f.series.get(key);
                String labels = labelText(f.labelNames, key, null);
                if (s instanceof Counter c) {
                    sample(sb, f.name, labels, c.get());
                } else if (s instanceof Gauge g) {
                    sample(sb, f.name, labels, g.get());
                } else if (s instanceof DoubleSupplier d) {
                    double v;
                    try {
                        v = d.getAsDouble();
                    } catch (RuntimeException e) {
                        v = Double.NaN; // a failing supplier must not break the whole scrape
                    }
                    sample(sb, f.name, labels, v);
                } else if (s instanceof Histogram h) {
                    long cumulative = 0;
                    for (int i = 0; i <= h.bounds.length; i++) {
                        cumulative += h.buckets[i].sum();
                        String le = i < h.bounds.length ? number(h.bounds[i]) : "+Inf";
                        sample(sb, f.name + "_bucket", labelText(f.labelNames, key, le), cumulative);
                    }
                    sample(sb, f.name + "_sum", labels, h.sum());
                    sample(sb, f.name + "_count", labels, cumulative);
                }
            }
        }
        return sb.toString();
    }

    private static void sample(StringBuilder sb, String name, String labels, double v) {
        sb.append(name).append(labels).append(' ').append(number(v)).append('\n');
    }

    private static void sample(StringBuilder sb, String name, String labels, long v) {
        sb.append(name).append(labels).append(' ').append(v).append('\n');
    }

    static String number(double v) {
        if (Double.isNaN(v)) {
            return "NaN";
        }
        if (Double.isInfinite(v)) {
            return v > 0 ? "+Inf" : "-Inf";
        }
        if (v == Math.rint(v) && Math.abs(v) < 1e15) {
            return Long.toString((long) v);
        }
        return Double.toString(v);
    }

    private static String labelText(List<String> names, List<String> values, String le) {
        if (names.isEmpty() && le == null) {
            return "";
        }
        StringBuilder sb = new StringBuilder("{");
        for (int i = 0; i < names.size(); i++) {
            if (i > 0) {
                sb.append(',');
            }
            sb.append(names.get(i)).append("=\"").append(escapeLabel(values.get(i))).append('"');
        }
        if (le != null) {
            if (!names.isEmpty()) {
                sb.append(',');
            }
            sb.append("le=\"").append(le).append('"');
        }
        return sb.append('}').toString();
    }

    static String escapeHelp(String s) {
        return s.replace("\\", "\\\\").replace("\n", "\\n");
    }

    static String escapeLabel(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }
}
