package io.magicwand.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

class EmbeddedKafkaBrokerIT {

    @Test
    void produceConsumeSurvivesRestartAndCloseDeletesData() throws Exception {
        Path dataDir;
        try (EmbeddedKafkaBroker kafka = new EmbeddedKafkaBroker().start()) {
            dataDir = kafka.dataDir();
            String bootstrap = kafka.bootstrapServers();
            assertTrue(bootstrap.startsWith("127.0.0.1:"), bootstrap);
            kafka.createTopic("it.events", 3);
            try (Admin admin = kafka.admin()) {
                assertEquals(3, admin.describeTopics(Set.of("it.events")).allTopicNames().get(30, TimeUnit.SECONDS)
                        .get("it.events").partitions().size());
            }

            produce(bootstrap, "it.events", 0, 10);
            assertEquals(expected(0, 10), consumeAll(bootstrap, "it.events", "g1", 10));

            int port = kafka.port();
            kafka.restart();
            assertTrue(kafka.isRunning());
            assertEquals(port, kafka.port(), "restart keeps the port");
            assertEquals(bootstrap, kafka.bootstrapServers());

            // Data written before the restart is still there, and the broker takes new writes.
            produce(bootstrap, "it.events", 10, 5);
            assertEquals(expected(0, 15), consumeAll(bootstrap, "it.events", "g2", 15));
            // The committed offsets of group g1 survived too: it only sees the new records.
            assertEquals(expected(10, 5), consumeAll(bootstrap, "it.events", "g1", 5));

            // createTopic tolerates an existing topic.
            kafka.createTopic("it.events", 3);
            assertTrue(Files.isDirectory(dataDir));
        }
        assertFalse(Files.exists(dataDir), "close() deletes the data directory");
    }

    @Test
    void overridesApply() throws Exception {
        try (EmbeddedKafkaBroker kafka = new EmbeddedKafkaBroker(Map.of("auto.create.topics.enable", "false")).start()) {
            try (KafkaProducer<String, String> p = producer(kafka.bootstrapServers(), 3000)) {
                Exception e = org.junit.jupiter.api.Assertions.assertThrows(Exception.class,
                        () -> p.send(new ProducerRecord<>("not.created", "k", "v")).get(10, TimeUnit.SECONDS));
                assertTrue(String.valueOf(e).contains("not.created") || e.getCause() != null, String.valueOf(e));
            }
            try (Admin admin = kafka.admin()) {
                assertFalse(admin.listTopics().names().get(30, TimeUnit.SECONDS).contains("not.created"));
            }
        }
    }

    private static List<String> expected(int from, int n) {
        List<String> l = new ArrayList<>();
        for (int i = from; i < from + n; i++) {
            l.add("k" + i + "=v" + i);
        }
        return l;
    }

    private static KafkaProducer<String, String> producer(String bootstrap, int maxBlockMs) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, Integer.toString(maxBlockMs));
        return new KafkaProducer<>(p, new StringSerializer(), new StringSerializer());
    }

    private static void produce(String bootstrap, String topic, int from, int n) throws Exception {
        try (KafkaProducer<String, String> p = producer(bootstrap, 60000)) {
            for (int i = from; i < from + n; i++) {
                p.send(new ProducerRecord<>(topic, "k" + i, "v" + i)).get(60, TimeUnit.SECONDS);
            }
        }
    }

    private static List<String> consumeAll(String bootstrap, String topic, String group, int n) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        List<String> got = new ArrayList<>();
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer())) {
            c.subscribe(List.of(topic));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (got.size() < n && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) {
                    got.add(r.key() + "=" + r.value());
                }
            }
            c.commitSync();
            // Nothing beyond what was expected.
            for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) {
                got.add(r.key() + "=" + r.value());
            }
        }
        got.sort((a, b) -> Integer.compare(Integer.parseInt(a.substring(1, a.indexOf('='))),
                Integer.parseInt(b.substring(1, b.indexOf('=')))));
        return got;
    }
}
