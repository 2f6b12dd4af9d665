package io.magicwand.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

class ClientPropsTest {

    @Test
    void producerDefaultsAreIdempotentAndUserSettingsWin() {
        Properties base = new Properties();
        base.put("bootstrap.servers", "b:9092");
        base.put("linger.ms", "50");
        Properties p = ClientProps.producer(base, "mw-ingest");
        assertEquals("all", p.getProperty("acks"));
        assertEquals("true", p.getProperty("enable.idempotence"));
        assertEquals("5", p.getProperty("max.in.flight.requests.per.connection"));
        assertEquals("50", p.getProperty("linger.ms"));
        assertEquals("b:9092", p.getProperty("bootstrap.servers"));
        assertEquals("mw-ingest", p.getProperty("client.id"));
        assertFalse(base.containsKey("acks"), "base is not modified");
    }

    @Test
    void consumerAndAdminDefaults() {
        Properties base = new Properties();
        base.put("auto.offset.reset", "latest");
        Properties c = ClientProps.consumer(base, "g1", null);
        assertEquals("g1", c.getProperty("group.id"));
        assertEquals("false", c.getProperty("enable.auto.commit"));
        assertEquals("latest", c.getProperty("auto.offset.reset"));
        assertEquals("read_committed", c.getProperty("isolation.level"));
        assertFalse(c.containsKey("client.id"));
        Properties a = ClientProps.admin(null, "adm");
        assertEquals("adm", a.getProperty("client.id"));
        assertEquals("30000", a.getProperty("request.timeout.ms"));
        assertEquals(Map.of("group.id", "g1"), Map.of("group.id", ClientProps.asMap(c).get("group.id")));
    }
}
