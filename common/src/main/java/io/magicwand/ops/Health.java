package io.magicwand.ops;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The result of a health check: UP (HTTP 200) or DOWN with a reason (HTTP 503), plus details that go
 * into the JSON body (values: String, Number, Boolean, null, nested Map or List).
 */
public record Health(boolean healthy, String reason, Map<String, Object> details) {

    public Health {
        details = details == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(details));
        if (!healthy) {
            Objects.requireNonNull(reason, "a DOWN health needs a reason");
        }
    }

    public static Health up() {
        return new Health(true, null, Map.of());
    }

    public static Health up(Map<String, ?> details) {
        return new Health(true, null, new LinkedHashMap<>(details));
    }

    public static Health down(String reason) {
        return new Health(false, reason, Map.of());
    }

    public static Health down(String reason, Map<String, ?> details) {
        return new Health(false, reason, new LinkedHashMap<>(details));
    }
}
