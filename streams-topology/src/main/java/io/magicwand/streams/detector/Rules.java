package io.magicwand.streams.detector;

import io.magicwand.avro.EndReason;
import io.magicwand.avro.FlowFeatures;
import io.magicwand.avro.PeerFeatures;
import java.util.Locale;

/**
 * The baseline rules, as pure functions of one features record. Each returns a {@link Finding} whose
 * reason names the features and thresholds that fired, or null. docs/detector.md explains each rule
 * and its defaults.
 */
public final class Rules {
    public static final String SLOWLORIS = "slowloris";
    public static final String SLOWPOST = "slowpost";
    public static final String SLOWREAD = "slowread";
    public static final String RANGE = "range";
    public static final String FLOOD = "flood";

    /** What fired. */
    public record Finding(String kind, String reason) {
    }

    private final DetectorConfig c;
    private final long minAge;
    private final double maxRate;
    private final long silentAge;
    private final long headBytes;
    private final long readMinWait;
    private final double readMaxDrain;
    private final long readStall;
    private final long rangeReq;
    private final long rangeResp;
    private final double rangeRatio;

    public Rules(DetectorConfig c) {
        this.c = c;
        minAge = c.ms(c.slowMinAge);
        maxRate = c.num(c.slowMaxRate);
        silentAge = c.ms(c.slowSilentAge);
        headBytes = c.ms(c.slowpostHead);
        readMinWait = c.ms(c.slowreadMinWait);
        readMaxDrain = c.num(c.slowreadMaxDrain);
        readStall = c.ms(c.slowreadStall);
        rangeReq = c.ms(c.rangeMinRequest);
        rangeResp = c.ms(c.rangeMinResponse);
        rangeRatio = c.num(c.rangeMinRatio);
    }

    static String fmt(double v) {
        return String.format(Locale.ROOT, "%.1f", v);
    }

    /** First rule that fires for this connection, checked in the order range, slow read, slow request. */
    public Finding classify(FlowFeatures f) {
        Finding r = range(f);
        if (r == null) {
            r = slowRead(f);
        }
        if (r == null) {
            r = slowRequest(f);
        }
        return r;
    }

    /**
     * Slowloris / slow POST: the request trickles in (request rate below mod_reqtimeout's MinRate) and
     * the server has not answered yet, at an age when a benign client would long have sent its whole
     * request in one burst. Slow POST when the first recv was a whole header block and more trickled
     * after it; slowloris otherwise. A connection that sent nothing is a slowloris once it is as old
     * as mod_reqtimeout's first header timeout.
     */
    Finding slowRequest(FlowFeatures f) {
        if (f.getEndReason() != EndReason.OPEN || f.getBytesOut() != 0 || f.getDurationMs() < minAge) {
            return null;
        }
        if (f.getBytesIn() == 0) {
            if (f.getDurationMs() >= silentAge) {
                return new Finding(SLOWLORIS, "slowloris: connection open " + f.getDurationMs() + " ms (>= " + silentAge
                        + ") without sending a byte (mod_reqtimeout header=" + silentAge / 1000 + ")");
            }
            return null;
        }
        if (f.getInBytesPerSec() >= maxRate) {
            return null;
        }
        boolean post = f.getInFirstOpBytes() >= headBytes && f.getRecvOps() >= 2;
        String kind = post ? SLOWPOST : SLOWLORIS;
        String what = post
                ? "slowpost: request head of " + f.getInFirstOpBytes() + " B (>= " + headBytes + ") then body trickled in " + (f.getRecvOps() - 1) + " more recv ops"
                : "slowloris: request head trickled (first recv " + f.getInFirstOpBytes() + " B < " + headBytes + " or nothing since)";
        return new Finding(kind, what + "; open " + f.getDurationMs() + " ms (>= " + minAge + "), in rate " + fmt(f.getInBytesPerSec())
                + " B/s (< " + fmt(maxRate) + ", mod_reqtimeout MinRate), bytes_in=" + f.getBytesIn() + ", no response byte yet (bytes_out=0)");
    }

    /**
     * Slow read: the server sends, then has to wait for the client to drain before it can send
     * again (consecutive sends with waits in between), and the client drains slowly.
     */
    Finding slowRead(FlowFeatures f) {
        if (f.getEndReason() != EndReason.OPEN || f.getBytesOut() == 0 || f.getDurationMs() < minAge) {
            return null;
        }
        long wait = f.getSendWaitMs();
        if (wait >= readMinWait && f.getSendOps() >= 2) {
            double drain = f.getSendWaitBytes() * 1000.0 / wait;
            if (drain < readMaxDrain) {
                return new Finding(SLOWREAD, "slowread: server waited " + wait + " ms (>= " + readMinWait
                        + ") between consecutive sends, client drained " + fmt(drain) + " B/s (< " + fmt(readMaxDrain)
                        + ") of " + f.getBytesOut() + " B sent");
            }
        }
        boolean lastWasSend = f.getSinceLastOutMs() < f.getSinceLastInMs();
        if (wait > 0 && lastWasSend && f.getSinceLastOutMs() >= readStall) {
            return new Finding(SLOWREAD, "slowread: response stalled " + f.getSinceLastOutMs() + " ms (>= " + readStall
                    + ", nginx send_timeout) after send waits of " + wait + " ms");
        }
        return null;
    }

    /**
     * Range-header attack (Apache Killer style): an unusually large request (hundreds of byte
     * ranges) answered with a much larger response. A heuristic: the INS sees sizes, not headers.
     */
    Finding range(FlowFeatures f) {
        if (f.getBytesIn() >= rangeReq && f.getBytesOut() >= rangeResp && f.getDownUpRatio() >= rangeRatio) {
            return new Finding(RANGE, "range: request of " + f.getBytesIn() + " B (>= " + rangeReq + ") answered with "
                    + f.getBytesOut() + " B (>= " + rangeResp + ") in " + f.getSendOps() + " sends, down_up_ratio "
                    + fmt(f.getDownUpRatio()) + " (>= " + fmt(rangeRatio) + ")");
        }
        return null;
    }

    /** Connection flood: more open or new connections from one address than a per-address limit. */
    public Finding flood(PeerFeatures p) {
        long maxOpen = c.ms(c.floodMaxOpen);
        long maxNew = c.ms(c.floodMaxNew);
        String win = (p.getWindowEndMs() - p.getWindowStartMs()) / 1000 + " s window";
        if (p.getOpenConnections() > maxOpen) {
            return new Finding(FLOOD, "flood: " + p.getOpenConnections() + " open connections (> " + maxOpen
                    + ", per-address limit), " + p.getNewConnections() + " new in the " + win);
        }
        if (p.getNewConnections() > maxNew) {
            return new Finding(FLOOD, "flood: " + p.getNewConnections() + " new connections in the " + win + " (> " + maxNew
                    + "), " + p.getOpenConnections() + " open");
        }
        return null;
    }

    /** Many long-lived low-rate connections from one address (PeerFeatures.slow_connections). */
    public Finding manySlow(PeerFeatures p, String kind) {
        long max = c.ms(c.peerMaxSlow);
        if (p.getSlowConnections() >= max) {
            return new Finding(kind, kind + ": " + p.getSlowConnections() + " long-lived low-rate connections waiting on the client (>= "
                    + max + "), no_response_share " + fmt(p.getNoResponseShare()) + ", " + p.getOpenConnections() + " open");
        }
        return null;
    }
}
