package io.magicwand.streams.detector;

import io.magicwand.avro.EndReason;
import io.magicwand.avro.EndedBy;
import io.magicwand.avro.FlowFeatures;
import io.magicwand.avro.PeerFeatures;
import java.util.List;

/** Scripted feature records for detector tests. */
final class Ff {
    private Ff() {
    }

    /** An open connection of {@code addr} at {@code now}, {@code age} ms old, all counters zero. */
    static FlowFeatures.Builder open(String addr, long socketId, long now, long age) {
        return FlowFeatures.newBuilder()
                .setHost("h1").setInsId(1).setSocketId(socketId)
                .setLocalAddr("10.0.0.1").setLocalPort(80).setRemoteAddr(addr).setRemotePort((int) (10000 + socketId % 50000))
                .setFinal$(false).setStartMs(now - age).setLastEventMs(now - age).setEmittedMs(now).setDurationMs(age)
                .setBytesIn(0).setBytesOut(0).setRecvOps(0).setSendOps(0)
                .setInOpBytesMean(0).setInOpBytesStd(0).setInOpBytesMin(0).setInOpBytesMax(0)
                .setOutOpBytesMean(0).setOutOpBytesStd(0).setOutOpBytesMin(0).setOutOpBytesMax(0)
                .setIatMeanMs(0).setIatStdMs(0).setIatMaxMs(0).setIatMinMs(0)
                .setInIatMeanMs(0).setInIatStdMs(0).setInIatMaxMs(0)
                .setOutIatMeanMs(0).setOutIatStdMs(0).setOutIatMaxMs(0)
                .setActiveMeanMs(0).setActiveMaxMs(0).setIdleMeanMs(0).setIdleMaxMs(0)
                .setFirstByteInMs(-1).setFirstByteOutMs(-1).setDownUpRatio(0)
                .setBytesPerSec(0).setInBytesPerSec(0).setOutBytesPerSec(0)
                .setServerWaitMs(age).setSinceLastInMs(age).setSinceLastOutMs(age)
                .setEndReason(EndReason.OPEN).setEndedBy(EndedBy.NONE);
    }

    /** Sets bytes and the derived rates and ratio from the duration. */
    static FlowFeatures.Builder bytes(FlowFeatures.Builder b, long in, long out, long recvOps, long sendOps, long firstIn) {
        double secs = Math.max(b.getDurationMs(), 1) / 1000.0;
        return b.setBytesIn(in).setBytesOut(out).setRecvOps(recvOps).setSendOps(sendOps).setInFirstOpBytes(firstIn)
                .setInBytesPerSec(in / secs).setOutBytesPerSec(out / secs).setBytesPerSec((in + out) / secs)
                .setDownUpRatio(in == 0 ? 0 : (double) out / in);
    }

    static FlowFeatures.Builder closed(FlowFeatures.Builder b) {
        return b.setFinal$(true).setEndReason(EndReason.CLOSED).setEndedBy(EndedBy.SERVER);
    }

    static PeerFeatures peer(String addr, long end, long newConns, long open, long slow) {
        return PeerFeatures.newBuilder().setHost("h1").setRemoteAddr(addr).setWindowStartMs(end - 10_000).setWindowEndMs(end)
                .setNewConnections(newConns).setOpenConnections(open).setConnAgeMeanMs(500).setConnAgeMaxMs(1000)
                .setNoResponseShare(open == 0 ? 0 : (double) slow / open).setSlowConnections(slow).setRequestBytesPerSec(10)
                .setMeanRequestBytes(100).setInsIds(List.of(1)).build();
    }
}
