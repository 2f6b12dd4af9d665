package io.magicwand.sink;

import io.magicwand.netflow.FeatureNames;
import io.magicwand.netflow.FeatureRequest;
import io.magicwand.netflow.FeatureResponse;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends a decision's requests to one mwcomms, one after the other, and decides the outcome.
 *
 * <ul>
 *   <li>A response with status 0 moves on to the next request; a non-zero status stops with FAILED and
 *       that errno (the remaining requests are not sent).</li>
 *   <li>No response within {@code requestTimeoutMs}: the request is re-sent with a new id, up to
 *       {@code maxRetries} times, then TIMED_OUT. A late answer to an abandoned id is ignored.</li>
 *   <li>Connection down or lost while waiting: this is not a timeout of mwcomms but a transport
 *       failure, so the request is re-sent once the connection is back, without using up a retry. The
 *       wait is bounded by the decision's expiry (then SKIPPED_EXPIRED: applying a stale mitigation
 *       late would be wrong) and by {@code unavailableMaxMs} (then TIMED_OUT, naming the host). So a
 *       decision is never dropped silently: it always ends in a published result.</li>
 * </ul>
 */
public final class RequestExecutor {
    private static final Logger log = LoggerFactory.getLogger(RequestExecutor.class);

    /** errno for "no NetFlow target configured for this host". */
    public static final int EHOSTUNREACH = 113;

    private final NetflowTargets targets;
    private final long requestTimeoutMs;
    private final int maxRetries;
    private final long retryBackoffMs;
    private final long unavailableMaxMs;
    private final Clock clock;
    private final SinkMetrics metrics;

    public RequestExecutor(NetflowTargets targets, SinkConfig cfg, Clock clock, SinkMetrics metrics) {
        this.targets = targets;
        this.requestTimeoutMs = cfg.requestTimeoutMs();
        this.maxRetries = cfg.maxRetries();
        this.retryBackoffMs = cfg.retryBackoffMs();
        this.unavailableMaxMs = cfg.unavailableMaxMs();
        this.clock = clock;
        this.metrics = metrics;
    }

    /**
     * Applies {@code requests} on {@code host}'s mwcomms.
     *
     * @param expiresAtMs epoch ms after which the decision must not be applied (Long.MAX_VALUE: never)
     * @param stop        checked between waits; when true the executor gives up (shutdown)
     */
    public Outcome execute(String host, List<FeatureRequest> requests, long expiresAtMs, java.util.function.BooleanSupplier stop)
            throws InterruptedException {
        NetflowConnection conn = targets.connection(host);
        if (conn == null) {
            return Outcome.failed(EHOSTUNREACH, "no NetFlow target configured for host '" + host
                    + "' (set netflow.targets or netflow.default.target)", 0);
        }
        int sent = 0;
        StringBuilder done = new StringBuilder();
        for (FeatureRequest req : requests) {
            int timeouts = 0;
            long unavailableSince = -1;
            while (true) {
                if (stop.getAsBoolean()) {
                    throw new InterruptedException("sink is shutting down");
                }
                long now = clock.millis();
                if (now > expiresAtMs) {
                    return Outcome.expired("expired while waiting for mwcomms " + host + " (" + conn.lastError() + ")", sent);
                }
                if (!conn.isConnected()) {
                    if (unavailableSince < 0) {
                        unavailableSince = now;
                    }
                    if (now - unavailableSince >= unavailableMaxMs) {
                        return Outcome.timedOut("mwcomms " + host + " at " + conn.address() + " unreachable for "
                                + (now - unavailableSince) + " ms: " + conn.lastError(), sent);
                    }
                    conn.awaitConnected(Math.min(250, unavailableMaxMs));
                    continue;
                }
                NetflowConnection.Pending p;
                try {
                    p = conn.send(req);
                } catch (NetflowUnavailableException e) {
                    log.warn("{}; will resend after reconnecting", e.getMessage());
                    continue;
                }
                sent++;
                metrics.requestSent();
                FeatureResponse resp;
                try {
                    resp = p.response().get(requestTimeoutMs, TimeUnit.MILLISECONDS);
                } catch (TimeoutException e) {
                    conn.cancel(p.request().id());
                    timeouts++;
                    if (timeouts > maxRetries) {
                        return Outcome.timedOut("no response from mwcomms " + host + " to " + describe(req) + " after "
                                + timeouts + " attempts of " + requestTimeoutMs + " ms", sent);
                    }
                    metrics.retry();
                    log.warn("no response from {} to request {} ({}) in {} ms; retry {}/{}", host, p.request().id(),
                            describe(req), requestTimeoutMs, timeouts, maxRetries);
                    Thread.sleep(retryBackoffMs);
                    continue;
                } catch (ExecutionException e) {
                    // Connection lost while waiting: resend after the reconnect.
                    log.warn("{}; will resend after reconnecting", e.getCause().getMessage());
                    metrics.retry();
                    continue;
                }
                if (resp.status() != 0) {
                    return Outcome.failed((int) resp.status(), "mwcomms " + host + " refused " + describe(req)
                            + ": errno " + resp.status() + " (" + Errno.name((int) resp.status()) + ")", sent);
                }
                if (done.length() > 0) {
                    done.append(", ");
                }
                done.append(describe(req));
                break;
            }
        }
        return Outcome.applied("applied on " + host + ": " + done, sent);
    }

    /** "is-open=0 socket 17", "address-block=1 10.0.0.9" style description for logs and results. */
    static String describe(FeatureRequest r) {
        String name = FeatureNames.label(r.name());
        String target;
        if (r.isBySocket()) {
            target = "socket " + r.identSocket();
        } else if ((r.flags() & InsLifecycle.FLAG_BY_INS) != 0) {
            byte[] id = r.ident();
            target = "INS " + (((id[0] & 0xFFL) << 24) | ((id[1] & 0xFFL) << 16) | ((id[2] & 0xFFL) << 8) | (id[3] & 0xFFL));
        } else if (r.name() == FeatureNames.ADDRESS_BLOCK) {
            target = r.identAddress().getHostAddress();
        } else {
            target = "INS-wide";
        }
        String val = (r.name() == FeatureNames.SNDTIMEO || r.name() == FeatureNames.RCVTIMEO)
                ? r.valTime().sec() + "s" + r.valTime().usec() + "us" : Long.toString(r.valU32());
        return name + "=" + val + " " + target;
    }
}
