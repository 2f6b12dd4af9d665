package io.magicwand.ingest;

import io.magicwand.ops.OpsServer;

/** /health and /metrics of the ingest service on the ops port (the shared {@link OpsServer}). */
final class OpsEndpoint {
    private OpsEndpoint() {}

    static OpsServer start(IngestConfig cfg, IngestService svc) throws java.io.IOException {
        return OpsServer.start(cfg.opsHost, cfg.opsPort, svc.metrics(), svc::health);
    }
}
