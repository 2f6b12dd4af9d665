package io.magicwand.testkit;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/**
 * The real schema registry that integration tests use (Confluent-compatible REST API, e.g. Apicurio's
 * {@code /apis/ccompat/v7}). {@code ./mw test} starts one and passes its URL; when running Maven
 * directly, set {@code MW_TEST_REGISTRY_URL} (or {@code -Dmw.test.registry.url=...}).
 */
public final class TestRegistry {

    /** Environment variable holding the registry base URL. */
    public static final String ENV = "MW_TEST_REGISTRY_URL";
    /** System property holding the registry base URL (takes precedence over the environment). */
    public static final String PROPERTY = "mw.test.registry.url";

    private static volatile String verified;

    private TestRegistry() {}

    /**
     * The registry base URL, checked once per JVM with a {@code GET <url>/subjects} that must answer 200.
     *
     * @throws IllegalStateException when no URL is configured or the registry does not answer; the
     *                               message says how to fix it
     */
    public static String url() {
        String v = verified;
        if (v != null) {
            return v;
        }
        synchronized (TestRegistry.class) {
            if (verified == null) {
                String configured = configuredUrl();
                if (configured == null) {
                    throw new IllegalStateException("no schema registry for tests: run the tests through ./mw test, "
                            + "or set " + ENV + " (e.g. http://127.0.0.1:18081/apis/ccompat/v7) or -D" + PROPERTY);
                }
                check(configured);
                verified = configured;
            }
            return verified;
        }
    }

    /** True when a registry is configured and answers; for tests that prefer to be skipped without one. */
    public static boolean isAvailable() {
        try {
            url();
            return true;
        } catch (IllegalStateException e) {
            return false;
        }
    }

    /** The configured URL without a trailing '/', or null; no reachability check. */
    static String configuredUrl() {
        String u = System.getProperty(PROPERTY);
        if (u == null || u.isBlank()) {
            u = System.getenv(ENV);
        }
        if (u == null || u.isBlank()) {
            return null;
        }
        u = u.strip();
        while (u.endsWith("/")) {
            u = u.substring(0, u.length() - 1);
        }
        return u;
    }

    static void check(String base) {
        URI uri;
        try {
            uri = URI.create(base + "/subjects");
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("schema registry URL '" + base + "' (from " + ENV + " / " + PROPERTY
                    + ") is not a valid URL: " + e.getMessage(), e);
        }
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        HttpRequest req = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10))
                .header("Accept", "application/vnd.schemaregistry.v1+json, application/json").GET().build();
        try {
            HttpResponse<String> resp = http.send(req, HttpResponse.BodyHandlers.ofString());
            if (resp.statusCode() != 200) {
                throw new IllegalStateException("schema registry at " + base + " answered GET /subjects with HTTP "
                        + resp.statusCode() + " (expected 200): is this the Confluent-compatible API base, e.g. "
                        + ".../apis/ccompat/v7 for Apicurio?");
            }
        } catch (IOException e) {
            throw new IllegalStateException("schema registry at " + base + " is not reachable (" + e
                    + "): start it (./mw up, or run the tests through ./mw test) or fix " + ENV, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while checking the schema registry at " + base, e);
        }
    }
}
