package io.magicwand.ingest.pcap;

import io.magicwand.netflow.Endpoint;
import io.magicwand.netflow.NetflowInfo;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Turns the TCP segments of a capture into the NetFlow info records mwcomms would have sent for the
 * server (or client) socket of each connection, so a pcap can be replayed through the pipeline.
 *
 * <ul>
 *   <li>Open: when the SYN-ACK is seen (after a SYN), or at the first packet of a connection whose
 *       handshake is not in the capture. A connection to a server port is an ACCEPT seen from the
 *       server (socket id = a synthetic listener id, {@code extra} = the connection's id); any other
 *       connection is a CONNECT seen from the client. Server ports: {@code serverPorts}, or when
 *       null the port that received the SYN (without a SYN: the lower port).</li>
 *   <li>Payload: per direction, in sequence order (minimal reassembly: retransmitted bytes are
 *       dropped, out-of-order segments wait for the hole to fill); each segment that brings new
 *       bytes is a RECV (towards the observed socket) or SEND with cumulative byte counts.</li>
 *   <li>Close: an RST, or both FINs (in sequence order); at the end of the capture any connection
 *       with one FIN is closed too. A SYN answered by an RST (refused) produces nothing.</li>
 * </ul>
 */
public final class TcpImporter {

    /** Import totals. */
    public static final class Stats {
        public long segments;
        public long connections;
        public long accepts;
        public long connects;
        public long closes;
        public long refused;
        public long bytesToServer;
        public long bytesToClient;
        public long retransmittedBytes;
        public long holeBytes;
        public long records;

        @Override
        public String toString() {
            return "segments=" + segments + " connections=" + connections + " accepts=" + accepts + " connects="
                    + connects + " closes=" + closes + " refused=" + refused + " bytesToServer=" + bytesToServer
                    + " bytesToClient=" + bytesToClient + " retransmittedBytes=" + retransmittedBytes
                    + " holeBytes=" + holeBytes + " records=" + records;
        }
    }

    private static final int MAX_PENDING = 4096;

    private final Set<Integer> serverPorts;
    private final Consumer<NetflowInfo> out;
    private final Map<String, Conn> conns = new LinkedHashMap<>();
    private final Map<String, Long> listeners = new HashMap<>();
    private final Stats stats = new Stats();
    private long nextSocketId = 1;
    private long nextRecordId;
    private long lastTsNs;

    /**
     * @param serverPorts ports that identify the server side, or null for "the port that received the SYN"
     * @param out         receives the records in capture order
     */
    public TcpImporter(Set<Integer> serverPorts, Consumer<NetflowInfo> out) {
        this.serverPorts = serverPorts == null || serverPorts.isEmpty() ? null : Set.copyOf(serverPorts);
        this.out = out;
    }

    public Stats stats() {
        return stats;
    }

    private static final class Pending {
        final long seq;
        final int len;
        final boolean fin;
        final long tsNs;

        Pending(long seq, int len, boolean fin, long tsNs) {
            this.seq = seq;
            this.len = len;
            this.fin = fin;
            this.tsNs = tsNs;
        }
    }

    private static final class Dir {
        boolean init;
        long next;
        long bytes;
        boolean fin;
        final List<Pending> pending = new ArrayList<>();
    }

    private final class Conn {
        final long id;
        final Endpoint client;
        final Endpoint server;
        final boolean accept;
        final boolean synSeen;
        boolean opened;
        boolean closed;
        long startNs;
        final Dir toServer = new Dir();
        final Dir toClient = new Dir();

        Conn(Endpoint client, Endpoint server, boolean synSeen) {
            this.id = nextSocketId++;
            this.client = client;
            this.server = server;
            this.synSeen = synSeen;
            this.accept = serverPorts == null || serverPorts.contains(server.port());
        }

        Endpoint local() {
            return accept ? server : client;
        }

        Endpoint remote() {
            return accept ? client : server;
        }

        long bytesIn() {
            return accept ? toServer.bytes : toClient.bytes;
        }

        long bytesOut() {
            return accept ? toClient.bytes : toServer.bytes;
        }
    }

    /** Feeds one segment (in capture order). */
    public void accept(TcpSegment s) {
        stats.segments++;
        lastTsNs = s.tsNs();
        Endpoint src = endpoint(s.af(), s.src(), s.srcPort());
        Endpoint dst = endpoint(s.af(), s.dst(), s.dstPort());
        String key = key(src, dst);
        Conn c = conns.get(key);
        boolean pureSyn = s.has(TcpSegment.SYN) && !s.has(TcpSegment.ACK);
        if (c == null || (c.closed && pureSyn)) {
            c = newConn(s, src, dst, pureSyn);
            conns.put(key, c);
        } else if (c.closed) {
            return; // stray segment after close (retransmitted FIN/ACK)
        }
        boolean fromClient = src.equals(c.client);
        Dir d = fromClient ? c.toServer : c.toClient;
        if (s.has(TcpSegment.SYN)) {
            if (!d.init) {
                d.init = true;
                d.next = (s.seq() + 1) & 0xffff_ffffL;
            }
            if (!fromClient && !c.opened) {
                open(c, s.tsNs());
            }
        }
        if (s.has(TcpSegment.RST)) {
            if (!c.opened) {
                c.closed = true;
                stats.refused++;
                return;
            }
            drainAll(c, c.toServer);
            drainAll(c, c.toClient);
            close(c, s.tsNs());
            return;
        }
        if (!c.opened && !s.has(TcpSegment.SYN)) {
            open(c, s.tsNs()); // SYN-ACK not in the capture (or handshake before the capture started)
        }
        if (!c.opened) {
            return;
        }
        int len = s.payloadLen();
        boolean fin = s.has(TcpSegment.FIN);
        if (len == 0 && !fin) {
            return;
        }
        long seq = s.has(TcpSegment.SYN) ? (s.seq() + 1) & 0xffff_ffffL : s.seq();
        if (!d.init) {
            d.init = true;
            d.next = seq;
        }
        if (d.fin) {
            return; // retransmission after the FIN
        }
        segment(c, d, fromClient, new Pending(seq, len, fin, s.tsNs()));
        drain(c, d, fromClient);
        maybeClose(c, s.tsNs());
    }

    /** Ends the import: flushes waiting segments and closes connections that saw a FIN. */
    public void finish() {
        for (Conn c : conns.values()) {
            if (c.closed || !c.opened) {
                continue;
            }
            drainAll(c, c.toServer);
            drainAll(c, c.toClient);
            if (c.toServer.fin || c.toClient.fin) {
                close(c, lastTsNs);
            }
        }
    }

    private Conn newConn(TcpSegment s, Endpoint src, Endpoint dst, boolean pureSyn) {
        Endpoint client;
        Endpoint server;
        if (pureSyn) {
            client = src;
            server = dst;
        } else if (serverPorts != null && serverPorts.contains(dst.port()) != serverPorts.contains(src.port())) {
            boolean dstServer = serverPorts.contains(dst.port());
            client = dstServer ? src : dst;
            server = dstServer ? dst : src;
        } else if (s.has(TcpSegment.SYN)) { // SYN-ACK first: its sender is the server
            client = dst;
            server = src;
        } else {
            boolean dstServer = dst.port() <= src.port();
            client = dstServer ? src : dst;
            server = dstServer ? dst : src;
        }
        Conn c = new Conn(client, server, pureSyn);
        c.startNs = s.tsNs();
        return c;
    }

    private void segment(Conn c, Dir d, boolean fromClient, Pending p) {
        int diff = (int) (p.seq - d.next);
        if (diff > 0) {
            if (d.pending.size() < MAX_PENDING) {
                d.pending.add(p);
            } else {
                // Too far out of order for a minimal reassembler: accept the hole and move on.
                stats.holeBytes += diff;
                d.next = p.seq;
                consume(c, d, fromClient, p, 0);
            }
            return;
        }
        consume(c, d, fromClient, p, -diff);
    }

    /** Consumes a segment that starts {@code overlap} bytes before {@code d.next}. */
    private void consume(Conn c, Dir d, boolean fromClient, Pending p, int overlap) {
        int fresh = p.len - overlap;
        if (fresh <= 0) {
            stats.retransmittedBytes += p.len;
            if (p.fin && fresh == 0) {
                d.fin = true;
                d.next = (d.next + 1) & 0xffff_ffffL;
            }
            return;
        }
        stats.retransmittedBytes += overlap;
        d.bytes += fresh;
        d.next = (d.next + fresh) & 0xffff_ffffL;
        if (fromClient) {
            stats.bytesToServer += fresh;
        } else {
            stats.bytesToClient += fresh;
        }
        boolean towardsObserved = fromClient == c.accept;
        emit(c, towardsObserved ? NetflowInfo.OBS_RECV : NetflowInfo.OBS_SEND, c.id, 0, p.tsNs);
        if (p.fin) {
            d.fin = true;
            d.next = (d.next + 1) & 0xffff_ffffL;
        }
    }

    private void drain(Conn c, Dir d, boolean fromClient) {
        boolean progress = true;
        while (progress && !d.pending.isEmpty() && !d.fin) {
            progress = false;
            for (int i = 0; i < d.pending.size(); i++) {
                Pending p = d.pending.get(i);
                int diff = (int) (p.seq - d.next);
                if (diff <= 0) {
                    d.pending.remove(i);
                    consume(c, d, fromClient, p, -diff);
                    progress = true;
                    break;
                }
            }
        }
        if (d.fin) {
            d.pending.clear();
        }
    }

    private void drainAll(Conn c, Dir d) {
        boolean fromClient = d == c.toServer;
        drain(c, d, fromClient);
        while (!d.pending.isEmpty() && !d.fin) {
            Pending first = d.pending.get(0);
            for (Pending p : d.pending) {
                if ((int) (p.seq - first.seq) < 0) {
                    first = p;
                }
            }
            stats.holeBytes += (int) (first.seq - d.next);
            d.next = first.seq;
            drain(c, d, fromClient);
        }
    }

    private void maybeClose(Conn c, long tsNs) {
        if (c.toServer.fin && c.toClient.fin) {
            close(c, tsNs);
        }
    }

    private void open(Conn c, long tsNs) {
        c.opened = true;
        c.startNs = Math.min(c.startNs, tsNs);
        stats.connections++;
        if (c.accept) {
            stats.accepts++;
            long listener = listeners.computeIfAbsent(c.server.af() + "/" + Arrays.toString(c.server.addr()) + "/"
                    + c.server.port(), k -> nextSocketId++);
            emit(c, NetflowInfo.OBS_ACCEPT, listener, c.id, tsNs);
        } else {
            stats.connects++;
            emit(c, NetflowInfo.OBS_CONNECT, c.id, 0, tsNs);
        }
    }

    private void close(Conn c, long tsNs) {
        if (c.closed) {
            return;
        }
        c.closed = true;
        stats.closes++;
        emit(c, NetflowInfo.OBS_CLOSE, c.id, 0, tsNs);
    }

    private void emit(Conn c, int obs, long sockfd, long extra, long tsNs) {
        stats.records++;
        long id = nextRecordId;
        nextRecordId = (nextRecordId + 1) & 0xffff_ffffL;
        out.accept(new NetflowInfo(id, obs, c.startNs / 1_000_000_000L, c.startNs % 1_000_000_000L,
                tsNs / 1_000_000_000L, tsNs % 1_000_000_000L, sockfd, c.local(), c.remote(), c.bytesIn(),
                c.bytesOut(), extra));
    }

    private static Endpoint endpoint(int af, byte[] addr, int port) {
        return new Endpoint(af, Arrays.copyOf(addr, Endpoint.ADDR_LEN), port);
    }

    private static String key(Endpoint a, Endpoint b) {
        String x = a.toString();
        String y = b.toString();
        return x.compareTo(y) <= 0 ? x + "|" + y : y + "|" + x;
    }
}
