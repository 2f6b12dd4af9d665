package io.magicwand.streams.internal;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.kafka.common.config.ConfigException;

/**
 * Typed view of string settings with documented defaults. Every key a service knows is declared
 * with its default and description (so {@code --help} and the docs list the same thing); an unknown
 * key (other than the {@code kafka.} pass-through) or a value that does not parse is a
 * {@link ConfigException} naming the key, the value and what was expected.
 */
public class Settings {
    /** One declared setting. */
    public record Key(String name, String dflt, String doc) {
    }

    private final Map<String, Key> declared = new LinkedHashMap<>();
    private final Map<String, String> values;

    protected Settings(Map<String, String> values) {
        this.values = new TreeMap<>(values == null ? Map.of() : values);
    }

    protected final Key declare(String name, Object dflt, String doc) {
        Key k = new Key(name, String.valueOf(dflt), doc);
        declared.put(name, k);
        return k;
    }

    /** Fails on keys nobody declared (typos would otherwise silently use the default). */
    protected final void rejectUnknown() {
        for (String k : values.keySet()) {
            if (!declared.containsKey(k) && !k.startsWith("kafka.")) {
                throw new ConfigException("unknown setting '" + k + "'; known settings: " + String.join(", ", declared.keySet())
                        + " (Kafka client/Streams properties go as kafka.<property>)");
            }
        }
    }

    public final List<Key> declaredKeys() {
        return Collections.unmodifiableList(new ArrayList<>(declared.values()));
    }

    public final String string(Key k) {
        String v = values.get(k.name());
        return v == null ? k.dflt() : v.trim();
    }

    public final long longValue(Key k, long min) {
        String s = string(k);
        long v;
        try {
            v = Long.parseLong(s);
        } catch (NumberFormatException e) {
            throw new ConfigException(k.name(), s, "expected an integer (" + k.doc() + ")");
        }
        if (v < min) {
            throw new ConfigException(k.name(), s, "must be at least " + min);
        }
        return v;
    }

    public final int intValue(Key k, int min) {
        long v = longValue(k, min);
        if (v > Integer.MAX_VALUE) {
            throw new ConfigException(k.name(), v, "too large");
        }
        return (int) v;
    }

    public final double doubleValue(Key k, double min) {
        String s = string(k);
        double v;
        try {
            v = Double.parseDouble(s);
        } catch (NumberFormatException e) {
            throw new ConfigException(k.name(), s, "expected a number (" + k.doc() + ")");
        }
        if (!(v >= min) || Double.isInfinite(v)) {
            throw new ConfigException(k.name(), s, "must be a finite number >= " + min);
        }
        return v;
    }

    public final List<Long> longList(Key k) {
        String s = string(k);
        List<Long> out = new ArrayList<>();
        if (s.isEmpty()) {
            return out;
        }
        for (String part : s.split(",")) {
            try {
                long v = Long.parseLong(part.trim());
                if (v < 0) {
                    throw new NumberFormatException();
                }
                out.add(v);
            } catch (NumberFormatException e) {
                throw new ConfigException(k.name(), s, "expected a comma-separated list of non-negative integers");
            }
        }
        Collections.sort(out);
        return out;
    }

    /** Properties under {@code kafka.} with the prefix removed: passed to the Streams/client config. */
    public final Map<String, String> kafkaProperties() {
        Map<String, String> out = new TreeMap<>();
        values.forEach((k, v) -> {
            if (k.startsWith("kafka.")) {
                out.put(k.substring("kafka.".length()), v);
            }
        });
        return out;
    }

    /** The raw values as given. */
    public final Map<String, String> raw() {
        return Collections.unmodifiableMap(values);
    }
}
