package io.magicwand.ingest;

import io.magicwand.avro.SocketEvent;
import io.magicwand.config.CliConfig;
import io.magicwand.config.ConfigException;
import io.magicwand.ingest.capture.CaptureFormatException;
import io.magicwand.ingest.capture.CaptureFrame;
import io.magicwand.ingest.capture.CaptureReader;
import io.magicwand.ingest.pcap.PacketDecoder;
import io.magicwand.ingest.pcap.PcapReader;
import io.magicwand.ingest.pcap.TcpImporter;
import io.magicwand.ingest.pcap.TcpSegment;
import io.magicwand.netflow.NetflowCodec;
import io.magicwand.netflow.NetflowFormatException;
import io.magicwand.netflow.NetflowInfo;
import io.magicwand.netflow.NetflowMessage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code ./mw replay}: re-publishes a NetFlow capture (or the TCP connections of a pcap) to
 * {@code mw.socket-events} at the original speed, N times faster, or as fast as possible. One
 * thread sends in file order through an idempotent producer keyed by host/socket, so per-socket
 * order is preserved. Exit codes: 0 done, 1 Kafka failed, 2 bad arguments, 3 malformed input file.
 */
public final class Replay {

    private static final Logger log = LoggerFactory.getLogger(Replay.class);

    /** Where the events go (Kafka, or a list in tests). */
    public interface Output extends AutoCloseable {
        void send(String key, SocketEvent event);

        /** Waits for everything sent; returns the number of failed sends. */
        long finish();

        @Override
        default void close() {}
    }

    /** Replay options. */
    public static final class Options {
        public final List<Path> files = new ArrayList<>();
        public Path pcap;
        public String host;
        public Set<Integer> serverPorts;
        public double speed = 1.0;
        public boolean max;
        /** Settings for the Kafka side (IngestConfig keys: kafka.*, schema.registry.url, topic, ...). */
        public Map<String, String> props = new LinkedHashMap<>();
    }

    /** Totals of one replay. */
    public static final class Result {
        public long events;
        public long skippedMessages;
        public long failed;
        public TcpImporter.Stats pcapStats;
    }

    private final Options opt;
    private final Output out;
    private long firstTsNs = Long.MIN_VALUE;
    private long startWallNs;
    private final Result result = new Result();
    private long lastProgressNs;

    public Replay(Options opt, Output out) {
        this.opt = opt;
        this.out = out;
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line; returns the exit code. */
    public static int run(String[] args) {
        Options opt;
        IngestConfig cfg;
        try {
            for (String a : args) {
                if (a.equals("--help") || a.equals("-h")) {
                    System.out.print(SPEC.helpText());
                    return 0;
                }
            }
            opt = parse(args);
            Map<String, String> props = new LinkedHashMap<>(opt.props);
            props.remove(IngestConfig.SOURCES);
            cfg = IngestConfig.fromProperties(props);
        } catch (IllegalArgumentException e) {
            System.err.println("mw replay: " + e.getMessage());
            return 2;
        }
        try {
            precheck(opt); // a bad file is reported before anything touches Kafka
        } catch (IOException e) {
            System.err.println("mw replay: " + e.getMessage());
            return 3;
        }
        try {
            IngestMain.ensureTopic(cfg);
        } catch (RuntimeException e) {
            System.err.println("mw replay: cannot reach Kafka at " + cfg.bootstrapServers + ": " + e.getMessage());
            return 1;
        }
        try (KafkaOutput ko = new KafkaOutput(IngestService.createProducer(cfg), cfg.topic)) {
            Replay r = new Replay(opt, ko);
            Result res = r.replay();
            System.err.printf("mw replay: %d events published to %s (%d non-info messages skipped, %d failed)%n",
                    res.events, cfg.topic, res.skippedMessages, res.failed);
            if (res.pcapStats != null) {
                System.err.println("mw replay: pcap " + res.pcapStats);
            }
            return res.failed > 0 ? 1 : 0;
        } catch (CaptureFormatException e) {
            System.err.println("mw replay: " + e.getMessage());
            return 3;
        } catch (IOException e) {
            System.err.println("mw replay: " + e);
            return 3;
        }
    }

    /** Opens every input once: headers are checked (and unreadable files found) up front. */
    static void precheck(Options opt) throws IOException {
        if (opt.pcap != null) {
            new PcapReader(opt.pcap).close();
        }
        List<Path> files = expand(opt.files);
        if (opt.pcap == null && files.isEmpty()) {
            throw new IOException("no *.mwcap capture files in " + opt.files);
        }
        for (Path f : files) {
            new CaptureReader(f).close();
        }
    }

    /** Replays everything the options name. */
    public Result replay() throws IOException {
        try {
            if (opt.pcap != null) {
                replayPcap(opt.pcap);
            }
            for (Path f : expand(opt.files)) {
                replayCapture(f);
            }
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        result.failed = out.finish();
        return result;
    }

    private void replayCapture(Path file) throws IOException {
        try (CaptureReader r = new CaptureReader(file)) {
            CaptureFrame f;
            while ((f = r.next()) != null) {
                NetflowMessage m;
                try {
                    m = NetflowCodec.decode(f.message());
                } catch (NetflowFormatException e) {
                    throw new CaptureFormatException(file.toString(), f.offset(), "frame holds no valid NetFlow"
                            + " message (" + e.getMessage() + ")");
                }
                if (!(m instanceof NetflowInfo info)) {
                    result.skippedMessages++;
                    continue;
                }
                String host = opt.host != null ? opt.host : f.host();
                emit(f.captureTimeNs(), host, info);
            }
        }
    }

    private void replayPcap(Path file) throws IOException {
        String host = opt.host;
        try (PcapReader r = new PcapReader(file)) {
            PacketDecoder dec = new PacketDecoder(file.toString(), r.linkType());
            TcpImporter imp = new TcpImporter(opt.serverPorts, info -> emit(info.currSec() * 1_000_000_000L
                    + info.currNsec(), host, info));
            PcapReader.Packet p;
            while ((p = r.next()) != null) {
                TcpSegment s = dec.decode(p);
                if (s != null) {
                    imp.accept(s);
                }
            }
            imp.finish();
            result.pcapStats = imp.stats();
            if (dec.skippedTruncated() > 0) {
                log.warn("{}: {} packet(s) cut short by the capture's snaplen were skipped", file,
                        dec.skippedTruncated());
            }
        }
    }

    private void emit(long tsNs, String host, NetflowInfo info) {
        pace(tsNs);
        SocketEvent ev = EventMapper.toEvent(host, info, Math.floorDiv(tsNs, 1_000_000L));
        out.send(EventMapper.key(host, info.sockfd()), ev);
        result.events++;
        long now = System.nanoTime();
        if (now - lastProgressNs > 5_000_000_000L) {
            lastProgressNs = now;
            if (result.events > 1) {
                System.err.printf("mw replay: %d events so far%n", result.events);
            }
        }
    }

    /** Sleeps until the record's time, scaled by the speed, relative to the first record. */
    private void pace(long tsNs) {
        if (opt.max) {
            return;
        }
        long now = System.nanoTime();
        if (firstTsNs == Long.MIN_VALUE) {
            firstTsNs = tsNs;
            startWallNs = now;
            return;
        }
        long due = startWallNs + (long) ((tsNs - firstTsNs) / opt.speed);
        long wait = due - now;
        if (wait > 1_000_000L) {
            try {
                Thread.sleep(wait / 1_000_000L, (int) (wait % 1_000_000L));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static List<Path> expand(List<Path> files) throws IOException {
        List<Path> out = new ArrayList<>();
        for (Path f : files) {
            if (Files.isDirectory(f)) {
                try (Stream<Path> s = Files.list(f)) {
                    s.filter(p -> p.getFileName().toString().endsWith(".mwcap")).sorted().forEach(out::add);
                }
            } else {
                out.add(f);
            }
        }
        return out;
    }

    /** The command line of {@code ./mw replay}. */
    public static final CliConfig.Spec SPEC = CliConfig.spec("mw replay",
                    "Re-publishes a NetFlow capture (files or directories of *.mwcap) or, with --pcap, the TCP"
                            + " connections of a pcap, as SocketEvents to Kafka.")
            .positionals("FILE...", "capture files, or directories (their *.mwcap files in name order)")
            .option("speed", "replay.speed", "N", "replay N times faster than recorded", "1")
            .flag("max", "replay.max", "replay as fast as possible (no pacing)")
            .option("topic", IngestConfig.TOPIC, "TOPIC", "topic to publish to", "mw.socket-events")
            .option("pcap", "replay.pcap", "FILE", "import the TCP connections of a pcap (tcpdump -w) instead", null)
            .option("host", "replay.host", "TAG", "host tag of the events (required with --pcap; overrides the"
                    + " capture's tags)", null)
            .option("server-ports", "replay.server-ports", "P[,P...]", "pcap: ports that make a connection an"
                    + " ACCEPT (default: the port that received the SYN); others are CONNECTs", null);

    /** Parses the command line ({@code --help} is handled by the caller). */
    public static Options parse(String[] args) {
        CliConfig c;
        try {
            c = SPEC.parse(args);
        } catch (ConfigException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
        Options o = new Options();
        for (String f : c.positionals()) {
            o.files.add(Path.of(f));
        }
        o.max = c.getBoolean("replay.max", false);
        String speed = c.get("replay.speed", "1");
        try {
            o.speed = Double.parseDouble(speed);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--speed: '" + speed + "' is not a number");
        }
        if (!(o.speed > 0) || Double.isInfinite(o.speed)) {
            throw new IllegalArgumentException("--speed must be a positive number (use --max for no pacing)");
        }
        o.pcap = c.find("replay.pcap").map(Path::of).orElse(null);
        o.host = c.find("replay.host").orElse(null);
        if (c.has("replay.server-ports")) {
            Set<Integer> ports = new LinkedHashSet<>();
            for (String p : c.get("replay.server-ports").split(",")) {
                try {
                    int n = Integer.parseInt(p.trim());
                    if (n < 1 || n > 65535) {
                        throw new NumberFormatException();
                    }
                    ports.add(n);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("--server-ports: '" + p + "' is not a port number");
                }
            }
            o.serverPorts = ports;
        }
        c.asMap().forEach((k, v) -> {
            if (!k.startsWith("replay.")) {
                o.props.put(k, v);
            }
        });
        if (o.pcap == null && o.files.isEmpty()) {
            throw new IllegalArgumentException("nothing to replay: give a capture FILE (or directory) or --pcap FILE");
        }
        if (o.pcap != null && (o.host == null || o.host.isBlank())) {
            throw new IllegalArgumentException("--pcap needs --host TAG (the host tag the events carry)");
        }
        if (o.serverPorts != null && o.pcap == null) {
            throw new IllegalArgumentException("--server-ports only applies to --pcap");
        }
        if (o.host != null && (o.host.contains("/") || o.host.isBlank())) {
            throw new IllegalArgumentException("--host: bad host tag '" + o.host + "'");
        }
        for (Path f : o.files) {
            if (!Files.exists(f)) {
                throw new IllegalArgumentException("no such file: " + f);
            }
        }
        if (o.pcap != null && !Files.isRegularFile(o.pcap)) {
            throw new IllegalArgumentException("no such file: " + o.pcap);
        }
        return o;
    }

    /** Sends to Kafka; errors are counted and the first is logged. */
    static final class KafkaOutput implements Output {
        private final Producer<String, SocketEvent> producer;
        private final String topic;
        private final AtomicLong failed = new AtomicLong();
        private final AtomicReference<Exception> firstError = new AtomicReference<>();

        KafkaOutput(Producer<String, SocketEvent> producer, String topic) {
            this.producer = producer;
            this.topic = topic;
        }

        @Override
        public void send(String key, SocketEvent event) {
            producer.send(new ProducerRecord<>(topic, key, event), (md, err) -> {
                if (err != null) {
                    failed.incrementAndGet();
                    if (firstError.compareAndSet(null, err)) {
                        log.error("producing to {} failed: {}", topic, err.toString());
                    }
                }
            });
        }

        @Override
        public long finish() {
            producer.flush();
            return failed.get();
        }

        @Override
        public void close() {
            producer.close();
        }
    }
}
