package io.magicwand.streams.features;

import io.magicwand.streams.internal.Bin;

/**
 * Running per-connection statistics over data operations, CICFlowMeter style. An operation is an
 * increase of a cumulative byte counter: a recv (in) or a send (out) of {@code delta} bytes at time
 * {@code ts}. Fed in order (see {@link FlowState} for the reorder buffer); everything is O(1) per
 * operation and O(1) in size, so a long-lived connection costs no more state than a short one.
 */
final class FlowStats {
    static final int IN = 1;
    static final int OUT = 2;

    long curIn;
    long curOut;
    long recvOps;
    long sendOps;
    double inSum;
    double inSumSq;
    long inMin = -1;
    long inMax;
    double outSum;
    double outSumSq;
    long outMin = -1;
    long outMax;
    long iatN;
    double iatSum;
    double iatSumSq;
    double iatMin = -1;
    double iatMax;
    long inIatN;
    double inIatSum;
    double inIatSumSq;
    double inIatMax;
    long outIatN;
    double outIatSum;
    double outIatSumSq;
    double outIatMax;
    long activeN;
    double activeSum;
    double activeMax;
    long activeStart = -1;
    long idleN;
    double idleSum;
    double idleMax;
    long lastOpTs = -1;
    int lastOpDir;
    long lastInTs = -1;
    long lastOutTs = -1;
    long firstInTs = -1;
    long firstOutTs = -1;
    long firstInOpBytes = -1;
    long serverWait;
    long sendWait;
    long sendWaitBytes;

    /** Applies one observation of the cumulative counters at {@code ts}. */
    void apply(long ts, long cumIn, long cumOut, FlowParams p) {
        long dIn = cumIn - curIn;
        long dOut = cumOut - curOut;
        if (dIn > 0) {
            op(ts, IN, dIn, p);
            curIn = cumIn;
        }
        if (dOut > 0) {
            op(ts, OUT, dOut, p);
            curOut = cumOut;
        }
    }

    private void op(long ts, int dir, long n, FlowParams p) {
        if (lastOpTs >= 0) {
            // Observations are sorted by cumulative bytes; a clock that stepped back gives gap 0.
            long gap = Math.max(0, ts - lastOpTs);
            iatN++;
            iatSum += gap;
            iatSumSq += (double) gap * gap;
            iatMin = iatMin < 0 ? gap : Math.min(iatMin, gap);
            iatMax = Math.max(iatMax, gap);
            if (gap >= p.idleThresholdMs()) {
                idleN++;
                idleSum += gap;
                idleMax = Math.max(idleMax, gap);
                double active = lastOpTs - activeStart;
                activeN++;
                activeSum += active;
                activeMax = Math.max(activeMax, active);
                activeStart = ts;
            }
            if (dir == IN && lastOpDir == IN) {
                serverWait += gap;
            }
            if (dir == OUT && lastOpDir == OUT && gap >= p.sendWaitMinMs()) {
                sendWait += gap;
                sendWaitBytes += n;
            }
        } else {
            activeStart = ts;
        }
        if (dir == IN) {
            if (lastInTs >= 0) {
                long g = Math.max(0, ts - lastInTs);
                inIatN++;
                inIatSum += g;
                inIatSumSq += (double) g * g;
                inIatMax = Math.max(inIatMax, g);
            }
            lastInTs = Math.max(lastInTs, ts);
            recvOps++;
            inSum += n;
            inSumSq += (double) n * n;
            inMin = inMin < 0 ? n : Math.min(inMin, n);
            inMax = Math.max(inMax, n);
            if (firstInTs < 0) {
                firstInTs = ts;
                firstInOpBytes = n;
            }
        } else {
            if (lastOutTs >= 0) {
                long g = Math.max(0, ts - lastOutTs);
                outIatN++;
                outIatSum += g;
                outIatSumSq += (double) g * g;
                outIatMax = Math.max(outIatMax, g);
            }
            lastOutTs = Math.max(lastOutTs, ts);
            sendOps++;
            outSum += n;
            outSumSq += (double) n * n;
            outMin = outMin < 0 ? n : Math.min(outMin, n);
            outMax = Math.max(outMax, n);
            if (firstOutTs < 0) {
                firstOutTs = ts;
            }
        }
        lastOpTs = Math.max(lastOpTs, ts);
        lastOpDir = dir;
    }

    static double mean(double sum, long n) {
        return n == 0 ? 0.0 : sum / n;
    }

    /** Population standard deviation from running sums (clamped: rounding can make the variance slightly negative). */
    static double std(double sum, double sumSq, long n) {
        if (n == 0) {
            return 0.0;
        }
        double m = sum / n;
        return Math.sqrt(Math.max(0.0, sumSq / n - m * m));
    }

    FlowStats copy() {
        FlowStats c = new FlowStats();
        Bin.Out o = new Bin.Out();
        write(o);
        c.read(new Bin.In(o.toBytes()));
        return c;
    }

    void write(Bin.Out o) {
        o.i64(curIn).i64(curOut).i64(recvOps).i64(sendOps)
                .f64(inSum).f64(inSumSq).i64(inMin).i64(inMax)
                .f64(outSum).f64(outSumSq).i64(outMin).i64(outMax)
                .i64(iatN).f64(iatSum).f64(iatSumSq).f64(iatMin).f64(iatMax)
                .i64(inIatN).f64(inIatSum).f64(inIatSumSq).f64(inIatMax)
                .i64(outIatN).f64(outIatSum).f64(outIatSumSq).f64(outIatMax)
                .i64(activeN).f64(activeSum).f64(activeMax).i64(activeStart)
                .i64(idleN).f64(idleSum).f64(idleMax)
                .i64(lastOpTs).i8(lastOpDir).i64(lastInTs).i64(lastOutTs)
                .i64(firstInTs).i64(firstOutTs).i64(firstInOpBytes)
                .i64(serverWait).i64(sendWait).i64(sendWaitBytes);
    }

    void read(Bin.In in) {
        curIn = in.i64();
        curOut = in.i64();
        recvOps = in.i64();
        sendOps = in.i64();
        inSum = in.f64();
        inSumSq = in.f64();
        inMin = in.i64();
        inMax = in.i64();
        outSum = in.f64();
        outSumSq = in.f64();
        outMin = in.i64();
        outMax = in.i64();
        iatN = in.i64();
        iatSum = in.f64();
        iatSumSq = in.f64();
        iatMin = in.f64();
        iatMax = in.f64();
        inIatN = in.i64();
        inIatSum = in.f64();
        inIatSumSq = in.f64();
        inIatMax = in.f64();
        outIatN = in.i64();
        outIatSum = in.f64();
        outIatSumSq = in.f64();
        outIatMax = in.f64();
        activeN = in.i64();
        activeSum = in.f64();
        activeMax = in.f64();
        activeStart = in.i64();
        idleN = in.i64();
        idleSum = in.f64();
        idleMax = in.f64();
        lastOpTs = in.i64();
        lastOpDir = in.i8();
        lastInTs = in.i64();
        lastOutTs = in.i64();
        firstInTs = in.i64();
        firstOutTs = in.i64();
        firstInOpBytes = in.i64();
        serverWait = in.i64();
        sendWait = in.i64();
        sendWaitBytes = in.i64();
    }
}
