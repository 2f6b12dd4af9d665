package io.magicwand.serde;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Creates {@link SchemaRegistryClient}s from a URL. */
public final class SchemaRegistryClients {
    /** URL prefix of in-memory registries for tests: {@code mock://SCOPE}. */
    public static final String MOCK_PREFIX = "mock://";

    private static final Map<String, InMemorySchemaRegistryClient> MOCKS = new ConcurrentHashMap<>();

    private SchemaRegistryClients() {
    }

    /**
     * {@code http(s)://...} gives a {@link RestSchemaRegistryClient}; {@code mock://SCOPE} gives the
     * in-memory registry of that scope, shared by everyone in the JVM asking for the same scope (so a
     * serializer and a deserializer configured separately see the same schemas).
     */
    public static SchemaRegistryClient forUrl(String url) {
        if (url == null || url.isBlank()) {
            throw new IllegalArgumentException("no schema registry URL given (set " + SerdeConfig.SCHEMA_REGISTRY_URL
                    + ", e.g. http://127.0.0.1:18081/apis/ccompat/v7)");
        }
        String u = url.trim();
        if (u.startsWith(MOCK_PREFIX)) {
            return mock(u.substring(MOCK_PREFIX.length()));
        }
        return new RestSchemaRegistryClient(u);
    }

    /** The shared in-memory registry of {@code scope}. */
    public static InMemorySchemaRegistryClient mock(String scope) {
        return MOCKS.computeIfAbsent(scope, s -> new InMemorySchemaRegistryClient());
    }

    /** Forgets the in-memory registry of {@code scope} (tests call this to start clean). */
    public static void dropMock(String scope) {
        MOCKS.remove(scope);
    }
}
