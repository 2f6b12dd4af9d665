package io.magicwand.ingest;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetSocket;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;

/**
 * A NetFlow server for the tests: a Vert.x NetServer on an ephemeral loopback port that runs a
 * script for each accepted connection ({@code script.accept(connectionIndex, socket)}, on the
 * server's event loop).
 */
final class ScriptedNetflowSource implements AutoCloseable {

    final Vertx vertx = Vertx.vertx();
    final NetServer server;
    final AtomicInteger connections = new AtomicInteger();
    final CopyOnWriteArrayList<NetSocket> sockets = new CopyOnWriteArrayList<>();

    ScriptedNetflowSource(BiConsumer<Integer, NetSocket> script) throws Exception {
        server = vertx.createNetServer().connectHandler(sock -> {
            int n = connections.getAndIncrement();
            sockets.add(sock);
            sock.handler(b -> { }); // ingest never writes; ignore
            script.accept(n, sock);
        });
        server.listen(0, "127.0.0.1").toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    int port() {
        return server.actualPort();
    }

    /**
     * Writes {@code buf} in chunks of varying sizes, respecting the socket's backpressure
     * (writeQueueFull + drainHandler), then runs {@code then}.
     */
    static void writeChunked(NetSocket sock, Buffer buf, int seed, Runnable then) {
        new Object() {
            int pos;
            int k = seed;

            void pump() {
                while (pos < buf.length()) {
                    if (sock.writeQueueFull()) {
                        sock.drainHandler(v -> pump());
                        return;
                    }
                    k = k * 1103515245 + 12345;
                    int n = Math.min(buf.length() - pos, 1 + ((k >>> 8) & 0x1fff));
                    sock.write(buf.getBuffer(pos, pos + n));
                    pos += n;
                }
                if (then != null) {
                    then.run();
                }
            }
        }.pump();
    }

    @Override
    public void close() throws Exception {
        vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
}
