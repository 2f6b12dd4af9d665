package io.magicwand.streams.features;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Real client sockets, each source bound to its own loopback address, performing one attack kind or
 * benign browsing against {@link ObservedHttpServer} until {@link #stop()}. Every loop is bounded by
 * the stop flag and socket timeouts.
 */
final class Traffic implements AutoCloseable {
    private final int port;
    private final AtomicBoolean stop = new AtomicBoolean();
    private final List<Thread> threads = new ArrayList<>();
    private final List<Socket> sockets = java.util.Collections.synchronizedList(new ArrayList<>());
    final List<String> errors = java.util.Collections.synchronizedList(new ArrayList<>());

    Traffic(int port) {
        this.port = port;
    }

    private Socket connect(String source, int rcvBuf) throws IOException {
        Socket s = new Socket();
        if (rcvBuf > 0) {
            s.setReceiveBufferSize(rcvBuf);
        }
        s.bind(new InetSocketAddress(source, 0));
        s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        s.setSoTimeout(20000);
        sockets.add(s);
        return s;
    }

    private void spawn(String name, ThrowingRunnable r) {
        Thread t = new Thread(() -> {
            try {
                r.run();
            } catch (IOException | InterruptedException e) {
                if (!stop.get()) {
                    errors.add(name + ": " + e);
                }
            }
        }, name);
        t.setDaemon(true);
        threads.add(t);
        t.start();
    }

    interface ThrowingRunnable {
        void run() throws IOException, InterruptedException;
    }

    private void sleep(long ms) throws InterruptedException {
        long end = System.currentTimeMillis() + ms;
        while (!stop.get() && System.currentTimeMillis() < end) {
            Thread.sleep(Math.min(50, Math.max(1, end - System.currentTimeMillis())));
        }
    }

    private static void write(Socket s, String text) throws IOException {
        OutputStream o = s.getOutputStream();
        o.write(text.getBytes(StandardCharsets.ISO_8859_1));
        o.flush();
    }

    /** Reads one response with a Content-Length body (or a multipart 206 until its closing boundary). */
    private static void readResponse(Socket s) throws IOException {
        InputStream in = s.getInputStream();
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("connection closed in response head");
            }
            head.append((char) b);
        }
        String h = head.toString();
        int i = h.toLowerCase().indexOf("content-length:");
        if (i >= 0) {
            int len = Integer.parseInt(h.substring(i + 15, h.indexOf("\r\n", i)).trim());
            in.readNBytes(len);
            return;
        }
        byte[] tail = "--MWBOUNDARY--\r\n".getBytes(StandardCharsets.ISO_8859_1);
        int matched = 0;
        while (matched < tail.length) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("connection closed in multipart body");
            }
            matched = b == tail[matched] ? matched + 1 : (b == tail[0] ? 1 : 0);
        }
    }

    static final String UA = "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\n";

    /** Slowloris: n connections, a partial request head, then one short header line per second. */
    void slowloris(String source, int n) {
        for (int i = 0; i < n; i++) {
            spawn("slowloris-" + i, () -> {
                Socket s = connect(source, 0);
                write(s, "GET /?" + System.nanoTime() + " HTTP/1.1\r\nHost: x\r\n");
                while (!stop.get()) {
                    sleep(1000);
                    write(s, "X-a: " + (int) (Math.random() * 5000) + "\r\n");
                }
            });
        }
    }

    /** Slow POST (RUDY): a whole header block announcing a large body, then one byte every 300 ms. */
    void slowPost(String source, int n) {
        for (int i = 0; i < n; i++) {
            spawn("slowpost-" + i, () -> {
                Socket s = connect(source, 0);
                write(s, "POST /form HTTP/1.1\r\nHost: x\r\n" + UA + "Accept: text/html,application/xhtml+xml\r\n"
                        + "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n");
                while (!stop.get()) {
                    sleep(300);
                    write(s, "a");
                }
            });
        }
    }

    /** Slow read: a tiny receive window, then 64 bytes every 125 ms (512 B/s) of a 512 KiB response. */
    void slowRead(String source, int n) {
        for (int i = 0; i < n; i++) {
            spawn("slowread-" + i, () -> {
                Socket s = connect(source, 1024);
                write(s, "GET /big HTTP/1.1\r\nHost: x\r\n" + UA + "\r\n");
                InputStream in = s.getInputStream();
                byte[] b = new byte[64];
                while (!stop.get()) {
                    sleep(125);
                    if (in.read(b) < 0) {
                        return;
                    }
                }
            });
        }
    }

    /** Range attack: requests with hundreds of overlapping ranges from two parallel workers, one connection each, read fully. */
    void range(String source, int requests) {
        StringBuilder r = new StringBuilder("bytes=0-");
        for (int i = 0; i < 400; i++) {
            r.append(",5-").append(5 + i);
        }
        for (int w = 0; w < 2; w++) {
            spawn("range-" + w, () -> {
                for (int i = 0; i < requests / 2 && !stop.get(); i++) {
                    try (Socket s = connect(source, 0)) {
                        write(s, "GET /file HTTP/1.1\r\nHost: x\r\n" + UA + "Range: " + r + "\r\nConnection: close\r\n\r\n");
                        readResponse(s);
                    }
                    sleep(400);
                }
            });
        }
    }

    /** Connection flood: n connections opened at once and held open without a request. */
    void flood(String source, int n) {
        spawn("flood", () -> {
            for (int i = 0; i < n && !stop.get(); i++) {
                connect(source, 0);
            }
            while (!stop.get()) {
                sleep(100);
            }
        });
    }

    /** Browsing: page loads over keep-alive connections with think time, a fast download, a form post, an idle keep-alive. */
    void benign(String source, long seed) {
        Random rnd = new Random(seed);
        spawn("benign-pages-" + source, () -> {
            while (!stop.get()) {
                try (Socket s = connect(source, 0)) {
                    for (int k = 0; k < 1 + rnd.nextInt(3) && !stop.get(); k++) {
                        write(s, "GET /page?" + k + " HTTP/1.1\r\nHost: x\r\n" + UA + "Accept: */*\r\nCookie: session=" + seed + "\r\n\r\n");
                        readResponse(s);
                        sleep(100 + rnd.nextInt(400));
                    }
                }
                sleep(100 + rnd.nextInt(300));
            }
        });
        spawn("benign-download-" + source, () -> {
            while (!stop.get()) {
                try (Socket s = connect(source, 0)) {
                    write(s, "GET /big HTTP/1.1\r\nHost: x\r\n" + UA + "\r\n");
                    readResponse(s);
                }
                sleep(1500 + rnd.nextInt(1000));
            }
        });
        spawn("benign-post-" + source, () -> {
            while (!stop.get()) {
                try (Socket s = connect(source, 0)) {
                    String body = "q=" + "x".repeat(20_000);
                    write(s, "POST /form HTTP/1.1\r\nHost: x\r\n" + UA + "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: "
                            + body.length() + "\r\n\r\n" + body);
                    readResponse(s);
                }
                sleep(1000 + rnd.nextInt(1000));
            }
        });
        spawn("benign-idle-" + source, () -> {
            while (!stop.get()) {
                try (Socket s = connect(source, 0)) {
                    write(s, "GET /page HTTP/1.1\r\nHost: x\r\n" + UA + "\r\n");
                    readResponse(s);
                    sleep(4000);
                }
            }
        });
    }

    void stop() {
        stop.set(true);
    }

    @Override
    public void close() throws InterruptedException {
        stop();
        synchronized (sockets) {
            for (Socket s : sockets) {
                try {
                    s.close();
                } catch (IOException ignored) {
                    // closing anyway
                }
            }
        }
        for (Thread t : threads) {
            t.join(5000);
        }
    }
}
