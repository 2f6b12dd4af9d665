package io.magicwand.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class TestRegistryTest {

    @Test
    void checkAcceptsARegistryThatListsSubjects() throws Exception {
        AtomicReference<String> path = new AtomicReference<>();
        HttpServer s = HttpServer.create(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 0);
        s.createContext("/", ex -> {
            path.set(ex.getRequestURI().getPath());
            int status = ex.getRequestURI().getPath().endsWith("/apis/ccompat/v7/subjects") ? 200 : 404;
            byte[] b = (status == 200 ? "[]" : "{\"error_code\":404}").getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(status, b.length);
            ex.getResponseBody().write(b);
            ex.close();
        });
        s.start();
        try {
            String base = "http://127.0.0.1:" + s.getAddress().getPort();
            TestRegistry.check(base + "/apis/ccompat/v7");
            assertEquals("/apis/ccompat/v7/subjects", path.get());

            IllegalStateException e = assertThrows(IllegalStateException.class, () -> TestRegistry.check(base));
            assertTrue(e.getMessage().contains("answered GET /subjects with HTTP 404"), e.getMessage());
        } finally {
            s.stop(0);
        }
    }

    @Test
    void unreachableRegistryNamesTheFix() throws Exception {
        int port;
        try (ServerSocket ss = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            port = ss.getLocalPort();
        }
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> TestRegistry.check("http://127.0.0.1:" + port + "/apis/ccompat/v7"));
        assertTrue(e.getMessage().contains("is not reachable"), e.getMessage());
        assertTrue(e.getMessage().contains("./mw test") && e.getMessage().contains(TestRegistry.ENV), e.getMessage());
        assertThrows(IllegalStateException.class, () -> TestRegistry.check("not a url"));
    }

    @Test
    void systemPropertyWinsAndTrailingSlashesGo() {
        String old = System.getProperty(TestRegistry.PROPERTY);
        try {
            System.setProperty(TestRegistry.PROPERTY, " http://127.0.0.1:1/apis/ccompat/v7// ");
            assertEquals("http://127.0.0.1:1/apis/ccompat/v7", TestRegistry.configuredUrl());
        } finally {
            if (old == null) {
                System.clearProperty(TestRegistry.PROPERTY);
            } else {
                System.setProperty(TestRegistry.PROPERTY, old);
            }
        }
    }
}
