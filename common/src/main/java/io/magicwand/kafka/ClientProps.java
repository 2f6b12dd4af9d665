package io.magicwand.kafka;

import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;

/**
 * Kafka client property defaults for the services. Each method copies {@code base} (typically
 * {@code CliConfig.kafkaProperties()}: the user's pass-through {@code kafka.*} settings) and adds the
 * defaults only where the user set nothing, so an operator can always override them.
 */
public final class ClientProps {

    private ClientProps() {}

    /**
     * Producer defaults: idempotent ({@code enable.idempotence=true}, {@code acks=all}), so retries
     * after a broker failover neither lose nor duplicate records; a short linger for batching.
     */
    public static Properties producer(Properties base, String clientId) {
        Properties p = copy(base);
        p.putIfAbsent(ProducerConfig.ACKS_CONFIG, "all");
        p.putIfAbsent(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.putIfAbsent(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "5");
        p.putIfAbsent(ProducerConfig.RETRIES_CONFIG, Integer.toString(Integer.MAX_VALUE));
        p.putIfAbsent(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "120000");
        p.putIfAbsent(ProducerConfig.LINGER_MS_CONFIG, "5");
        putClientId(p, clientId);
        return p;
    }

    /**
     * Consumer defaults: manual commits ({@code enable.auto.commit=false}, the service commits after
     * processing), start from the earliest offset for a new group, read only committed records.
     */
    public static Properties consumer(Properties base, String groupId, String clientId) {
        Properties p = copy(base);
        if (groupId != null) {
            p.putIfAbsent(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        }
        p.putIfAbsent(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.putIfAbsent(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.putIfAbsent(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        putClientId(p, clientId);
        return p;
    }

    /** Admin client: the base properties with a client id and bounded timeouts. */
    public static Properties admin(Properties base, String clientId) {
        Properties p = copy(base);
        p.putIfAbsent(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "30000");
        p.putIfAbsent(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "60000");
        putClientId(p, clientId);
        return p;
    }

    /** A {@link Properties} as a map, e.g. for {@code Serde.configure(...)}. */
    public static Map<String, Object> asMap(Properties p) {
        Map<String, Object> m = new java.util.LinkedHashMap<>();
        for (String k : p.stringPropertyNames()) {
            m.put(k, p.getProperty(k));
        }
        return m;
    }

    private static void putClientId(Properties p, String clientId) {
        if (clientId != null) {
            p.putIfAbsent(ProducerConfig.CLIENT_ID_CONFIG, clientId);
        }
    }

    private static Properties copy(Properties base) {
        Properties p = new Properties();
        if (base != null) {
            for (String k : base.stringPropertyNames()) {
                p.put(k, base.getProperty(k));
            }
        }
        return p;
    }
}
