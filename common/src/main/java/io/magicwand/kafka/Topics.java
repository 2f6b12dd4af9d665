package io.magicwand.kafka;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates the topics a service needs if they are missing. Existing topics are left as they are (a
 * partition count different from the requested one is logged, not changed), and a concurrent
 * creation by another service ({@link TopicExistsException}) counts as success.
 */
public final class Topics {

    private static final Logger log = LoggerFactory.getLogger(Topics.class);
    /** Default time allowed for the whole operation. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);

    private Topics() {}

    /**
     * Ensures {@code name} exists.
     *
     * @param replication replication factor; 0 or less uses the broker's {@code default.replication.factor}
     * @return true when this call created the topic, false when it already existed
     * @throws KafkaException with a message naming the topic and the cause (e.g. replication factor
     *                        larger than the number of brokers, broker unreachable)
     */
    public static boolean ensure(Admin admin, String name, int partitions, int replication) {
        return ensure(admin, name, partitions, replication, Map.of(), DEFAULT_TIMEOUT);
    }

    /** As {@link #ensure(Admin, String, int, int)}, with topic configs (used only on creation) and a timeout. */
    public static boolean ensure(Admin admin, String name, int partitions, int replication, Map<String, String> configs,
                                 Duration timeout) {
        if (partitions <= 0) {
            throw new IllegalArgumentException("topic " + name + ": partitions must be positive, got " + partitions);
        }
        if (replication > Short.MAX_VALUE) {
            throw new IllegalArgumentException("topic " + name + ": replication factor too large: " + replication);
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        NewTopic nt = new NewTopic(name, Optional.of(partitions),
                replication > 0 ? Optional.of((short) replication) : Optional.empty()).configs(configs);
        boolean created;
        try {
            admin.createTopics(List.of(nt)).all().get(remainingMs(deadline), TimeUnit.MILLISECONDS);
            created = true;
            log.info("created topic {} ({} partitions, replication {})", name, partitions,
                    replication > 0 ? replication : "broker default");
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof TopicExistsException)) {
                throw new KafkaException("cannot create topic " + name + " (" + partitions + " partitions, replication "
                        + (replication > 0 ? replication : "default") + "): " + e.getCause().getMessage(), e.getCause());
            }
            created = false;
        } catch (TimeoutException e) {
            throw new KafkaException("timed out after " + timeout.toSeconds() + " s creating topic " + name
                    + ": is Kafka reachable at the configured bootstrap servers?", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KafkaException("interrupted while creating topic " + name, e);
        }
        TopicDescription d = awaitLeaders(admin, name, deadline, timeout);
        if (!created && d.partitions().size() != partitions) {
            log.warn("topic {} exists with {} partitions (wanted {}); leaving it as it is", name, d.partitions().size(), partitions);
        }
        return created;
    }

    /**
     * Ensures {@code name} exists using a short-lived Admin client built from {@code adminProps}
     * (at least {@code bootstrap.servers}).
     */
    public static boolean ensure(Properties adminProps, String name, int partitions, int replication) {
        try (Admin admin = Admin.create(adminProps)) {
            return ensure(admin, name, partitions, replication);
        }
    }

    /** Ensures every topic of {@code topics} (name -> partitions) exists with the same replication. */
    public static void ensureAll(Admin admin, Map<String, Integer> topics, int replication) {
        topics.forEach((name, partitions) -> ensure(admin, name, partitions, replication));
    }

    /** Waits until the new topic is visible with a leader for every partition, so producers do not stall. */
    private static TopicDescription awaitLeaders(Admin admin, String name, long deadline, Duration timeout) {
        Throwable last = null;
        while (true) {
            try {
                TopicDescription d = admin.describeTopics(Set.of(name)).allTopicNames()
                        .get(Math.max(1, remainingMs(deadline)), TimeUnit.MILLISECONDS).get(name);
                if (d.partitions().stream().allMatch(p -> p.leader() != null && !p.leader().isEmpty())) {
                    return d;
                }
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof UnknownTopicOrPartitionException)) {
                    throw new KafkaException("cannot describe topic " + name + ": " + e.getCause().getMessage(), e.getCause());
                }
                last = e.getCause();
            } catch (TimeoutException e) {
                last = e;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new KafkaException("interrupted while waiting for topic " + name, e);
            }
            if (remainingMs(deadline) <= 0) {
                throw new KafkaException("topic " + name + " has no leader for every partition after "
                        + timeout.toSeconds() + " s" + (last != null ? " (" + last + ")" : ""));
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new KafkaException("interrupted while waiting for topic " + name, e);
            }
        }
    }

    private static long remainingMs(long deadline) {
        return TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
    }
}
