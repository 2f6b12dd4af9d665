package io.magicwand.streams.internal;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Named monotonic counters a topology bumps while it runs (records processed, punctuations,
 * decisions by kind, dead-lettered records...). Thread-safe; the app exports a snapshot on /metrics.
 * Names are Prometheus-style with optional labels, e.g. {@code mw_decisions_total{kind="slowloris"}}.
 */
public final class Counters {
    private final Map<String, LongAdder> counters = new ConcurrentHashMap<>();

    public void inc(String name) {
        add(name, 1);
    }

    public void add(String name, long n) {
        counters.computeIfAbsent(name, k -> new LongAdder()).add(n);
    }

    public long get(String name) {
        LongAdder a = counters.get(name);
        return a == null ? 0 : a.sum();
    }

    public Map<String, Long> snapshot() {
        Map<String, Long> out = new TreeMap<>();
        counters.forEach((k, v) -> out.put(k, v.sum()));
        return out;
    }
}
