package io.magicwand.sink;

import io.magicwand.netflow.FeatureRequest;
import io.magicwand.netflow.FeatureResponse;
import io.magicwand.netflow.NetflowCodec;
import io.magicwand.netflow.NetflowMessage;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * A real loopback TCP NetFlow server for tests, speaking the project codec: records every request
 * (raw bytes and decoded), answers each with what the script returns (null = no answer, to test
 * timeouts), can send info records and garbage, and can be stopped and restarted on the same port.
 */
final class ScriptedNetflowServer implements AutoCloseable {
    /** Answers every request with status 0 and val = the request's val. */
    static final Function<FeatureRequest, FeatureResponse> OK = r -> FeatureResponse.ok(r.id(), r.val());

    private volatile Function<FeatureRequest, FeatureResponse> script;
    private final List<byte[]> raw = new CopyOnWriteArrayList<>();
    private final List<FeatureRequest> requests = new CopyOnWriteArrayList<>();
    private final List<Socket> clients = new CopyOnWriteArrayList<>();
    private volatile ServerSocket server;
    private volatile int port;
    private volatile int acceptedConnections;
    /** Info records to send to every client right after it connects (before any answer). */
    volatile List<byte[]> greeting = List.of();

    ScriptedNetflowServer(Function<FeatureRequest, FeatureResponse> script) throws IOException {
        this(script, 0);
    }

    ScriptedNetflowServer(Function<FeatureRequest, FeatureResponse> script, int port) throws IOException {
        this.script = script;
        start(port);
    }

    void script(Function<FeatureRequest, FeatureResponse> s) {
        this.script = s;
    }

    private void start(int p) throws IOException {
        ServerSocket ss = new ServerSocket();
        ss.setReuseAddress(true);
        ss.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), p));
        server = ss;
        port = ss.getLocalPort();
        Thread t = new Thread(() -> acceptLoop(ss), "fake-netflow-accept-" + port);
        t.setDaemon(true);
        t.start();
    }

    private void acceptLoop(ServerSocket ss) {
        while (!ss.isClosed()) {
            try {
                Socket s = ss.accept();
                acceptedConnections++;
                clients.add(s);
                Thread t = new Thread(() -> serve(s), "fake-netflow-conn");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket s) {
        try (s) {
            OutputStream out = s.getOutputStream();
            for (byte[] g : greeting) {
                synchronized (out) {
                    out.write(g);
                }
            }
            DataInputStream in = new DataInputStream(s.getInputStream());
            byte[] buf = new byte[NetflowCodec.REQUEST_LEN];
            while (true) {
                in.readFully(buf);
                raw.add(buf.clone());
                NetflowMessage m = NetflowCodec.decode(buf.clone());
                FeatureRequest r = (FeatureRequest) m;
                requests.add(r);
                FeatureResponse resp = script.apply(r);
                if (resp != null) {
                    synchronized (out) {
                        out.write(NetflowCodec.encode(resp));
                        out.flush();
                    }
                }
            }
        } catch (IOException e) {
            // client gone or server stopped
        } finally {
            clients.remove(s);
        }
    }

    /** Writes raw bytes to every connected client (info records, garbage). */
    void sendToClients(byte[] bytes) throws IOException {
        for (Socket s : clients) {
            OutputStream out = s.getOutputStream();
            synchronized (out) {
                out.write(bytes);
                out.flush();
            }
        }
    }

    /**
     * Sends {@code response} to every client after {@code delayMs}, from another thread: a script
     * returns null and calls this to answer late (a slow or concurrent mwcomms).
     */
    void answerLater(FeatureResponse response, long delayMs) {
        CompletableFuture.delayedExecutor(delayMs, TimeUnit.MILLISECONDS).execute(() -> {
            try {
                sendToClients(NetflowCodec.encode(response));
            } catch (IOException ignored) {
                // the test is over and the server closed
            }
        });
    }

    int port() {
        return port;
    }

    String address() {
        return "127.0.0.1:" + port;
    }

    int acceptedConnections() {
        return acceptedConnections;
    }

    int connectedClients() {
        return clients.size();
    }

    List<FeatureRequest> requests() {
        return Collections.unmodifiableList(new ArrayList<>(requests));
    }

    List<byte[]> rawRequests() {
        return new ArrayList<>(raw);
    }

    /** Waits until at least n requests arrived. */
    boolean awaitRequests(int n, long timeoutMs) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (requests.size() < n) {
            if (System.nanoTime() > end) {
                return false;
            }
            Thread.sleep(10);
        }
        return true;
    }

    /** Waits until n clients are connected. */
    boolean awaitClients(int n, long timeoutMs) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (clients.size() < n) {
            if (System.nanoTime() > end) {
                return false;
            }
            Thread.sleep(10);
        }
        return true;
    }

    /** Closes the listener and every client connection (like mwcomms dying). */
    void stop() throws IOException {
        ServerSocket ss = server;
        if (ss != null) {
            ss.close();
        }
        for (Socket s : clients) {
            try {
                s.close();
            } catch (SocketException ignored) {
                // already closed
            }
        }
        clients.clear();
    }

    /** Listens again on the same port. */
    void restart() throws IOException {
        start(port);
    }

    @Override
    public void close() throws IOException {
        stop();
    }
}
