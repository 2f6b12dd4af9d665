package io.magicwand.serde;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.Map;
import io.magicwand.avro.SocketEvent;
import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.Test;

/** What the REST client does without a registry; the real registry is exercised by RestSchemaRegistryClientIT. */
class RestSchemaRegistryClientTest {

    private static int closedPort() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    @Test
    void unreachableRegistryIsAClearTransientError() throws Exception {
        String url = "http://127.0.0.1:" + closedPort() + "/apis/ccompat/v7";
        RestSchemaRegistryClient c = new RestSchemaRegistryClient(url);
        SchemaRegistryException e = assertThrows(SchemaRegistryException.class, () -> c.getById(1));
        assertEquals(SchemaRegistryException.UNREACHABLE, e.status());
        assertTrue(e.isTransient());
        assertTrue(e.getMessage().contains(url) && e.getMessage().contains("unreachable"), e.getMessage());

        try (AvroSerde<SocketEvent> serde = AvroSerdes.specific(SocketEvent.class,
                Map.of(SerdeConfig.SCHEMA_REGISTRY_URL, url), false)) {
            SerializationException se = assertThrows(SerializationException.class,
                    () -> serde.deserializer().deserialize("t", new byte[] {0, 0, 0, 0, 1, 2}));
            assertTrue(PoisonPills.isTransient(se), "a registry outage is not a poison pill");
            assertTrue(se.getMessage().contains("cannot fetch schema id 1"), se.getMessage());
        }
    }

    @Test
    void badUrlsAreRejectedUpFront() {
        assertThrows(IllegalArgumentException.class, () -> new RestSchemaRegistryClient("127.0.0.1:8081"));
        assertThrows(IllegalArgumentException.class, () -> new RestSchemaRegistryClient("ftp://x/y"));
        assertEquals("http://h:1/apis/ccompat/v7", new RestSchemaRegistryClient("http://h:1/apis/ccompat/v7/").baseUrl());
    }
}
