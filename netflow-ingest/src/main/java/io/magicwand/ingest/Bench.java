package io.magicwand.ingest;

import io.magicwand.avro.SocketEvent;
import io.magicwand.config.CliConfig;
import io.magicwand.config.ConfigException;
import io.magicwand.netflow.Endpoint;
import io.magicwand.netflow.NetflowCodec;
import io.magicwand.netflow.NetflowInfo;
import io.magicwand.serde.AvroSerializer;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetSocket;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * {@code ./mw bench ingest}: a synthetic NetFlow source at full speed (an in-JVM Vert.x NetServer)
 * through the real ingest service into a real broker, then a raw {@link KafkaProducer} loop
 * sending the same number of records with the same keys, the same serialized values and the same
 * producer settings, in the same run. Prints events/s of both and the ratio.
 */
public final class Bench {

    static final CliConfig.Spec SPEC = CliConfig.spec("mw bench ingest",
                    "NetFlow -> ingest -> Kafka throughput next to a raw KafkaProducer loop (same records).")
            .longOption("records", "bench.records", "N", "records per measured run", 1_000_000L)
            .longOption("warmup", "bench.warmup", "N", "records of the warm-up run of each side", 200_000L)
            .intOption("partitions", "bench.partitions", "N", "partitions of the bench topics", 6)
            .option("compression", IngestConfig.COMPRESSION, "CODEC", "producer compression (both sides)", "lz4")
            .defaultValue(IngestConfig.BOOTSTRAP, "127.0.0.1:19092")
            .defaultValue(IngestConfig.REGISTRY, "http://127.0.0.1:18081/apis/ccompat/v7");

    private Bench() {}

    public static void main(String[] args) throws Exception {
        CliConfig c;
        try {
            c = SPEC.parse(args);
        } catch (ConfigException e) {
            System.err.println("mw bench ingest: " + e.getMessage());
            System.exit(2);
            return;
        }
        if (c.helpRequested()) {
            System.out.print(SPEC.helpText());
            return;
        }
        long n = c.getLong("bench.records");
        long warm = c.getLong("bench.warmup");
        int partitions = c.getInt("bench.partitions");
        Map<String, String> props = new HashMap<>();
        c.asMap().forEach((k, v) -> {
            if (!k.startsWith("bench.")) {
                props.put(k, v);
            }
        });
        IngestConfig base;
        try {
            base = IngestConfig.fromProperties(props);
        } catch (IllegalArgumentException e) {
            System.err.println("mw bench ingest: " + e.getMessage());
            System.exit(2);
            return;
        }
        String stamp = Long.toString(System.currentTimeMillis(), 36);
        String ingestTopic = "mw.bench.ingest-" + stamp;
        String rawTopic = "mw.bench.raw-" + stamp;
        int rc = 0;
        try {
            base.topic = ingestTopic;
            base.partitions = partitions;
            IngestMain.ensureTopic(base);
            base.topic = rawTopic;
            IngestMain.ensureTopic(base);
            System.out.printf(Locale.ROOT, "bench ingest: %,d records per side (warm-up %,d), %d partitions, %s,"
                    + " broker %s%n", n, warm, partitions, base.compression, base.bootstrapServers);
            Synthetic gen = new Synthetic();
            Raw raw = new Raw(base, rawTopic, gen, "bench");
            if (warm > 0) {
                runIngest(base, ingestTopic, warm);
                raw.run(warm);
            }
            double ingestRate = runIngest(base, ingestTopic, n);
            double rawRate = raw.run(n);
            raw.close();
            double ratio = ingestRate / rawRate;
            System.out.printf(Locale.ROOT, "ingest (NetFlow -> Vert.x -> Avro -> Kafka): %,.0f events/s%n", ingestRate);
            System.out.printf(Locale.ROOT, "raw KafkaProducer (%d-byte values, same keys): %,.0f records/s%n",
                    raw.valueSize, rawRate);
            System.out.printf(Locale.ROOT, "ratio ingest/raw: %.2f%n", ratio);
            boolean ok = ingestRate >= 200_000 && ratio >= 0.5;
            System.out.printf(Locale.ROOT, "targets (>= 200,000 events/s and >= 0.50 of raw): %s%n",
                    ok ? "met" : "NOT met");
        } catch (Exception e) {
            System.err.println("mw bench ingest: " + e);
            rc = 1;
        } finally {
            Properties ap = new Properties();
            ap.putAll(base.adminProperties());
            try (Admin admin = Admin.create(ap)) {
                admin.deleteTopics(List.of(ingestTopic, rawTopic)).all().get(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                System.err.println("mw bench ingest: could not delete the bench topics: " + e.getMessage());
            }
        }
        System.exit(rc);
    }

    /** One ingest run: a fresh source and service; returns events/s from connect to the last ack. */
    static double runIngest(IngestConfig base, String topic, long n) throws Exception {
        Vertx srcVertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1));
        try {
            NetServer server = srcVertx.createNetServer(new io.vertx.core.net.NetServerOptions().setTcpNoDelay(false)
                    .setSendBufferSize(1 << 20))
                    .connectHandler(sock -> new Pump(sock, new Synthetic(), n).pump());
            server.listen(0, "127.0.0.1").toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
            IngestConfig cfg = copy(base);
            cfg.topic = topic;
            cfg.sources = List.of(new SourceSpec("bench", "127.0.0.1", server.actualPort()));
            cfg.opsPort = -1;
            long t0 = System.nanoTime();
            try (IngestService svc = new IngestService(cfg)) {
                svc.start().toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
                SourceStats st = svc.stats().get("bench");
                long lastPrint = t0;
                while (st.eventsProduced.sum() + st.produceErrors.sum() < n) {
                    Thread.sleep(2);
                    long now = System.nanoTime();
                    if (now - t0 > 600_000_000_000L) {
                        throw new IllegalStateException("ingest run did not finish in 10 minutes ("
                                + st.eventsProduced.sum() + " of " + n + ")");
                    }
                    if (now - lastPrint > 5_000_000_000L) {
                        lastPrint = now;
                        System.out.printf(Locale.ROOT, "  ingest: %,d of %,d acknowledged%n", st.eventsProduced.sum(), n);
                    }
                }
                long t1 = System.nanoTime();
                if (st.produceErrors.sum() > 0) {
                    throw new IllegalStateException(st.produceErrors.sum() + " produce errors in the ingest run");
                }
                double rate = n / ((t1 - t0) / 1e9);
                System.out.printf(Locale.ROOT, "  ingest run: %,d events in %.2f s = %,.0f events/s (paused %d times"
                        + " for backpressure)%n", n, (t1 - t0) / 1e9, rate, st.pauses.sum());
                return rate;
            }
        } finally {
            srcVertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        }
    }

    static IngestConfig copy(IngestConfig b) {
        IngestConfig c = new IngestConfig();
        c.bootstrapServers = b.bootstrapServers;
        c.registryUrl = b.registryUrl;
        c.compression = b.compression;
        c.partitions = b.partitions;
        c.maxInFlight = b.maxInFlight;
        c.kafka = new HashMap<>(b.kafka);
        return c;
    }

    /** Writes n synthetic records as fast as the socket takes them. */
    static final class Pump {
        private final NetSocket sock;
        private final Synthetic gen;
        private final long n;
        private long sent;
        private final byte[] chunk = new byte[2048 * NetflowCodec.INFO_LEN];

        Pump(NetSocket sock, Synthetic gen, long n) {
            this.sock = sock;
            this.gen = gen;
            this.n = n;
        }

        void pump() {
            while (sent < n) {
                if (sock.writeQueueFull()) {
                    sock.drainHandler(v -> pump());
                    return;
                }
                int k = (int) Math.min(2048, n - sent);
                int off = 0;
                for (int i = 0; i < k; i++) {
                    off += NetflowCodec.encodeInto(gen.record(sent + i), chunk, off);
                }
                sock.write(Buffer.buffer().appendBytes(chunk, 0, off));
                sent += k;
            }
        }
    }

    /**
     * The synthetic stream (the shape of {@code mwnf serve-script --synthetic}): socket k goes
     * create, bind, accept, connect, recv, send, close; 10.0.0.1:80 <-> 198.51.100.x:port.
     */
    static final class Synthetic {
        private static final Endpoint LOCAL = Endpoint.of("10.0.0.1", 80);
        private final Endpoint[] remotes = new Endpoint[250];
        private final long start = System.currentTimeMillis() / 1000;

        Synthetic() {
            for (int i = 0; i < remotes.length; i++) {
                remotes[i] = Endpoint.of("198.51.100." + (i + 1), 1024 + i * 97);
            }
        }

        NetflowInfo record(long seq) {
            long sock = seq / 7;
            int obs = (int) (seq % 7) + 1;
            long in = obs >= NetflowInfo.OBS_RECV ? 512 : 0;
            long out = obs >= NetflowInfo.OBS_SEND ? 4096 : 0;
            long now = System.currentTimeMillis();
            return new NetflowInfo(seq & 0xffff_ffffL, obs, start, 0, now / 1000, (now % 1000) * 1_000_000L,
                    sock, LOCAL, remotes[(int) (sock % remotes.length)], in, out,
                    obs == NetflowInfo.OBS_ACCEPT ? sock + 1_000_000_000L : 0);
        }
    }

    /** The raw side: the same keys and serialized values, straight into a KafkaProducer. */
    static final class Raw implements AutoCloseable {
        private final KafkaProducer<byte[], byte[]> producer;
        private final String topic;
        private final byte[][] keys;
        private final byte[][] values;
        final int valueSize;

        Raw(IngestConfig cfg, String topic, Synthetic gen, String host) {
            Map<String, Object> p = new HashMap<>(cfg.producerProperties());
            AvroSerializer<SocketEvent> ser = new AvroSerializer<>();
            ser.configure(p, false);
            p.remove("schema.registry.url");
            this.producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
            this.topic = topic;
            int cycle = 7 * 4096;
            keys = new byte[cycle][];
            values = new byte[cycle][];
            long total = 0;
            for (int i = 0; i < cycle; i++) {
                NetflowInfo info = gen.record(i);
                keys[i] = EventMapper.key(host, info.sockfd()).getBytes(StandardCharsets.UTF_8);
                values[i] = ser.serialize(cfg.topic, EventMapper.toEvent(host, info, System.currentTimeMillis()));
                total += values[i].length;
            }
            valueSize = (int) (total / cycle);
            ser.close();
        }

        double run(long n) throws Exception {
            AtomicLong acked = new AtomicLong();
            AtomicLong failed = new AtomicLong();
            long t0 = System.nanoTime();
            for (long i = 0; i < n; i++) {
                int k = (int) (i % keys.length);
                // Different sockets every cycle, as in the ingest run: vary the key's socket part.
                producer.send(new ProducerRecord<>(topic, keys[k], values[k]), (md, e) -> {
                    if (e == null) {
                        acked.incrementAndGet();
                    } else {
                        failed.incrementAndGet();
                    }
                });
            }
            producer.flush();
            long t1 = System.nanoTime();
            if (failed.get() > 0) {
                throw new IllegalStateException(failed.get() + " raw sends failed");
            }
            double rate = n / ((t1 - t0) / 1e9);
            System.out.printf(Locale.ROOT, "  raw run: %,d records in %.2f s = %,.0f records/s%n", n, (t1 - t0) / 1e9,
                    rate);
            return rate;
        }

        @Override
        public void close() {
            producer.close();
        }
    }
}
