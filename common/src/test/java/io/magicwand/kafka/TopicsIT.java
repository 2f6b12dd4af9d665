package io.magicwand.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.magicwand.testkit.EmbeddedKafkaBroker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class TopicsIT {

    private static EmbeddedKafkaBroker kafka;

    @BeforeAll
    static void startBroker() {
        kafka = new EmbeddedKafkaBroker(Map.of("auto.create.topics.enable", "false")).start();
    }

    @AfterAll
    static void stopBroker() {
        if (kafka != null) {
            kafka.close();
        }
    }

    private static Properties base() {
        Properties p = new Properties();
        p.put("bootstrap.servers", kafka.bootstrapServers());
        return p;
    }

    @Test
    void createsMissingTopicsAndToleratesExistingOnes() throws Exception {
        try (Admin admin = Admin.create(ClientProps.admin(base(), "topics-it"))) {
            assertTrue(Topics.ensure(admin, "it.created", 3, 1));
            assertFalse(Topics.ensure(admin, "it.created", 3, 1), "second call finds it");
            assertFalse(Topics.ensure(admin, "it.created", 5, 1), "a different partition count is left alone");
            TopicDescription d = admin.describeTopics(Set.of("it.created")).allTopicNames().get(30, TimeUnit.SECONDS).get("it.created");
            assertEquals(3, d.partitions().size());

            assertTrue(Topics.ensure(admin, "it.compacted", 1, 1, Map.of("cleanup.policy", "compact"), Duration.ofSeconds(60)));
            ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, "it.compacted");
            assertEquals("compact", admin.describeConfigs(Set.of(r)).all().get(30, TimeUnit.SECONDS).get(r)
                    .get("cleanup.policy").value());

            // Broker default replication (-1) works on a one-node cluster.
            assertTrue(Topics.ensure(admin, "it.default-rf", 2, 0));

            Topics.ensureAll(admin, Map.of("it.a", 1, "it.b", 2), 1);
            assertTrue(admin.listTopics().names().get(30, TimeUnit.SECONDS).containsAll(Set.of("it.a", "it.b")));
        }
    }

    @Test
    void concurrentEnsureOfTheSameTopicCreatesItOnce() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try (Admin admin = Admin.create(base())) {
            List<Future<Boolean>> fs = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                fs.add(pool.submit(() -> Topics.ensure(admin, "it.race", 2, 1)));
            }
            List<Boolean> created = new ArrayList<>();
            for (Future<Boolean> f : fs) {
                created.add(f.get(90, TimeUnit.SECONDS));
            }
            assertEquals(1, Collections.frequency(created, true), created.toString());
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void impossibleReplicationFailsWithAClearMessage() {
        KafkaException e = assertThrows(KafkaException.class, () -> Topics.ensure(base(), "it.rf3", 1, 3));
        assertTrue(e.getMessage().startsWith("cannot create topic it.rf3 (1 partitions, replication 3): "), e.getMessage());
    }

    @Test
    void idempotentProducerDefaultsWorkAgainstTheBroker() throws Exception {
        Topics.ensure(base(), "it.produce", 1, 1);
        try (KafkaProducer<String, String> p = new KafkaProducer<>(ClientProps.producer(base(), "it-producer"),
                new StringSerializer(), new StringSerializer())) {
            RecordMetadata m0 = p.send(new ProducerRecord<>("it.produce", "k", "v0")).get(60, TimeUnit.SECONDS);
            RecordMetadata m1 = p.send(new ProducerRecord<>("it.produce", "k", "v1")).get(60, TimeUnit.SECONDS);
            assertEquals(m0.offset() + 1, m1.offset());
        }
    }
}
