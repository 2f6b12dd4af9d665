package io.magicwand.streams.detector;

import io.magicwand.avro.Action;
import io.magicwand.avro.FlowFeatures;
import io.magicwand.avro.MitigationDecision;
import io.magicwand.avro.PeerFeatures;
import io.magicwand.avro.TargetKind;
import io.magicwand.netflow.FeatureNames;
import io.magicwand.streams.internal.Counters;
import io.magicwand.streams.internal.Keys;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Per address: applies {@link Rules} to its flow and peer features and turns findings into decisions.
 * A suspect connection first gets its receive (or send) timeout tightened; it is closed when its
 * address gets blocked or when it stays suspect up to {@code close.single.age.ms}. An address is
 * blocked (once; never again while banned) when enough of its connections are suspect within the
 * window, or when its peer features show a flood or many slow connections; a wall-clock punctuator
 * emits the UNBLOCK when the ban expires. Decision ids are hashes of what the decision is about and
 * of the evidence's event time, so re-processing the same input gives the same ids.
 */
final class DetectorProcessor implements Processor<String, DetectorInput, String, MitigationDecision> {
    static final String STORE = "detector-addresses";

    private final DetectorConfig c;
    private final Rules rules;
    private final Counters counters;
    private final AllowList allow;
    private final long window;
    private final long closeSingleAge;
    private final long suspectsPerBlock;
    private final long rangeMinFlows;
    private final long tighten;
    private final long banTtl;
    private final long decisionTtl;
    private final long unblockTtl;
    private ProcessorContext<String, MitigationDecision> ctx;
    private KeyValueStore<String, AddrState> store;

    DetectorProcessor(DetectorConfig c, Counters counters) {
        this.c = c;
        this.rules = new Rules(c);
        this.counters = counters;
        this.allow = c.allowList();
        this.window = c.ms(c.suspectWindow);
        this.closeSingleAge = c.ms(c.closeSingleAge);
        this.suspectsPerBlock = c.ms(c.suspectsPerBlock);
        this.rangeMinFlows = c.ms(c.rangeMinFlows);
        this.tighten = c.ms(c.tightenTimeout);
        this.banTtl = c.ms(c.banTtl);
        this.decisionTtl = c.ms(c.decisionTtl);
        this.unblockTtl = c.ms(c.unblockTtl);
    }

    @Override
    public void init(ProcessorContext<String, MitigationDecision> context) {
        this.ctx = context;
        this.store = context.getStateStore(STORE);
        context.schedule(Duration.ofMillis(c.ms(c.punctuate)), PunctuationType.WALL_CLOCK_TIME, this::punctuate);
    }

    @Override
    public void process(Record<String, DetectorInput> record) {
        DetectorInput in = record.value();
        if (in == null) {
            return;
        }
        if (in.flow() != null) {
            onFlow(in.flow());
        } else if (in.peer() != null) {
            onPeer(in.peer());
        }
    }

    private AddrState state(String host, String addr) {
        AddrState st = store.get(Keys.address(host, addr));
        if (st == null) {
            st = new AddrState();
            st.host = host;
            st.addr = addr;
        }
        return st;
    }

    private void onFlow(FlowFeatures f) {
        counters.inc("mw_detector_flow_features_total");
        if (f.getOutbound()) {
            // The application's own outgoing connection: the remote is a server, not a client.
            counters.inc("mw_detector_outbound_ignored_total");
            return;
        }
        if (allow.contains(f.getRemoteAddr())) {
            counters.inc("mw_detector_allowlisted_total");
            return;
        }
        Rules.Finding fd = rules.classify(f);
        String key = Keys.address(f.getHost(), f.getRemoteAddr());
        AddrState st = store.get(key);
        if (fd == null) {
            if (st != null && f.getFinal$()) {
                AddrState.Suspect s = st.find(f.getSocketId());
                if (s != null && s.open) {
                    s.open = false;
                    store.put(key, st);
                }
            }
            return;
        }
        if (st == null) {
            st = state(f.getHost(), f.getRemoteAddr());
        }
        long now = f.getEmittedMs();
        st.prune(now - window);
        boolean open = !f.getFinal$();
        AddrState.Suspect s = st.upsert(f.getSocketId(), f.getInsId(), fd.kind(), now, open);
        counters.inc("mw_detector_findings_total{kind=\"" + fd.kind() + "\"}");
        boolean slowKind = !fd.kind().equals(Rules.RANGE);
        if (open && slowKind && !s.tightened) {
            int attr = fd.kind().equals(Rules.SLOWREAD) ? FeatureNames.SNDTIMEO : FeatureNames.RCVTIMEO;
            emit(decision(st, f.getInsId(), TargetKind.SOCKET, Action.SET_ATTRIBUTE, fd.kind(), now, decisionTtl,
                    "socket " + f.getSocketId() + "|" + attr)
                    .setSocketId(f.getSocketId())
                    .setAttributeName(attr)
                    .setAttributeValue(tighten)
                    .setReason(fd.reason() + "; tightening " + (attr == FeatureNames.SNDTIMEO ? "sndtimeo" : "rcvtimeo") + " to " + tighten + " ms"));
            s.tightened = true;
        }
        long count = st.suspects.size();
        long needed = fd.kind().equals(Rules.RANGE) ? rangeMinFlows : suspectsPerBlock;
        boolean blockedNow = false;
        if (!st.banned() && count >= needed) {
            block(st, f.getInsId(), fd.kind(), now, fd.reason() + "; " + count + " suspect connections from " + st.addr
                    + " within " + window + " ms (>= " + needed + ")");
            blockedNow = true;
        }
        if (open && !s.closed && (st.banned() || f.getDurationMs() >= closeSingleAge)) {
            String why = st.banned() ? "address " + st.addr + " is blocked (" + st.banKind + ")"
                    : "still suspect at " + f.getDurationMs() + " ms (>= close.single.age.ms " + closeSingleAge + ")";
            close(st, s, now, fd.reason() + "; " + why);
        }
        if (blockedNow) {
            closeOpenSuspects(st, now);
        }
        store.put(key, st);
    }

    private void onPeer(PeerFeatures p) {
        counters.inc("mw_detector_peer_features_total");
        if (allow.contains(p.getRemoteAddr())) {
            counters.inc("mw_detector_allowlisted_total");
            return;
        }
        Rules.Finding fd = rules.flood(p);
        String key = Keys.address(p.getHost(), p.getRemoteAddr());
        AddrState existing = store.get(key);
        if (fd == null) {
            fd = rules.manySlow(p, existing == null ? Rules.SLOWLORIS : existing.dominantKind(Rules.SLOWLORIS));
        }
        if (fd == null) {
            return;
        }
        counters.inc("mw_detector_findings_total{kind=\"" + fd.kind() + "\"}");
        AddrState st = existing == null ? state(p.getHost(), p.getRemoteAddr()) : existing;
        long now = p.getWindowEndMs();
        st.prune(now - window);
        if (!st.banned()) {
            int ins = p.getInsIds().size() == 1 ? p.getInsIds().get(0) : -1;
            block(st, ins, fd.kind(), now, fd.reason());
            closeOpenSuspects(st, now);
        }
        store.put(key, st);
    }

    private void block(AddrState st, int insId, String kind, long now, String reason) {
        MitigationDecision.Builder d = decision(st, insId, TargetKind.ADDRESS, Action.BLOCK, kind, now, banTtl, "block")
                .setAddress(st.addr)
                .setReason(reason + "; blocking " + st.addr + (banTtl == 0 ? " permanently" : " for " + banTtl + " ms"));
        st.banUntil = banTtl == 0 ? Long.MAX_VALUE : now + banTtl;
        st.banId = d.getDecisionId();
        st.banKind = kind;
        emit(d);
    }

    private void close(AddrState st, AddrState.Suspect s, long now, String reason) {
        emit(decision(st, s.insId, TargetKind.SOCKET, Action.CLOSE, s.kind, now, decisionTtl, "socket " + s.socketId)
                .setSocketId(s.socketId)
                .setReason(reason + "; closing socket " + s.socketId));
        s.closed = true;
    }

    private void closeOpenSuspects(AddrState st, long now) {
        for (AddrState.Suspect o : st.suspects) {
            if (o.open && !o.closed && !o.kind.equals(Rules.RANGE)) {
                close(st, o, now, o.kind + ": suspect connection of " + st.addr + ", which is blocked (" + st.banKind + ")");
            }
        }
    }

    private MitigationDecision.Builder decision(AddrState st, int insId, TargetKind target, Action action, String kind,
                                                long now, long ttl, String subject) {
        String discriminator = action == Action.BLOCK ? Long.toString(now) : "";
        return MitigationDecision.newBuilder()
                .setDecisionId(id(st.host, st.addr, subject, action.name(), discriminator))
                .setHost(st.host)
                .setInsId(insId)
                .setTarget(target)
                .setAction(action)
                .setReason("")
                .setDetector("baseline/" + kind)
                .setCreatedAtMs(now)
                .setTtlMs(ttl);
    }

    private void emit(MitigationDecision.Builder d) {
        MitigationDecision m = d.build();
        counters.inc("mw_detector_decisions_total{kind=\"" + m.getDetector().substring("baseline/".length()) + "\",action=\"" + m.getAction() + "\"}");
        ctx.forward(new Record<>(m.getDecisionId(), m, m.getCreatedAtMs()));
    }

    /** Deterministic decision id: the same evidence gives the same id, so re-processing never duplicates. */
    static String id(String... parts) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (String p : parts) {
                md.update(p.getBytes(StandardCharsets.UTF_8));
                md.update((byte) 0);
            }
            return "bl-" + HexFormat.of().formatHex(md.digest(), 0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 missing from the JDK", e);
        }
    }

    private void punctuate(long now) {
        counters.inc("mw_detector_punctuations_total");
        List<KeyValue<String, AddrState>> puts = new ArrayList<>();
        List<String> deletes = new ArrayList<>();
        try (KeyValueIterator<String, AddrState> it = store.all()) {
            while (it.hasNext()) {
                KeyValue<String, AddrState> kv = it.next();
                AddrState st = kv.value;
                boolean changed = false;
                if (st.banned() && st.banUntil != Long.MAX_VALUE && now >= st.banUntil) {
                    MitigationDecision.Builder d = decision(st, -1, TargetKind.ADDRESS, Action.UNBLOCK, st.banKind, now, unblockTtl,
                            "unblock " + st.banId)
                            .setAddress(st.addr)
                            .setReason("ban of " + st.addr + " (" + st.banKind + ", decision " + st.banId + ") expired after "
                                    + banTtl + " ms");
                    emit(d);
                    st.banUntil = 0;
                    st.banId = "";
                    changed = true;
                }
                int before = st.suspects.size();
                st.prune(now - 2 * window);
                changed |= before != st.suspects.size();
                if (!st.banned() && st.suspects.isEmpty()) {
                    deletes.add(kv.key);
                } else if (changed) {
                    puts.add(KeyValue.pair(kv.key, st));
                }
            }
        }
        for (String k : deletes) {
            store.delete(k);
        }
        if (!puts.isEmpty()) {
            store.putAll(puts);
        }
    }
}
