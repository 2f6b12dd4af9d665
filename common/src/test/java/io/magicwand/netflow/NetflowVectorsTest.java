package io.magicwand.netflow;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every vector in testdata/netflow-vectors decodes to exactly the fields of its JSON (fields the JSON
 * leaves out are zero on the wire) and the message built from the JSON encodes to the same bytes.
 */
class NetflowVectorsTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> IGNORED_KEYS = Set.of("note");

    static List<String> vectors() {
        return TestVectors.names();
    }

    @Test
    void vectorDirectoryHoldsAllKinds() {
        List<String> names = vectors();
        assertTrue(names.size() >= 22, "expected the shared vectors, found " + names);
        assertTrue(names.stream().anyMatch(n -> n.startsWith("info-")));
        assertTrue(names.stream().anyMatch(n -> n.startsWith("req-")));
        assertTrue(names.stream().anyMatch(n -> n.startsWith("resp-")));
        // the extensions, by signature (names are free-form)
        Set<Integer> sigs = new HashSet<>();
        for (String n : names) {
            sigs.add(NetflowCodec.decode(TestVectors.bytes(n)).signature());
        }
        assertTrue(sigs.contains(NetflowCodec.SIG_SNAPSHOT), "no snapshot vector");
        assertTrue(sigs.contains(NetflowCodec.SIG_AUTH), "no auth vector");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("vectors")
    void decodesToJsonFieldsAndReencodesToSameBytes(String name) throws Exception {
        byte[] wire = TestVectors.bytes(name);
        JsonNode json = JSON.readTree(TestVectors.json(name));
        Set<String> used = new HashSet<>();

        NetflowMessage expected = fromJson(json, used);
        for (Iterator<String> it = json.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!used.contains(k) && !IGNORED_KEYS.contains(k)) {
                fail("vector " + name + " has a field the test does not check: " + k);
            }
        }

        assertEquals(NetflowCodec.messageLength(expected.signature()), wire.length, "length of " + name);
        NetflowMessage decoded = NetflowCodec.decode(wire);
        assertEquals(expected, decoded, "decode " + name);
        assertArrayEquals(wire, NetflowCodec.encode(expected), "encode " + name);
        assertArrayEquals(wire, NetflowCodec.encode(decoded), "re-encode " + name);
        checkAccessors(json, decoded);
    }

    /** The typed accessors agree with the JSON, not just the raw arrays. */
    private static void checkAccessors(JsonNode json, NetflowMessage m) throws Exception {
        if (m instanceof FeatureRequest r) {
            if (json.has("val_v32")) {
                assertEquals(u(json, "val_v32"), r.valU32());
            }
            if (json.has("val_time_s")) {
                assertEquals(new TimeVal(u(json, "val_time_s"), u(json, "val_time_us")), r.valTime());
            }
            if (json.has("ident_sockfd")) {
                assertTrue(r.isBySocket());
                assertEquals(u(json, "ident_sockfd"), r.identSocket());
            }
            if (json.has("ident_addr")) {
                assertEquals(json.get("ident_af").asInt(), r.identAf());
                assertEquals(InetAddress.getByName(json.get("ident_addr").asText()), r.identAddress());
            }
            assertEquals((json.get("flags").asInt() & 1) != 0, r.isWrite());
        } else if (m instanceof FeatureResponse r) {
            if (json.has("val_v32")) {
                assertEquals(u(json, "val_v32"), r.valU32());
            }
            if (json.has("val_time_s")) {
                assertEquals(new TimeVal(u(json, "val_time_s"), u(json, "val_time_us")), r.valTime());
            }
            assertEquals(json.get("status").asLong() == 0, r.isOk());
        } else if (m instanceof NetflowInfo i) {
            assertEquals(InetAddress.getByName(json.get("local_addr").asText()), i.local().toInetAddress());
            assertEquals(InetAddress.getByName(json.get("remote_addr").asText()), i.remote().toInetAddress());
        } else if (m instanceof NetflowSnapshot s) {
            assertEquals(json.get("id").asLong(), s.id());
            assertEquals(InetAddress.getByName(json.get("local_addr").asText()), s.info().local().toInetAddress());
            assertEquals(InetAddress.getByName(json.get("remote_addr").asText()), s.info().remote().toInetAddress());
        } else if (m instanceof NetflowAuth a) {
            assertEquals(json.get("token_len").asInt(), a.tokenLength());
            assertEquals(json.get("token").asText(), new String(a.token(), StandardCharsets.UTF_8));
        }
    }

    private static NetflowMessage fromJson(JsonNode j, Set<String> used) throws Exception {
        int sig = (int) take(j, "sig", used);
        long id = take(j, "id", used);
        switch (sig) {
            case NetflowCodec.SIG_SNAPSHOT:
            case NetflowCodec.SIG_INFO: {
                NetflowInfo info = new NetflowInfo(id, (int) take(j, "obs", used),
                        take(j, "session_start_sec", used), take(j, "session_start_ns", used),
                        take(j, "curr_sec", used), take(j, "curr_ns", used),
                        take(j, "sockfd", used),
                        endpoint(j, "local", used), endpoint(j, "remote", used),
                        take(j, "bytes_in", used), take(j, "bytes_out", used), take(j, "extra", used));
                return sig == NetflowCodec.SIG_SNAPSHOT ? new NetflowSnapshot(info) : info;
            }
            case NetflowCodec.SIG_AUTH: {
                used.add("token");
                byte[] token = j.get("token").asText().getBytes(StandardCharsets.UTF_8);
                assertEquals(take(j, "token_len", used), token.length, "token_len vs token");
                return new NetflowAuth(id, token);
            }
            case NetflowCodec.SIG_REQUEST: {
                int flags = (int) take(j, "flags", used);
                int name = (int) take(j, "name", used);
                byte[] ident = new byte[FeatureRequest.IDENT_LEN];
                if (j.has("ident_sockfd")) {
                    ident = FeatureRequest.socketIdent(take(j, "ident_sockfd", used));
                } else if (j.has("ident_addr")) {
                    InetAddress a = InetAddress.getByName(j.get("ident_addr").asText());
                    used.add("ident_addr");
                    ident = FeatureRequest.addressIdent(a);
                    assertEquals(take(j, "ident_af", used), Endpoint.afOf(a));
                }
                return new FeatureRequest(id, flags, name, val(j, used), ident);
            }
            case NetflowCodec.SIG_RESPONSE:
                return new FeatureResponse(id, take(j, "status", used), val(j, used));
            default:
                throw new AssertionError("vector with unknown sig " + sig);
        }
    }

    private static byte[] val(JsonNode j, Set<String> used) {
        if (j.has("val_v32")) {
            return FeatureRequest.u32Val(take(j, "val_v32", used));
        }
        if (j.has("val_time_s")) {
            return FeatureRequest.timeVal(take(j, "val_time_s", used), take(j, "val_time_us", used));
        }
        return new byte[16];
    }

    private static Endpoint endpoint(JsonNode j, String side, Set<String> used) throws Exception {
        int af = (int) take(j, side + "_af", used);
        int port = (int) take(j, side + "_port", used);
        used.add(side + "_addr");
        byte[] addr = Endpoint.addrBytes(InetAddress.getByName(j.get(side + "_addr").asText()));
        return new Endpoint(af, addr, port);
    }

    /** A JSON integer as the raw low 64 bits (u64 max becomes -1L, as the codec carries it). */
    private static long take(JsonNode j, String key, Set<String> used) {
        used.add(key);
        return u(j, key);
    }

    private static long u(JsonNode j, String key) {
        JsonNode n = j.get(key);
        if (n == null || !n.isIntegralNumber()) {
            throw new AssertionError("missing or non-integer field " + key);
        }
        return n.bigIntegerValue().longValue();
    }
}
