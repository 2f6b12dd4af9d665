package io.magicwand.streams.features;

import io.magicwand.avro.EndReason;
import io.magicwand.avro.EndedBy;
import io.magicwand.avro.FlowFeatures;
import io.magicwand.streams.internal.Bin;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.serialization.Serde;

/**
 * State of one connection in the flow store (key {@code <host>/<socket_id>}).
 *
 * <p>Bytes are cumulative per socket, so every observation is a point (ts, bytes_in, bytes_out) on two
 * monotone counters. Observations are kept in a small reorder buffer sorted by (bytes_in + bytes_out,
 * ts) — the true order of a socket's observations, whatever their timestamps — and folded into the
 * committed {@link FlowStats} once they are more than the grace older than the newest one (or the
 * buffer is full). An observation whose counters equal one already seen is a duplicate and ignored, so
 * re-delivered records never count twice; one that is older than the committed horizon only raises the
 * byte totals (its operation cannot be placed any more) and is counted as late.
 */
final class FlowState {
    private static final int VERSION = 1;

    String host;
    int insId = -1;
    long socketId;
    String localAddr = "";
    int localPort;
    String remoteAddr = "";
    int remotePort;
    long startMs;
    long lastEventMs;
    /** Newest observation time seen. */
    long maxTs;
    /** Highest cumulative counters seen (totals, even from late observations). */
    long maxIn;
    long maxOut;
    boolean closed;
    /** The application connected out (a CONNECT was seen). */
    boolean outbound;
    long closedWallMs;
    long lastEmitWallMs;
    int checkpointIdx;
    final FlowStats committed = new FlowStats();
    /** Sorted by (in + out, ts). Each entry {ts, cumIn, cumOut}. */
    final List<long[]> pending = new ArrayList<>();

    /** Result of {@link #observe}. */
    enum Outcome { APPLIED, DUPLICATE, LATE }

    Outcome observe(long ts, long cumIn, long cumOut, long graceMs, int reorderMax, FlowParams p) {
        lastEventMs = Math.max(lastEventMs, ts);
        maxTs = Math.max(maxTs, ts);
        boolean newTotals = cumIn > maxIn || cumOut > maxOut;
        maxIn = Math.max(maxIn, cumIn);
        maxOut = Math.max(maxOut, cumOut);
        if (cumIn == committed.curIn && cumOut == committed.curOut) {
            return Outcome.DUPLICATE;
        }
        for (long[] q : pending) {
            if (q[1] == cumIn && q[2] == cumOut) {
                return Outcome.DUPLICATE;
            }
        }
        if (cumIn < committed.curIn || cumOut < committed.curOut) {
            // Older than what is already folded: only the totals can still change.
            return newTotals ? Outcome.APPLIED : Outcome.LATE;
        }
        long[] obs = {ts, cumIn, cumOut};
        int i = pending.size();
        while (i > 0 && compare(pending.get(i - 1), obs) > 0) {
            i--;
        }
        pending.add(i, obs);
        commit(graceMs, reorderMax, p);
        return Outcome.APPLIED;
    }

    private static int compare(long[] a, long[] b) {
        int c = Long.compare(a[1] + a[2], b[1] + b[2]);
        return c != 0 ? c : Long.compare(a[0], b[0]);
    }

    /** Folds observations older than the grace (or beyond the buffer size) into the committed stats. */
    void commit(long graceMs, int reorderMax, FlowParams p) {
        while (!pending.isEmpty() && (pending.size() > reorderMax || pending.get(0)[0] < maxTs - graceMs)) {
            long[] o = pending.remove(0);
            committed.apply(o[0], Math.max(o[1], committed.curIn), Math.max(o[2], committed.curOut), p);
        }
    }

    /** Committed stats with every pending observation and the late totals folded in. */
    FlowStats view(FlowParams p) {
        FlowStats s = committed.copy();
        for (long[] o : pending) {
            s.apply(o[0], Math.max(o[1], s.curIn), Math.max(o[2], s.curOut), p);
        }
        // Bytes seen only in late observations: count them at the newest time.
        if (maxIn > s.curIn || maxOut > s.curOut) {
            s.apply(maxTs, maxIn, maxOut, p);
        }
        return s;
    }

    /**
     * Features as of {@code nowMs} (wall clock for periodic records, the close time for final ones).
     * {@code reason} OPEN gives a periodic record; CLOSED or EXPIRED a final one.
     */
    FlowFeatures features(long nowMs, EndReason reason, FlowParams p) {
        FlowStats s = view(p);
        boolean isFinal = reason != EndReason.OPEN;
        long ref = isFinal ? lastEventMs : Math.max(nowMs, lastEventMs);
        long duration = Math.max(0, (isFinal ? lastEventMs : ref) - startMs);
        double secs = Math.max(duration, 1) / 1000.0;
        // Current (open) active period and idle gap.
        double activeMean;
        double activeMax = s.activeMax;
        long activeN = s.activeN;
        double activeSum = s.activeSum;
        if (s.lastOpTs >= 0) {
            double cur = s.lastOpTs - s.activeStart;
            activeN++;
            activeSum += cur;
            activeMax = Math.max(activeMax, cur);
        }
        activeMean = FlowStats.mean(activeSum, activeN);
        double idleMax = s.idleMax;
        long curGap = ref - (s.lastOpTs >= 0 ? s.lastOpTs : startMs);
        if (!isFinal && curGap >= p.idleThresholdMs()) {
            idleMax = Math.max(idleMax, curGap);
        }
        long serverWait = s.serverWait;
        if (!isFinal && (s.lastOpDir == FlowStats.IN || s.lastOpTs < 0)) {
            serverWait += Math.max(0, curGap);
        }
        EndedBy endedBy;
        if (!isFinal) {
            endedBy = EndedBy.NONE;
        } else if (s.lastOpDir == FlowStats.IN) {
            endedBy = EndedBy.CLIENT;
        } else if (s.lastOpDir == FlowStats.OUT) {
            endedBy = EndedBy.SERVER;
        } else {
            endedBy = EndedBy.UNKNOWN;
        }
        return FlowFeatures.newBuilder()
                .setHost(host)
                .setInsId(insId)
                .setSocketId(socketId)
                .setLocalAddr(localAddr)
                .setLocalPort(localPort)
                .setRemoteAddr(remoteAddr)
                .setRemotePort(remotePort)
                .setFinal$(isFinal)
                .setStartMs(startMs)
                .setLastEventMs(lastEventMs)
                .setEmittedMs(ref)
                .setDurationMs(duration)
                .setBytesIn(s.curIn)
                .setBytesOut(s.curOut)
                .setRecvOps(s.recvOps)
                .setSendOps(s.sendOps)
                .setInOpBytesMean(FlowStats.mean(s.inSum, s.recvOps))
                .setInOpBytesStd(FlowStats.std(s.inSum, s.inSumSq, s.recvOps))
                .setInOpBytesMin(Math.max(0, s.inMin))
                .setInOpBytesMax(s.inMax)
                .setOutOpBytesMean(FlowStats.mean(s.outSum, s.sendOps))
                .setOutOpBytesStd(FlowStats.std(s.outSum, s.outSumSq, s.sendOps))
                .setOutOpBytesMin(Math.max(0, s.outMin))
                .setOutOpBytesMax(s.outMax)
                .setIatMeanMs(FlowStats.mean(s.iatSum, s.iatN))
                .setIatStdMs(FlowStats.std(s.iatSum, s.iatSumSq, s.iatN))
                .setIatMaxMs(s.iatMax)
                .setIatMinMs(Math.max(0, s.iatMin))
                .setInIatMeanMs(FlowStats.mean(s.inIatSum, s.inIatN))
                .setInIatStdMs(FlowStats.std(s.inIatSum, s.inIatSumSq, s.inIatN))
                .setInIatMaxMs(s.inIatMax)
                .setOutIatMeanMs(FlowStats.mean(s.outIatSum, s.outIatN))
                .setOutIatStdMs(FlowStats.std(s.outIatSum, s.outIatSumSq, s.outIatN))
                .setOutIatMaxMs(s.outIatMax)
                .setActiveMeanMs(activeMean)
                .setActiveMaxMs(activeMax)
                .setIdleMeanMs(FlowStats.mean(s.idleSum, s.idleN))
                .setIdleMaxMs(idleMax)
                .setFirstByteInMs(s.firstInTs < 0 ? -1 : Math.max(0, s.firstInTs - startMs))
                .setFirstByteOutMs(s.firstOutTs < 0 ? -1 : Math.max(0, s.firstOutTs - startMs))
                .setDownUpRatio(s.curIn == 0 ? 0.0 : (double) s.curOut / s.curIn)
                .setBytesPerSec((s.curIn + s.curOut) / secs)
                .setInBytesPerSec(s.curIn / secs)
                .setOutBytesPerSec(s.curOut / secs)
                .setServerWaitMs(serverWait)
                .setSinceLastInMs(Math.max(0, ref - (s.lastInTs >= 0 ? s.lastInTs : startMs)))
                .setSinceLastOutMs(Math.max(0, ref - (s.lastOutTs >= 0 ? s.lastOutTs : startMs)))
                .setInFirstOpBytes(s.firstInOpBytes)
                .setSendWaitMs(s.sendWait)
                .setSendWaitBytes(s.sendWaitBytes)
                .setEndReason(reason)
                .setOutbound(outbound)
                .setEndedBy(endedBy)
                .build();
    }

    /** Whether the server is waiting on the client (no data yet, or the last data flowed in). */
    boolean waitingOnClient(FlowParams p) {
        FlowStats s = view(p);
        return s.lastOpTs < 0 || s.lastOpDir == FlowStats.IN;
    }

    static final Serde<FlowState> SERDE = Bin.serde("flow state", FlowState::write, FlowState::read);

    private static void write(FlowState st, Bin.Out o) {
        o.i8(VERSION).str(st.host).i32(st.insId).i64(st.socketId).str(st.localAddr).i32(st.localPort)
                .str(st.remoteAddr).i32(st.remotePort).i64(st.startMs).i64(st.lastEventMs).i64(st.maxTs)
                .i64(st.maxIn).i64(st.maxOut).bool(st.closed).i64(st.closedWallMs).i64(st.lastEmitWallMs)
                .i32(st.checkpointIdx).bool(st.outbound);
        st.committed.write(o);
        o.i32(st.pending.size());
        for (long[] p : st.pending) {
            o.i64(p[0]).i64(p[1]).i64(p[2]);
        }
    }

    private static FlowState read(Bin.In in) {
        Bin.version(in, "flow state", VERSION);
        FlowState st = new FlowState();
        st.host = in.str();
        st.insId = in.i32();
        st.socketId = in.i64();
        st.localAddr = in.str();
        st.localPort = in.i32();
        st.remoteAddr = in.str();
        st.remotePort = in.i32();
        st.startMs = in.i64();
        st.lastEventMs = in.i64();
        st.maxTs = in.i64();
        st.maxIn = in.i64();
        st.maxOut = in.i64();
        st.closed = in.bool();
        st.closedWallMs = in.i64();
        st.lastEmitWallMs = in.i64();
        st.checkpointIdx = in.i32();
        st.outbound = in.bool();
        st.committed.read(in);
        int n = in.i32();
        if (n < 0 || n > 1_000_000) {
            throw new org.apache.kafka.common.errors.SerializationException("flow state: bad pending count " + n);
        }
        for (int i = 0; i < n; i++) {
            st.pending.add(new long[] {in.i64(), in.i64(), in.i64()});
        }
        return st;
    }
}
