package io.magicwand.streams.features;

import io.magicwand.avro.SocketEvent;
import io.magicwand.avro.SocketOp;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Iterator;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * A small HTTP/1.1 server on 127.0.0.1 (ephemeral port) that reports what an INS would: one
 * SocketEvent per accept, per recv and per send that moved bytes (cumulative counters), and per
 * close. Like the INS it runs one non-blocking event loop, so a send that cannot progress shows up
 * as sends not progressing. Serves: {@code /page} (2 KiB), {@code /big} (512 KiB),
 * {@code /file} with Range support (naively, like a vulnerable server: one multipart part per
 * range, each part its own write), and any POST (after reading Content-Length bytes).
 * Writes go out in buffers of up to 64 KiB into a 4 KiB send buffer; each write call that moved bytes
 * is one send observation.
 */
final class ObservedHttpServer implements AutoCloseable {
    static final String HOST = "test-host";
    static final long LISTENER_ID = 1;
    static final byte[] FILE = new byte[64 * 1024];

    static {
        for (int i = 0; i < FILE.length; i++) {
            FILE[i] = (byte) ('a' + i % 26);
        }
    }

    final Queue<SocketEvent> events = new ConcurrentLinkedQueue<>();
    /** socket id -> remote address, for mapping SOCKET decisions back to sources. */
    final Map<Long, String> remoteOf = new ConcurrentHashMap<>();
    private final Selector selector;
    private final ServerSocketChannel server;
    private final Thread loop;
    private volatile boolean running = true;
    private long nextId = 1000;
    private long seq;

    private final class Conn {
        final long id;
        final SocketChannel ch;
        final String remote;
        final int remotePort;
        final long start = System.currentTimeMillis();
        long in;
        long out;
        final ByteArrayOutputStream buf = new ByteArrayOutputStream();
        final Deque<ByteBuffer> outq = new ArrayDeque<>();
        boolean closeAfter;

        Conn(long id, SocketChannel ch, InetSocketAddress r) {
            this.id = id;
            this.ch = ch;
            this.remote = r.getAddress().getHostAddress();
            this.remotePort = r.getPort();
        }
    }

    ObservedHttpServer() throws IOException {
        selector = Selector.open();
        server = ServerSocketChannel.open();
        server.bind(new InetSocketAddress("127.0.0.1", 0), 512);
        server.configureBlocking(false);
        server.register(selector, SelectionKey.OP_ACCEPT);
        loop = new Thread(this::run, "observed-http");
        loop.setDaemon(true);
        loop.start();
    }

    int port() {
        return server.socket().getLocalPort();
    }

    private void emit(Conn c, SocketOp op, long socketId, long extra) {
        long now = System.currentTimeMillis();
        events.add(SocketEvent.newBuilder()
                .setHost(HOST).setInsId(0).setSeq(seq++).setObs(op)
                .setSessionStartSec(c.start / 1000).setSessionStartNsec((c.start % 1000) * 1_000_000L)
                .setTsSec(now / 1000).setTsNsec((now % 1000) * 1_000_000L)
                .setSocketId(socketId)
                .setLocalAf(4).setLocalAddr("127.0.0.1").setLocalPort(port())
                .setRemoteAf(4).setRemoteAddr(c.remote).setRemotePort(c.remotePort)
                .setBytesIn(op == SocketOp.ACCEPT ? 0 : c.in).setBytesOut(op == SocketOp.ACCEPT ? 0 : c.out)
                .setExtra(extra)
                .build());
    }

    private void run() {
        while (running) {
            try {
                selector.select(100);
                Iterator<SelectionKey> it = selector.selectedKeys().iterator();
                while (it.hasNext()) {
                    SelectionKey k = it.next();
                    it.remove();
                    if (!k.isValid()) {
                        continue;
                    }
                    if (k.isAcceptable()) {
                        accept();
                        continue;
                    }
                    Conn c = (Conn) k.attachment();
                    try {
                        if (k.isReadable()) {
                            read(c, k);
                        }
                        if (k.isValid() && k.isWritable()) {
                            flush(c, k);
                        }
                    } catch (IOException e) {
                        close(c, k);
                    }
                }
            } catch (IOException e) {
                if (running) {
                    throw new IllegalStateException("test server loop failed", e);
                }
            }
        }
    }

    private void accept() throws IOException {
        SocketChannel ch;
        while ((ch = server.accept()) != null) {
            ch.configureBlocking(false);
            // A fixed small send buffer (no autotuning): like a server under memory pressure, a send
            // to a client that does not read stalls after a few KiB instead of after megabytes.
            ch.setOption(java.net.StandardSocketOptions.SO_SNDBUF, 4096);
            Conn c = new Conn(nextId++, ch, (InetSocketAddress) ch.getRemoteAddress());
            remoteOf.put(c.id, c.remote);
            emit(c, SocketOp.ACCEPT, LISTENER_ID, c.id);
            ch.register(selector, SelectionKey.OP_READ, c);
        }
    }

    private void read(Conn c, SelectionKey k) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(16 * 1024);
        int n = c.ch.read(b);
        if (n < 0) {
            close(c, k);
            return;
        }
        if (n == 0) {
            return;
        }
        c.in += n;
        emit(c, SocketOp.RECV, c.id, 0);
        c.buf.write(b.array(), 0, n);
        parse(c, k);
    }

    private void parse(Conn c, SelectionKey k) throws IOException {
        while (true) {
            byte[] data = c.buf.toByteArray();
            String s = new String(data, StandardCharsets.ISO_8859_1);
            int end = s.indexOf("\r\n\r\n");
            if (end < 0) {
                return;
            }
            String head = s.substring(0, end);
            int len = 0;
            String range = null;
            for (String line : head.split("\r\n")) {
                int colon = line.indexOf(':');
                if (colon < 0) {
                    continue;
                }
                String name = line.substring(0, colon).trim().toLowerCase();
                String value = line.substring(colon + 1).trim();
                if (name.equals("content-length")) {
                    len = Integer.parseInt(value);
                } else if (name.equals("range")) {
                    range = value;
                } else if (name.equals("connection") && value.equalsIgnoreCase("close")) {
                    c.closeAfter = true;
                }
            }
            int total = end + 4 + len;
            if (data.length < total) {
                return;
            }
            c.buf.reset();
            c.buf.write(data, total, data.length - total);
            respond(c, head.substring(0, head.indexOf("\r\n") < 0 ? head.length() : head.indexOf("\r\n")), range);
            flush(c, k);
            if (!k.isValid()) {
                return;
            }
        }
    }

    private static ByteBuffer ascii(String s) {
        return ByteBuffer.wrap(s.getBytes(StandardCharsets.ISO_8859_1));
    }

    private void respond(Conn c, String requestLine, String range) {
        String[] parts = requestLine.split(" ");
        String path = parts.length > 1 ? parts[1] : "/";
        if (range != null && range.startsWith("bytes=") && path.startsWith("/file")) {
            String boundary = "MWBOUNDARY";
            c.outq.add(ascii("HTTP/1.1 206 Partial Content\r\nContent-Type: multipart/byteranges; boundary=" + boundary + "\r\n\r\n"));
            for (String r : range.substring(6).split(",")) {
                String[] ab = r.trim().split("-", -1);
                int from = ab[0].isEmpty() ? 0 : Integer.parseInt(ab[0]);
                int to = ab.length < 2 || ab[1].isEmpty() ? FILE.length - 1 : Math.min(Integer.parseInt(ab[1]), FILE.length - 1);
                if (from > to) {
                    continue;
                }
                byte[] h = ("--" + boundary + "\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes "
                        + from + "-" + to + "/" + FILE.length + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1);
                ByteBuffer part = ByteBuffer.allocate(h.length + to - from + 1 + 2);
                part.put(h).put(FILE, from, to - from + 1).put((byte) '\r').put((byte) '\n').flip();
                c.outq.add(part);
            }
            c.outq.add(ascii("--" + boundary + "--\r\n"));
            return;
        }
        int size = path.startsWith("/big") ? 512 * 1024 : path.startsWith("/file") ? FILE.length : 2048;
        c.outq.add(ascii("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + size + "\r\n\r\n"));
        for (int off = 0; off < size; off += FILE.length) {
            c.outq.add(ByteBuffer.wrap(FILE, 0, Math.min(FILE.length, size - off)));
        }
    }

    private void flush(Conn c, SelectionKey k) throws IOException {
        while (!c.outq.isEmpty()) {
            ByteBuffer b = c.outq.peek();
            int n = c.ch.write(b);
            if (n > 0) {
                c.out += n;
                emit(c, SocketOp.SEND, c.id, 0);
            }
            if (b.hasRemaining()) {
                k.interestOps(SelectionKey.OP_READ | SelectionKey.OP_WRITE);
                return;
            }
            c.outq.poll();
        }
        k.interestOps(SelectionKey.OP_READ);
        if (c.closeAfter) {
            close(c, k);
        }
    }

    private void close(Conn c, SelectionKey k) {
        if (!k.isValid()) {
            return;
        }
        k.cancel();
        emit(c, SocketOp.CLOSE, c.id, 0);
        try {
            c.ch.close();
        } catch (IOException ignored) {
            // already gone
        }
    }

    @Override
    public void close() throws IOException {
        running = false;
        selector.wakeup();
        try {
            loop.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (SelectionKey k : selector.keys()) {
            try {
                k.channel().close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
        selector.close();
        server.close();
    }
}
