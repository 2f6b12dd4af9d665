package io.magicwand.sink;

import java.net.InetSocketAddress;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One {@link NetflowConnection} per mwcomms host, made on first use (so a configured but idle host
 * costs nothing) and kept for the life of the sink. Hosts not in {@code netflow.targets} go to
 * {@code netflow.default.target} when one is set (one connection shared by all such hosts).
 */
public final class NetflowTargets implements AutoCloseable {
    private static final String DEFAULT_KEY = "\u0000default";

    private final SinkConfig cfg;
    private final Map<String, NetflowConnection> connections = new LinkedHashMap<>();

    public NetflowTargets(SinkConfig cfg) {
        this.cfg = cfg;
    }

    /** The connection for {@code host}, or null when no address is configured for it. */
    public synchronized NetflowConnection connection(String host) {
        InetSocketAddress addr = cfg.targets().get(host);
        String key = host;
        if (addr == null) {
            addr = cfg.defaultTarget();
            key = DEFAULT_KEY;
            if (addr == null) {
                return null;
            }
        }
        NetflowConnection c = connections.get(key);
        if (c == null) {
            c = new NetflowConnection(key.equals(DEFAULT_KEY) ? "default" : host, addr, cfg.connectTimeoutMs(),
                    cfg.reconnectBackoffMs(), cfg.reconnectBackoffMaxMs()).start();
            connections.put(key, c);
        }
        return c;
    }

    /** Opens the connections of every listed host now (so /health shows them and the first decision is fast). */
    public synchronized void connectAll() {
        for (String h : cfg.targets().keySet()) {
            connection(h);
        }
        if (cfg.defaultTarget() != null) {
            connection(DEFAULT_KEY);
        }
    }

    public synchronized Map<String, NetflowConnection> snapshot() {
        return new LinkedHashMap<>(connections);
    }

    @Override
    public synchronized void close() {
        connections.values().forEach(NetflowConnection::close);
        connections.clear();
    }
}
