package io.magicwand.sink;

import io.magicwand.config.CliConfig;
import io.magicwand.serde.AvroDeserializer;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Prints the records of Avro topics as JSON lines, for scripts (the demo's live summary reads the
 * decisions and results this way):
 * <pre>{"topic":"mw.mitigation-results","partition":0,"offset":7,"ts":1764326400123,"value":{...}}</pre>
 * Undecodable records are printed with {@code "error"} instead of {@code "value"}. Runs until killed
 * (or {@code --max-seconds}). Usage:
 * {@code java -cp mitigation-sink-all.jar io.magicwand.sink.TopicWatch --bootstrap-servers B --registry URL
 * [--from-beginning] TOPIC...}
 */
public final class TopicWatch {
    private TopicWatch() {}

    public static void main(String[] args) throws Exception {
        CliConfig cli = CliConfig.spec("mw-topic-watch", "Prints Avro records of Kafka topics as JSON lines.")
                .flag("from-beginning", "watch.from.beginning", "read each topic from its start (default: only new records)")
                .longOption("max-seconds", "watch.max.seconds", "S", "stop after S seconds (0 = run until killed)", 0L)
                .positionals("TOPIC", "topics to watch")
                .parseOrExit(args);
        List<String> topics = cli.positionals();
        if (topics.isEmpty()) {
            System.err.println("mw-topic-watch: name at least one topic");
            System.exit(2);
        }
        Properties p = cli.kafkaProperties();
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "mw-topic-watch-" + UUID.randomUUID());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        AvroDeserializer<Object> deser = new AvroDeserializer<>();
        deser.configure(Map.of("schema.registry.url", cli.registryUrl()), false);
        long maxMs = cli.getLong("watch.max.seconds") * 1000;
        long end = maxMs > 0 ? System.currentTimeMillis() + maxMs : Long.MAX_VALUE;
        AtomicBoolean stop = new AtomicBoolean();
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                stop.set(true);
                c.wakeup();
            }));
            List<TopicPartition> tps = new ArrayList<>();
            for (String t : topics) {
                List<PartitionInfo> infos = c.partitionsFor(t, Duration.ofSeconds(30));
                if (infos != null) {
                    infos.forEach(i -> tps.add(new TopicPartition(t, i.partition())));
                }
            }
            c.assign(tps);
            if (cli.getBoolean("watch.from.beginning")) {
                c.seekToBeginning(tps);
            } else {
                c.seekToEnd(tps);
                tps.forEach(c::position); // resolve "end" now, not at the first poll
            }
            out.println("{\"watching\":" + json(String.join(",", topics)) + ",\"partitions\":" + tps.size() + "}");
            while (!stop.get() && System.currentTimeMillis() < end) {
                try {
                    for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
                        StringBuilder sb = new StringBuilder("{\"topic\":").append(json(r.topic()))
                                .append(",\"partition\":").append(r.partition()).append(",\"offset\":").append(r.offset())
                                .append(",\"ts\":").append(r.timestamp());
                        try {
                            Object v = deser.deserialize(r.topic(), r.value());
                            // Avro's toString of a record is JSON.
                            sb.append(",\"value\":").append(v == null ? "null" : v.toString());
                        } catch (RuntimeException e) {
                            sb.append(",\"error\":").append(json(String.valueOf(e.getMessage())));
                        }
                        out.println(sb.append('}'));
                    }
                } catch (org.apache.kafka.common.errors.WakeupException e) {
                    break;
                }
            }
        } finally {
            deser.close();
        }
    }

    static String json(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char ch : s.toCharArray()) {
            switch (ch) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (ch < 0x20) {
                        sb.append(String.format("\\u%04x", (int) ch));
                    } else {
                        sb.append(ch);
                    }
                }
            }
        }
        return sb.append('"').toString();
    }
}
