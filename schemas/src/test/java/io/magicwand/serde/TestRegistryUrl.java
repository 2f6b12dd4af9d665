package io.magicwand.serde;

/**
 * The real registry for integration tests. Stand-in until io.magicwand.testkit.TestRegistry exists:
 * env MW_TEST_REGISTRY_URL or system property mw.test.registry.url.
 */
final class TestRegistryUrl {
    private TestRegistryUrl() {
    }

    static String url() {
        String u = System.getProperty("mw.test.registry.url");
        if (u == null || u.isBlank()) {
            u = System.getenv("MW_TEST_REGISTRY_URL");
        }
        if (u == null || u.isBlank()) {
            throw new IllegalStateException("no schema registry for integration tests: set MW_TEST_REGISTRY_URL "
                    + "(e.g. http://127.0.0.1:18081/apis/ccompat/v7 after ./mw up)");
        }
        return u.trim();
    }
}
