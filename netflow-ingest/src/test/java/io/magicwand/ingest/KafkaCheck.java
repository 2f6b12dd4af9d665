package io.magicwand.ingest;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.DecoderFactory;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * Reads a topic back the way any Confluent-compatible consumer would: the schema id from the
 * 5-byte header, the writer schema from the registry's REST API ({@code GET /schemas/ids/{id}}),
 * and a plain Avro {@link GenericDatumReader} — none of the project's serde code.
 */
final class KafkaCheck {

    /** One consumed record. */
    record Got(String key, int partition, long offset, GenericRecord value) {
        long seq() {
            return (Long) value.get("seq");
        }
    }

    private final String bootstrap;
    private final String registry;
    private final Map<Integer, Schema> schemas = new ConcurrentHashMap<>();
    private final HttpClient http = HttpClient.newHttpClient();

    KafkaCheck(String bootstrap, String registry) {
        this.bootstrap = bootstrap;
        this.registry = registry.endsWith("/") ? registry.substring(0, registry.length() - 1) : registry;
    }

    Schema schema(int id) {
        return schemas.computeIfAbsent(id, i -> {
            try {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(registry + "/schemas/ids/" + i))
                        .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() != 200) {
                    throw new IllegalStateException("registry answered " + r.statusCode() + " for schema id " + i);
                }
                String text = new ObjectMapper().readTree(r.body()).get("schema").asText();
                return new Schema.Parser().parse(text);
            } catch (Exception e) {
                throw new IllegalStateException("schema id " + i + ": " + e, e);
            }
        });
    }

    GenericRecord decode(byte[] value) throws java.io.IOException {
        ByteBuffer b = ByteBuffer.wrap(value);
        if (b.get() != 0) {
            throw new IllegalStateException("not the Confluent wire format (magic byte " + value[0] + ")");
        }
        int id = b.getInt();
        Schema s = schema(id);
        GenericDatumReader<GenericRecord> reader = new GenericDatumReader<>(s);
        return reader.read(null, DecoderFactory.get().binaryDecoder(value, 5, value.length - 5, null));
    }

    /** Reads the whole topic until {@code expected} records arrived (or the timeout, then returns what came). */
    List<Got> readAll(String topic, int expected, Duration timeout) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("group.id", "it-" + UUID.randomUUID());
        p.put("auto.offset.reset", "earliest");
        p.put("enable.auto.commit", "false");
        p.put("isolation.level", "read_committed");
        List<Got> out = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(p, new StringDeserializer(),
                new ByteArrayDeserializer())) {
            c.subscribe(List.of(topic));
            long end = System.nanoTime() + timeout.toNanos();
            long quietUntil = Long.MAX_VALUE;
            while (System.nanoTime() < Math.min(end, quietUntil)) {
                for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(200))) {
                    out.add(new Got(r.key(), r.partition(), r.offset(), decode(r.value())));
                }
                if (out.size() >= expected && quietUntil == Long.MAX_VALUE) {
                    quietUntil = System.nanoTime() + 1_500_000_000L; // linger to catch duplicates
                }
            }
        }
        return out;
    }
}
