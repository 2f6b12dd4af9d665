package io.magicwand.config;

import java.io.IOException;
import java.io.PrintStream;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeMap;

/**
 * The parsed configuration of a service: a flat set of string keys built from, in increasing
 * precedence, the declared defaults, {@code --config FILE} (java.util.Properties; several allowed,
 * later files win) and the other command-line options in the order given.
 *
 * <p>Every service understands:
 * <pre>
 *   --config FILE              properties file
 *   --set KEY=VALUE            set any key (repeatable)
 *   --bootstrap-servers HOSTS  Kafka bootstrap servers (key kafka.bootstrap.servers)
 *   --registry URL             schema registry URL (key schema.registry.url)
 *   --help, -h                 print the help text
 * </pre>
 * plus the options it declares with {@link Spec#option} / {@link Spec#flag}. Keys starting with
 * {@code kafka.} are Kafka client properties passed through unchanged (prefix stripped) by
 * {@link #kafkaProperties()}; e.g. {@code --set kafka.security.protocol=SSL}.
 *
 * <pre>{@code
 * CliConfig cfg = CliConfig.spec("mw-netflow-ingest", "Reads NetFlow and writes socket events to Kafka.")
 *         .option("netflow", "netflow.address", "HOST:PORT", "NetFlow server to read", "127.0.0.1:2055")
 *         .intOption("ops-port", "ops.port", "PORT", "port of /health and /metrics", 18091)
 *         .parseOrExit(args);
 * int opsPort = cfg.getInt("ops.port");
 * }</pre>
 */
public final class CliConfig {

    /** Key set by {@code --bootstrap-servers}; passed to Kafka clients as {@code bootstrap.servers}. */
    public static final String BOOTSTRAP_SERVERS = "kafka.bootstrap.servers";
    /** Key set by {@code --registry}; the serde's {@code schema.registry.url}. */
    public static final String REGISTRY_URL = "schema.registry.url";
    /** Prefix of the Kafka client properties passed through to producers, consumers, admin and Streams. */
    public static final String KAFKA_PREFIX = "kafka.";

    private final Spec spec;
    private final Map<String, String> values;
    private final Map<String, String> sources;
    private final List<String> positionals;
    private final boolean helpRequested;

    private CliConfig(Spec spec, Map<String, String> values, Map<String, String> sources, List<String> positionals,
                      boolean helpRequested) {
        this.spec = spec;
        this.values = Collections.unmodifiableMap(values);
        this.sources = sources;
        this.positionals = List.copyOf(positionals);
        this.helpRequested = helpRequested;
    }

    /** Starts the option declaration of a program. */
    public static Spec spec(String program, String description) {
        return new Spec(program, description);
    }

    // ---- lookups ---------------------------------------------------------------------------

    /** True when {@code --help}/{@code -h} was given; the caller prints {@link #helpText()} and exits 0. */
    public boolean helpRequested() {
        return helpRequested;
    }

    /** The generated help text (usage line, description, every option with its help and default). */
    public String helpText() {
        return spec.helpText();
    }

    /** Non-option arguments, when the spec allows them. */
    public List<String> positionals() {
        return positionals;
    }

    /** The value of a key, if set anywhere (default, file or command line). */
    public Optional<String> find(String key) {
        return Optional.ofNullable(values.get(key));
    }

    /** The value of a key, or {@code fallback}. */
    public String get(String key, String fallback) {
        return values.getOrDefault(key, fallback);
    }

    /**
     * The value of a key.
     *
     * @throws ConfigException naming the key (and the option that sets it) when it is unset
     */
    public String get(String key) {
        String v = values.get(key);
        if (v == null) {
            Option o = spec.byKey(key);
            throw new ConfigException("missing required setting " + key
                    + (o != null ? " (give --" + o.name + " " + o.valueName + ")" : " (give --set " + key + "=VALUE)"));
        }
        return v;
    }

    public boolean has(String key) {
        return values.containsKey(key);
    }

    /** The value as an int; a bad number fails naming the option or file it came from. */
    public int getInt(String key) {
        long v = getLong(key);
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
            throw bad(key, "an integer in int range");
        }
        return (int) v;
    }

    public int getInt(String key, int fallback) {
        return has(key) ? getInt(key) : fallback;
    }

    public long getLong(String key) {
        String v = get(key).strip();
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw bad(key, "an integer");
        }
    }

    public long getLong(String key, long fallback) {
        return has(key) ? getLong(key) : fallback;
    }

    public double getDouble(String key) {
        String v = get(key).strip();
        try {
            double d = Double.parseDouble(v);
            if (Double.isFinite(d)) {
                return d;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw bad(key, "a number");
    }

    /** true/false, yes/no, on/off, 1/0 (case-insensitive). */
    public boolean getBoolean(String key) {
        String v = get(key).strip().toLowerCase(Locale.ROOT);
        return switch (v) {
            case "true", "yes", "on", "1" -> true;
            case "false", "no", "off", "0" -> false;
            default -> throw bad(key, "true or false");
        };
    }

    public boolean getBoolean(String key, boolean fallback) {
        return has(key) ? getBoolean(key) : fallback;
    }

    /**
     * A duration: a number with a unit ({@code 250ms}, {@code 5s}, {@code 2m}, {@code 1h}) or an ISO-8601
     * duration ({@code PT5S}); a bare number is milliseconds.
     */
    public Duration getDuration(String key) {
        String v = get(key).strip();
        try {
            if (v.startsWith("P") || v.startsWith("p")) {
                return Duration.parse(v);
            }
            int i = 0;
            while (i < v.length() && Character.isDigit(v.charAt(i))) {
                i++;
            }
            if (i == 0) {
                throw bad(key, "a duration such as 500ms, 5s, 2m, 1h");
            }
            long n = Long.parseLong(v.substring(0, i));
            return switch (v.substring(i).strip().toLowerCase(Locale.ROOT)) {
                case "", "ms" -> Duration.ofMillis(n);
                case "s" -> Duration.ofSeconds(n);
                case "m", "min" -> Duration.ofMinutes(n);
                case "h" -> Duration.ofHours(n);
                default -> throw bad(key, "a duration such as 500ms, 5s, 2m, 1h");
            };
        } catch (NumberFormatException | java.time.format.DateTimeParseException e) {
            throw bad(key, "a duration such as 500ms, 5s, 2m, 1h");
        }
    }

    public Duration getDuration(String key, Duration fallback) {
        return has(key) ? getDuration(key) : fallback;
    }

    /** Comma-separated list, entries trimmed, empty entries dropped. */
    public List<String> getList(String key) {
        List<String> out = new ArrayList<>();
        for (String s : get(key).split(",")) {
            if (!s.isBlank()) {
                out.add(s.strip());
            }
        }
        return out;
    }

    /** The Kafka bootstrap servers ({@code --bootstrap-servers} or {@code kafka.bootstrap.servers}). */
    public String bootstrapServers() {
        return get(BOOTSTRAP_SERVERS);
    }

    /** The schema registry URL ({@code --registry} or {@code schema.registry.url}). */
    public String registryUrl() {
        return get(REGISTRY_URL);
    }

    /** Where a key's value came from ("--ops-port", "--set", "config file x.properties", "default"), or null. */
    public String sourceOf(String key) {
        return sources.get(key);
    }

    /** All keys and values (read-only). */
    public Map<String, String> asMap() {
        return values;
    }

    /** Keys starting with {@code prefix}, prefix stripped, sorted. */
    public Map<String, String> withPrefix(String prefix) {
        Map<String, String> out = new TreeMap<>();
        values.forEach((k, v) -> {
            if (k.startsWith(prefix) && k.length() > prefix.length()) {
                out.put(k.substring(prefix.length()), v);
            }
        });
        return out;
    }

    /**
     * The Kafka client properties: every {@code kafka.*} key with the prefix stripped
     * ({@code kafka.bootstrap.servers} -> {@code bootstrap.servers}), for producers, consumers, admin
     * clients and Kafka Streams. Services add their own settings on top.
     */
    public Properties kafkaProperties() {
        Properties p = new Properties();
        p.putAll(withPrefix(KAFKA_PREFIX));
        return p;
    }

    /** {@link #kafkaProperties()} as a map, e.g. for serde {@code configure(...)}. */
    public Map<String, Object> kafkaConfig() {
        return new LinkedHashMap<>(withPrefix(KAFKA_PREFIX));
    }

    /**
     * One line per key, sorted, for a startup log line; values of keys that look secret
     * (password, secret, jaas, token, key material) are masked.
     */
    public String describe() {
        StringBuilder sb = new StringBuilder();
        new TreeMap<>(values).forEach((k, v) -> {
            String lk = k.toLowerCase(Locale.ROOT);
            boolean secret = lk.contains("password") || lk.contains("secret") || lk.contains("jaas")
                    || lk.contains("token") || lk.endsWith(".key") || lk.contains("credential");
            sb.append(k).append('=').append(secret ? "******" : v).append(" (").append(sources.get(k)).append(")\n");
        });
        return sb.toString();
    }

    private ConfigException bad(String key, String expected) {
        String src = sources.get(key);
        String where = src == null ? key : src.startsWith("--") && !src.equals("--set") ? src : key + " (from " + src + ")";
        return new ConfigException("bad value for " + where + ": '" + values.get(key) + "', expected " + expected);
    }

    // ---- declaration -------------------------------------------------------------------------

    /** Option types checked while parsing, so a bad number is reported with the option name up front. */
    public enum Type { STRING, INT, LONG, BOOLEAN, DURATION }

    private static final class Option {
        final String name;
        final String key;
        final String valueName; // null for a flag
        final String help;
        final String defaultValue;
        final Type type;

        Option(String name, String key, String valueName, String help, String defaultValue, Type type) {
            this.name = name;
            this.key = key;
            this.valueName = valueName;
            this.help = help;
            this.defaultValue = defaultValue;
            this.type = type;
        }

        boolean isFlag() {
            return valueName == null;
        }
    }

    /** The options a program accepts; reusable, {@link #parse} may be called many times. */
    public static final class Spec {
        private final String program;
        private final String description;
        private final Map<String, Option> options = new LinkedHashMap<>();
        private final Map<String, String> defaults = new LinkedHashMap<>();
        private String positionalName;
        private String positionalHelp;

        private Spec(String program, String description) {
            this.program = program;
            this.description = description;
            add(new Option("config", null, "FILE", "read settings from a properties file (repeatable; later files win)", null, Type.STRING));
            add(new Option("set", null, "KEY=VALUE", "set any setting, e.g. --set kafka.acks=all (repeatable)", null, Type.STRING));
            add(new Option("bootstrap-servers", BOOTSTRAP_SERVERS, "HOSTS", "Kafka bootstrap servers (host:port,...)", null, Type.STRING));
            add(new Option("registry", REGISTRY_URL, "URL", "schema registry URL (Confluent-compatible API)", null, Type.STRING));
            add(new Option("help", null, null, "print this help and exit", null, Type.BOOLEAN));
        }

        /** A string option {@code --name VALUE} that sets {@code key}; {@code defaultValue} may be null. */
        public Spec option(String name, String key, String valueName, String help, String defaultValue) {
            return typed(name, key, valueName, help, defaultValue, Type.STRING);
        }

        public Spec intOption(String name, String key, String valueName, String help, Integer defaultValue) {
            return typed(name, key, valueName, help, defaultValue == null ? null : defaultValue.toString(), Type.INT);
        }

        public Spec longOption(String name, String key, String valueName, String help, Long defaultValue) {
            return typed(name, key, valueName, help, defaultValue == null ? null : defaultValue.toString(), Type.LONG);
        }

        /** A duration option (500ms, 5s, 2m, 1h, PT5S; bare numbers are milliseconds). */
        public Spec durationOption(String name, String key, String valueName, String help, String defaultValue) {
            return typed(name, key, valueName, help, defaultValue, Type.DURATION);
        }

        /** An option with an explicit value type, checked at parse time. */
        public Spec typed(String name, String key, String valueName, String help, String defaultValue, Type type) {
            if (valueName == null || valueName.isBlank()) {
                throw new IllegalArgumentException("option --" + name + " needs a value name (use flag() for flags)");
            }
            return add(new Option(name, key, valueName, help, defaultValue, type));
        }

        /** A flag {@code --name} without value that sets {@code key} to "true" (default "false"). */
        public Spec flag(String name, String key, String help) {
            return add(new Option(name, key, null, help, "false", Type.BOOLEAN));
        }

        /** A default for a key that has no option of its own (settable with --set or the config file). */
        public Spec defaultValue(String key, String value) {
            defaults.put(key, value);
            return this;
        }

        /** Accept non-option arguments (otherwise they are an error). */
        public Spec positionals(String name, String help) {
            this.positionalName = name;
            this.positionalHelp = help;
            return this;
        }

        private Spec add(Option o) {
            if (!o.name.matches("[a-z0-9][a-z0-9-]*")) {
                throw new IllegalArgumentException("bad option name: " + o.name);
            }
            if (options.putIfAbsent(o.name, o) != null) {
                throw new IllegalArgumentException("option --" + o.name + " declared twice");
            }
            return this;
        }

        Option byKey(String key) {
            for (Option o : options.values()) {
                if (key.equals(o.key)) {
                    return o;
                }
            }
            return null;
        }

        /**
         * Parses a command line.
         *
         * @throws ConfigException with a one-line message naming the offending option
         */
        public CliConfig parse(String... args) {
            Map<String, String> values = new LinkedHashMap<>();
            Map<String, String> sources = new LinkedHashMap<>();
            defaults.forEach((k, v) -> put(values, sources, k, v, "default"));
            for (Option o : options.values()) {
                if (o.key != null && o.defaultValue != null) {
                    put(values, sources, o.key, o.defaultValue, "default");
                }
            }

            // First pass: split into (option, value) pairs and find the config files.
            List<String[]> given = new ArrayList<>();
            List<String> positional = new ArrayList<>();
            boolean help = false;
            boolean onlyPositionals = false;
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                if (onlyPositionals || !a.startsWith("-") || a.equals("-")) {
                    if (positionalName == null) {
                        throw new ConfigException("unexpected argument '" + a + "' (options start with --; see --help)");
                    }
                    positional.add(a);
                    continue;
                }
                if (a.equals("--")) {
                    onlyPositionals = true;
                    continue;
                }
                if (a.equals("-h")) {
                    help = true;
                    continue;
                }
                if (!a.startsWith("--")) {
                    throw new ConfigException("unknown option " + a + " (see --help)");
                }
                String name = a.substring(2);
                String inline = null;
                int eq = name.indexOf('=');
                if (eq >= 0) {
                    inline = name.substring(eq + 1);
                    name = name.substring(0, eq);
                }
                Option o = options.get(name);
                if (o == null) {
                    throw new ConfigException("unknown option --" + name + " (see --help)");
                }
                if (o.name.equals("help")) {
                    help = true;
                    continue;
                }
                String value;
                if (o.isFlag()) {
                    if (inline != null) {
                        value = inline;
                        checkType(o, value);
                    } else {
                        value = "true";
                    }
                } else if (inline != null) {
                    value = inline;
                } else if (i + 1 < args.length && !(args[i + 1].startsWith("--") && args[i + 1].length() > 2)) {
                    value = args[++i];
                } else {
                    throw new ConfigException("option --" + name + " needs a value: --" + name + " " + o.valueName);
                }
                given.add(new String[] {name, value});
            }
            if (help) {
                return new CliConfig(this, values, sources, positional, true);
            }

            for (String[] g : given) {
                if (g[0].equals("config")) {
                    loadFile(Path.of(g[1]), values, sources);
                }
            }
            for (String[] g : given) {
                Option o = options.get(g[0]);
                switch (o.name) {
                    case "config" -> { }
                    case "set" -> {
                        int eq = g[1].indexOf('=');
                        if (eq <= 0) {
                            throw new ConfigException("option --set needs KEY=VALUE, got '" + g[1] + "'");
                        }
                        String key = g[1].substring(0, eq).strip();
                        String value = g[1].substring(eq + 1);
                        Option typedOpt = byKey(key);
                        if (typedOpt != null) {
                            checkType(typedOpt, value, "--set " + key);
                        }
                        put(values, sources, key, value, "--set");
                    }
                    default -> {
                        checkType(o, g[1]);
                        put(values, sources, o.key, g[1], "--" + o.name);
                    }
                }
            }
            return new CliConfig(this, values, sources, positional, false);
        }

        /**
         * For a thin {@code main}: parses, prints the help and exits 0 on --help, prints the error
         * and exits 2 on a bad command line.
         */
        public CliConfig parseOrExit(String... args) {
            return parseOrExit(System.out, System.err, args);
        }

        CliConfig parseOrExit(PrintStream out, PrintStream err, String... args) {
            try {
                CliConfig c = parse(args);
                if (c.helpRequested()) {
                    out.print(helpText());
                    out.flush();
                    System.exit(0);
                }
                return c;
            } catch (ConfigException e) {
                err.println(program + ": " + e.getMessage());
                err.flush();
                System.exit(2);
                throw e; // not reached
            }
        }

        /** The help text: usage, description, and every option with its help and default. */
        public String helpText() {
            StringBuilder sb = new StringBuilder();
            sb.append("Usage: ").append(program).append(" [OPTIONS]");
            if (positionalName != null) {
                sb.append(' ').append(positionalName);
            }
            sb.append("\n\n").append(description).append("\n\nOptions:\n");
            List<String[]> rows = new ArrayList<>();
            for (Option o : options.values()) {
                String left = "--" + o.name + (o.isFlag() ? "" : " " + o.valueName) + (o.name.equals("help") ? ", -h" : "");
                String right = o.help;
                if (o.key != null && !o.isFlag()) {
                    right += " [key " + o.key + (o.defaultValue != null ? ", default " + o.defaultValue : "") + "]";
                }
                rows.add(new String[] {left, right});
            }
            if (positionalName != null) {
                rows.add(new String[] {positionalName, positionalHelp == null ? "" : positionalHelp});
            }
            int w = rows.stream().mapToInt(r -> r[0].length()).max().orElse(0);
            for (String[] r : rows) {
                sb.append("  ").append(r[0]).append(" ".repeat(w - r[0].length() + 2)).append(r[1]).append('\n');
            }
            if (!defaults.isEmpty()) {
                sb.append("\nOther settings (--set KEY=VALUE or the config file), with defaults:\n");
                defaults.forEach((k, v) -> sb.append("  ").append(k).append('=').append(v).append('\n'));
            }
            sb.append("\nKeys starting with kafka. are passed to the Kafka clients without the prefix\n")
              .append("(e.g. --set kafka.security.protocol=SSL). Precedence: defaults < --config files < options.\n");
            return sb.toString();
        }

        private static void put(Map<String, String> values, Map<String, String> sources, String key, String value, String source) {
            values.put(key, value);
            sources.put(key, source);
        }

        private void loadFile(Path file, Map<String, String> values, Map<String, String> sources) {
            Properties p = new Properties();
            try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
                p.load(r);
            } catch (NoSuchFileException e) {
                throw new ConfigException("option --config: file not found: " + file);
            } catch (IOException | IllegalArgumentException e) {
                throw new ConfigException("option --config: cannot read " + file + ": " + e.getMessage(), e);
            }
            for (String key : new TreeMap<>(toStringMap(p)).keySet()) {
                String value = p.getProperty(key);
                Option o = byKey(key);
                if (o != null) {
                    checkType(o, value, key + " in " + file);
                }
                put(values, sources, key, value, "config file " + file);
            }
        }

        private static Map<String, String> toStringMap(Properties p) {
            Map<String, String> m = new LinkedHashMap<>();
            for (String k : p.stringPropertyNames()) {
                m.put(k, p.getProperty(k));
            }
            return m;
        }

        private static void checkType(Option o, String value) {
            checkType(o, value, "--" + o.name);
        }

        private static void checkType(Option o, String value, String where) {
            String v = value.strip();
            String expected = null;
            switch (o.type) {
                case INT -> {
                    try {
                        Integer.parseInt(v);
                    } catch (NumberFormatException e) {
                        expected = "an integer";
                    }
                }
                case LONG -> {
                    try {
                        Long.parseLong(v);
                    } catch (NumberFormatException e) {
                        expected = "an integer";
                    }
                }
                case BOOLEAN -> {
                    if (!v.toLowerCase(Locale.ROOT).matches("true|false|yes|no|on|off|1|0")) {
                        expected = "true or false";
                    }
                }
                case DURATION -> {
                    if (!v.matches("(?i)[0-9]+\\s*(ms|s|m|min|h)?|P.*")) {
                        expected = "a duration such as 500ms, 5s, 2m, 1h";
                    }
                }
                default -> { }
            }
            if (expected != null) {
                throw new ConfigException("bad value for " + where + ": '" + value + "', expected " + expected);
            }
        }
    }
}
