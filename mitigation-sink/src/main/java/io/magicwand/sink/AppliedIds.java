package io.magicwand.sink;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The decision ids the sink has already handled, for idempotency.
 *
 * <p>The source of truth is mw.mitigation-results itself (key = decision_id): a result is produced
 * (and acknowledged) before the decision's offset is committed, so after a crash any redelivered
 * decision either has a result there — and is skipped as a duplicate — or was never reported. At
 * start-up the sink reads back the results of the last {@code idempotency.window.ms} (by timestamp,
 * so the read is bounded even on a long-lived topic); while running it adds each id it reports.
 * Memory is bounded: beyond {@code idempotency.max.ids} the oldest ids are forgotten first.
 */
public final class AppliedIds {
    private static final Logger log = LoggerFactory.getLogger(AppliedIds.class);

    private final int maxIds;
    private final LinkedHashMap<String, Boolean> ids;

    public AppliedIds(int maxIds) {
        this.maxIds = Math.max(1, maxIds);
        this.ids = new LinkedHashMap<>(1024, 0.75f, false) {
            private static final long serialVersionUID = 1L;

            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
                return size() > AppliedIds.this.maxIds;
            }
        };
    }

    public synchronized boolean contains(String id) {
        return ids.containsKey(id);
    }

    public synchronized void add(String id) {
        ids.put(id, Boolean.TRUE);
    }

    public synchronized int size() {
        return ids.size();
    }

    /**
     * Reads the keys of {@code topic} written in the last {@code windowMs} into this set. Records
     * without a key are ignored (results are always keyed by decision id).
     *
     * @return how many keys were read
     */
    public int loadFrom(Properties consumerProps, String topic, long windowMs, long nowMs) {
        Properties p = new Properties();
        p.putAll(consumerProps);
        p.remove(ConsumerConfig.GROUP_ID_CONFIG); // assign(), no group: this read must not move any offsets
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "5000");
        int n = 0;
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
            List<PartitionInfo> infos = c.partitionsFor(topic, Duration.ofSeconds(30));
            if (infos == null || infos.isEmpty()) {
                return 0;
            }
            List<TopicPartition> tps = new ArrayList<>();
            infos.forEach(i -> tps.add(new TopicPartition(topic, i.partition())));
            c.assign(tps);
            Map<TopicPartition, Long> since = new HashMap<>();
            tps.forEach(tp -> since.put(tp, Math.max(0, nowMs - windowMs)));
            Map<TopicPartition, OffsetAndTimestamp> start = c.offsetsForTimes(since, Duration.ofSeconds(30));
            Map<TopicPartition, Long> end = c.endOffsets(tps, Duration.ofSeconds(30));
            List<TopicPartition> todo = new ArrayList<>();
            for (TopicPartition tp : tps) {
                OffsetAndTimestamp o = start.get(tp);
                long from = o == null ? end.get(tp) : o.offset();
                c.seek(tp, from);
                if (from < end.get(tp)) {
                    todo.add(tp);
                }
            }
            long deadline = System.currentTimeMillis() + 120_000;
            while (!todo.isEmpty()) {
                if (System.currentTimeMillis() > deadline) {
                    throw new IllegalStateException("reading back " + topic + " for idempotency took over 120 s; "
                            + "lower idempotency.window.ms or check the broker");
                }
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) {
                    if (r.key() != null) {
                        add(new String(r.key(), StandardCharsets.UTF_8));
                        n++;
                    }
                }
                todo.removeIf(tp -> c.position(tp) >= end.get(tp));
            }
        }
        log.info("read back {} handled decision ids from {} (window {} ms)", n, topic, windowMs);
        return n;
    }
}
