package io.magicwand.serde;

import io.magicwand.avro.FlowFeatures;
import io.magicwand.avro.InsLoad;
import io.magicwand.avro.MitigationDecision;
import io.magicwand.avro.MitigationResult;
import io.magicwand.avro.PeerFeatures;
import io.magicwand.avro.SocketEvent;
import io.magicwand.avro.SocketOp;
import java.util.ArrayList;
import java.util.List;
import org.apache.avro.Schema;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificRecord;

/** Sample records of every topic's type, every field set to a distinct non-default value. */
final class Samples {
    static final List<Class<? extends SpecificRecord>> ALL_TYPES = List.of(SocketEvent.class, FlowFeatures.class,
            PeerFeatures.class, InsLoad.class, MitigationDecision.class, MitigationResult.class);

    private Samples() {
    }

    static SocketEvent socketEvent(long seq) {
        return SocketEvent.newBuilder()
                .setHost("host-a").setInsId(3).setSeq(seq).setObs(SocketOp.RECV)
                .setSessionStartSec(1_700_000_000L).setSessionStartNsec(123_456_789L)
                .setTsSec(1_700_000_005L).setTsNsec(987_654_321L)
                .setSocketId(42).setLocalAf(4).setLocalAddr("10.0.0.1").setLocalPort(80)
                .setRemoteAf(6).setRemoteAddr("2001:db8::7").setRemotePort(51234)
                .setBytesIn(1000 + seq).setBytesOut(5000).setExtra(0).setIngestTsMs(1_700_000_005_123L)
                .build();
    }

    /** An instance of {@code type} with every field filled from {@code salt}, unions with their non-null branch. */
    @SuppressWarnings("unchecked")
    static <T extends SpecificRecord> T filled(Class<T> type, int salt) {
        SpecificData model = SpecificData.getForClass(type);
        Schema schema = model.getSchema(type);
        T rec = (T) model.newRecord(null, schema);
        for (Schema.Field f : schema.getFields()) {
            rec.put(f.pos(), value(model, f.schema(), salt * 100 + f.pos()));
        }
        return rec;
    }

    private static Object value(SpecificData model, Schema s, int n) {
        switch (s.getType()) {
            case STRING: return "s" + n;
            case INT: return n;
            case LONG: return 1_000_000_000_000L + n;
            case DOUBLE: return n + 0.25;
            case FLOAT: return n + 0.5f;
            case BOOLEAN: return n % 2 == 1;
            case ENUM: return model.createEnum(s.getEnumSymbols().get(n % s.getEnumSymbols().size()), s);
            case ARRAY: {
                List<Object> l = new ArrayList<>();
                l.add(value(model, s.getElementType(), n));
                l.add(value(model, s.getElementType(), n + 1));
                return l;
            }
            case UNION: {
                for (Schema branch : s.getTypes()) {
                    if (branch.getType() != Schema.Type.NULL) {
                        return value(model, branch, n);
                    }
                }
                return null;
            }
            default: throw new IllegalArgumentException("sample value for " + s + " not implemented");
        }
    }
}
