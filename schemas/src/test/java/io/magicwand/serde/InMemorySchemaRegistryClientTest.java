package io.magicwand.serde;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.apache.avro.Schema;
import org.junit.jupiter.api.Test;

class InMemorySchemaRegistryClientTest {
    static final Schema V1 = parse("{\"type\":\"record\",\"name\":\"P\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}");
    static final Schema V2_DEFAULT = parse("{\"type\":\"record\",\"name\":\"P\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"},"
            + "{\"name\":\"b\",\"type\":\"string\",\"default\":\"\"}]}");
    static final Schema V2_NO_DEFAULT = parse("{\"type\":\"record\",\"name\":\"P\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"},"
            + "{\"name\":\"b\",\"type\":\"string\"}]}");

    static Schema parse(String s) {
        return new Schema.Parser().parse(s);
    }

    @Test
    void registerIsIdempotentAndIdsAreGlobal() {
        InMemorySchemaRegistryClient c = new InMemorySchemaRegistryClient();
        int id = c.register("s-value", V1);
        assertEquals(id, c.register("s-value", V1));
        assertEquals(id, c.register("other-value", V1), "same schema, same id under another subject");
        assertEquals(V1, c.getById(id));
        assertEquals(id, c.getIdBySchema("s-value", V1));
        int id2 = c.register("s-value", V2_DEFAULT);
        assertNotEquals(id, id2);
        assertEquals(2, c.versions("s-value").size());
    }

    @Test
    void unknownThingsAre404WithConfluentCodes() {
        InMemorySchemaRegistryClient c = new InMemorySchemaRegistryClient();
        SchemaRegistryException e = assertThrows(SchemaRegistryException.class, () -> c.getById(5));
        assertEquals(404, e.status());
        assertEquals(SchemaRegistryException.SCHEMA_NOT_FOUND, e.errorCode());
        e = assertThrows(SchemaRegistryException.class, () -> c.getIdBySchema("nope", V1));
        assertEquals(SchemaRegistryException.SUBJECT_NOT_FOUND, e.errorCode());
        c.register("s", V1);
        e = assertThrows(SchemaRegistryException.class, () -> c.getIdBySchema("s", V2_DEFAULT));
        assertEquals(SchemaRegistryException.SCHEMA_NOT_FOUND, e.errorCode());
        assertTrue(e.isNotFound());
        assertFalse(e.isTransient());
    }

    @Test
    void backwardIsEnforced() {
        InMemorySchemaRegistryClient c = new InMemorySchemaRegistryClient();
        assertTrue(c.testCompatibility("s", V2_NO_DEFAULT), "no versions yet: anything goes");
        c.register("s", V1);
        assertTrue(c.testCompatibility("s", V2_DEFAULT));
        assertFalse(c.testCompatibility("s", V2_NO_DEFAULT));
        SchemaRegistryException e = assertThrows(SchemaRegistryException.class, () -> c.register("s", V2_NO_DEFAULT));
        assertEquals(409, e.status());
        assertTrue(e.getMessage().contains("READER_FIELD_MISSING_DEFAULT_VALUE") && e.getMessage().contains("b"),
                e.getMessage());
        assertEquals(1, c.versions("s").size());
    }

    @Test
    void levelsChangeTheCheck() {
        InMemorySchemaRegistryClient c = new InMemorySchemaRegistryClient();
        c.register("s", V1);
        c.setCompatibility("s", "NONE");
        assertEquals("NONE", c.level("s"));
        c.register("s", V2_NO_DEFAULT);
        c.setCompatibility("s", "forward");
        // Removing b: the old reader (V2_NO_DEFAULT) cannot read data without b.
        assertFalse(c.testCompatibility("s", V1));
        c.setCompatibility("t", "FULL");
        c.register("t", V1);
        assertTrue(c.testCompatibility("t", V2_DEFAULT));
        assertFalse(c.testCompatibility("t", V2_NO_DEFAULT));
        SchemaRegistryException e = assertThrows(SchemaRegistryException.class, () -> c.setCompatibility("s", "SOMETIMES"));
        assertEquals(422, e.status());
    }

    @Test
    void mockScopesAreShared() {
        SchemaRegistryClient a = SchemaRegistryClients.forUrl("mock://scope-a");
        assertSame(a, SchemaRegistryClients.forUrl("mock://scope-a"));
        assertNotEquals(a, SchemaRegistryClients.forUrl("mock://scope-b"));
        SchemaRegistryClients.dropMock("scope-a");
        SchemaRegistryClients.dropMock("scope-b");
        assertTrue(SchemaRegistryClients.forUrl("http://127.0.0.1:1/apis/ccompat/v7") instanceof RestSchemaRegistryClient);
        assertThrows(IllegalArgumentException.class, () -> SchemaRegistryClients.forUrl(" "));
    }
}
