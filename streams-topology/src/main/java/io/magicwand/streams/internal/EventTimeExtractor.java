package io.magicwand.streams.internal;

import io.magicwand.avro.FlowFeatures;
import io.magicwand.avro.PeerFeatures;
import io.magicwand.avro.SocketEvent;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.streams.processor.TimestampExtractor;

/**
 * Event time from the record itself: a SocketEvent's observation time (ts_sec/ts_nsec), a
 * FlowFeatures' emitted_ms, a PeerFeatures' window_end_ms. Anything else (or an impossible value)
 * falls back to the record timestamp, then to the partition time, so a bad timestamp never stops
 * processing.
 */
public final class EventTimeExtractor implements TimestampExtractor {
    @Override
    public long extract(ConsumerRecord<Object, Object> record, long partitionTime) {
        Object v = record.value();
        long ts = -1;
        if (v instanceof SocketEvent e && e.getTsSec() > 0) {
            ts = Keys.eventTimeMs(e);
        } else if (v instanceof FlowFeatures f) {
            ts = f.getEmittedMs();
        } else if (v instanceof PeerFeatures p) {
            ts = p.getWindowEndMs();
        }
        if (ts <= 0) {
            ts = record.timestamp();
        }
        if (ts < 0) {
            ts = Math.max(0, partitionTime);
        }
        return ts;
    }
}
