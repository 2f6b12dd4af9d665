package io.magicwand.serde;

import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/** Deletes the subjects an integration test created, so the shared test registry does not fill up. Best effort. */
final class RegistryCleanup {
    private RegistryCleanup() {
    }

    static void deleteSubject(String registryUrl, String subject) {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        String base = registryUrl.replaceAll("/+$", "") + "/subjects/"
                + URLEncoder.encode(subject, StandardCharsets.UTF_8).replace("+", "%20");
        // Soft delete first: both Confluent and Apicurio refuse a permanent delete of a live subject.
        for (String u : new String[] {base, base + "?permanent=true"}) {
            try {
                http.send(HttpRequest.newBuilder(URI.create(u)).timeout(Duration.ofSeconds(10)).DELETE().build(),
                        HttpResponse.BodyHandlers.discarding());
            } catch (Exception e) {
                if (e instanceof InterruptedException) {
                    Thread.currentThread().interrupt();
                }
                return;
            }
        }
    }
}
