package io.magicwand.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

class SinkConfigTest {

    @Test
    void defaults() {
        SinkConfig c = SinkConfig.defaults();
        assertEquals("mw.mitigation-decisions", c.decisionsTopic());
        assertEquals("mw.mitigation-results", c.resultsTopic());
        assertEquals("mw.mitigation-decisions.dlq", c.dlqTopic());
        assertEquals(18094, c.opsPort());
        assertTrue(c.unblockOnExpiry());
        assertTrue(c.targets().isEmpty());
        assertNull(c.defaultTarget());
        assertNull(c.stateDir());
    }

    @Test
    void targetsAndKafkaPassThrough() {
        SinkConfig c = SinkConfig.of(Map.of("netflow.targets", "host1=127.0.0.1:2055, host2=[::1]:2056",
                "netflow.default.target", "127.0.0.1:2057", "kafka.linger.ms", "5"));
        assertEquals(2055, c.targets().get("host1").getPort());
        assertEquals(2056, c.targets().get("host2").getPort());
        assertEquals(2057, c.defaultTarget().getPort());
        assertEquals("5", c.kafkaProperties().getProperty("linger.ms"));
    }

    @Test
    void badValuesNameTheKey() {
        assertMessage("unknown mitigation-sink config key 'nope'", Map.of("nope", "1"));
        assertMessage("netflow.request.timeout.ms must be an integer", Map.of("netflow.request.timeout.ms", "soon"));
        assertMessage("not HOST=ADDRESS:PORT", Map.of("netflow.targets", "host1"));
        assertMessage("out of range", Map.of("netflow.targets", "h=127.0.0.1:70000"));
        assertMessage("names host 'h' twice", Map.of("netflow.targets", "h=127.0.0.1:1,h=127.0.0.1:2"));
        assertMessage("must be true or false", Map.of("sink.unblock.on.expiry", "yes"));
        assertMessage("must not be negative", Map.of("netflow.max.retries", "-1"));
    }

    private static void assertMessage(String fragment, Map<String, String> props) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SinkConfig.of(props));
        assertTrue(e.getMessage().contains(fragment), e.getMessage());
    }
}
