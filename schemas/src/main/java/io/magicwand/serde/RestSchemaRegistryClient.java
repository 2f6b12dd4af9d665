package io.magicwand.serde;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.Schema;
import org.apache.avro.SchemaParseException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link SchemaRegistryClient} over the Confluent Schema Registry REST API, using
 * {@link java.net.http.HttpClient}. Works against Confluent's registry and Apicurio Registry's
 * Confluent-compatible API ({@code http://HOST:PORT/apis/ccompat/v7}).
 *
 * <p>Caches forever what cannot change: the schema of an id, and the id of a schema under a
 * subject (registering or looking up the same schema twice costs one HTTP call).
 */
public final class RestSchemaRegistryClient implements SchemaRegistryClient {
    private static final Logger log = LoggerFactory.getLogger(RestSchemaRegistryClient.class);

    static final String CONTENT_TYPE = "application/vnd.schemaregistry.v1+json";
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(5);
    public static final Duration DEFAULT_REQUEST_TIMEOUT = Duration.ofSeconds(30);

    private static final ObjectMapper JSON = new ObjectMapper();

    private final String baseUrl;
    private final Duration requestTimeout;
    private final HttpClient http;
    private final Map<Integer, Schema> schemaById = new ConcurrentHashMap<>();
    private final Map<String, Map<Schema, Integer>> idBySubjectSchema = new ConcurrentHashMap<>();

    public RestSchemaRegistryClient(String baseUrl) {
        this(baseUrl, DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT);
    }

    public RestSchemaRegistryClient(String baseUrl, Duration connectTimeout, Duration requestTimeout) {
        Objects.requireNonNull(baseUrl, "baseUrl");
        String url = baseUrl.trim();
        while (url.endsWith("/")) {
            url = url.substring(0, url.length() - 1);
        }
        URI uri;
        try {
            uri = URI.create(url);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("invalid schema registry URL '" + baseUrl + "': " + e.getMessage(), e);
        }
        if (uri.getScheme() == null || !(uri.getScheme().equals("http") || uri.getScheme().equals("https"))
                || uri.getHost() == null) {
            throw new IllegalArgumentException("invalid schema registry URL '" + baseUrl
                    + "': expected http(s)://HOST:PORT[/path], e.g. http://127.0.0.1:18081/apis/ccompat/v7");
        }
        this.baseUrl = url;
        this.requestTimeout = requestTimeout;
        this.http = HttpClient.newBuilder()
                .connectTimeout(connectTimeout)
                .followRedirects(HttpClient.Redirect.NORMAL)
                .build();
    }

    /** The registry base URL this client talks to (without trailing slash). */
    public String baseUrl() {
        return baseUrl;
    }

    @Override
    public int register(String subject, Schema schema) {
        Map<Schema, Integer> ids = idsOf(subject);
        Integer cached = ids.get(schema);
        if (cached != null) {
            return cached;
        }
        JsonNode reply = call("POST", "/subjects/" + enc(subject) + "/versions", schemaBody(schema),
                "register schema " + schema.getFullName() + " under subject '" + subject + "'");
        int id = intField(reply, "id", "register");
        ids.put(schema, id);
        schemaById.putIfAbsent(id, schema);
        log.debug("registered {} under subject {} as id {}", schema.getFullName(), subject, id);
        return id;
    }

    @Override
    public Schema getById(int id) {
        Schema cached = schemaById.get(id);
        if (cached != null) {
            return cached;
        }
        JsonNode reply = call("GET", "/schemas/ids/" + id, null, "fetch schema id " + id);
        JsonNode type = reply.get("schemaType");
        if (type != null && !type.isNull() && !"AVRO".equalsIgnoreCase(type.asText())) {
            throw new SchemaRegistryException(200, -1, "schema id " + id + " at " + baseUrl
                    + " is of type " + type.asText() + ", not AVRO");
        }
        JsonNode text = reply.get("schema");
        if (text == null || !text.isTextual()) {
            throw new SchemaRegistryException(200, -1, "fetch schema id " + id + " at " + baseUrl
                    + ": reply has no 'schema' string: " + abbreviate(reply.toString()));
        }
        Schema schema;
        try {
            schema = new Schema.Parser().parse(text.asText());
        } catch (SchemaParseException e) {
            throw new SchemaRegistryException(200, -1, "schema id " + id + " at " + baseUrl
                    + " is not a valid Avro schema: " + e.getMessage(), e);
        }
        Schema prior = schemaById.putIfAbsent(id, schema);
        return prior != null ? prior : schema;
    }

    @Override
    public int getIdBySchema(String subject, Schema schema) {
        Map<Schema, Integer> ids = idsOf(subject);
        Integer cached = ids.get(schema);
        if (cached != null) {
            return cached;
        }
        JsonNode reply = call("POST", "/subjects/" + enc(subject), schemaBody(schema),
                "look up schema " + schema.getFullName() + " under subject '" + subject + "'");
        int id = intField(reply, "id", "look up");
        ids.put(schema, id);
        schemaById.putIfAbsent(id, schema);
        return id;
    }

    @Override
    public boolean testCompatibility(String subject, Schema schema) {
        try {
            JsonNode reply = call("POST", "/compatibility/subjects/" + enc(subject) + "/versions/latest",
                    schemaBody(schema), "test compatibility of " + schema.getFullName() + " with subject '" + subject + "'");
            JsonNode ok = reply.get("is_compatible");
            if (ok == null || !ok.isBoolean()) {
                throw new SchemaRegistryException(200, -1, "compatibility test at " + baseUrl
                        + ": reply has no boolean 'is_compatible': " + abbreviate(reply.toString()));
            }
            return ok.booleanValue();
        } catch (SchemaRegistryException e) {
            // Confluent answers 404 for a subject without versions; Apicurio answers true. Nothing to
            // be incompatible with means compatible.
            if (e.status() == 404 && (e.errorCode() == SchemaRegistryException.SUBJECT_NOT_FOUND
                    || e.errorCode() == SchemaRegistryException.VERSION_NOT_FOUND)) {
                return true;
            }
            throw e;
        }
    }

    @Override
    public void setCompatibility(String subject, String level) {
        Objects.requireNonNull(level, "level");
        ObjectNode body = JSON.createObjectNode().put("compatibility", level);
        call("PUT", "/config/" + enc(subject), body.toString(),
                "set compatibility level of subject '" + subject + "' to " + level);
    }

    private Map<Schema, Integer> idsOf(String subject) {
        Objects.requireNonNull(subject, "subject");
        return idBySubjectSchema.computeIfAbsent(subject, s -> new ConcurrentHashMap<>());
    }

    private static String schemaBody(Schema schema) {
        return JSON.createObjectNode().put("schema", schema.toString()).toString();
    }

    private static String enc(String pathSegment) {
        return URLEncoder.encode(pathSegment, StandardCharsets.UTF_8).replace("+", "%20");
    }

    private JsonNode call(String method, String path, String body, String what) {
        URI uri = URI.create(baseUrl + path);
        HttpRequest.Builder req = HttpRequest.newBuilder(uri)
                .timeout(requestTimeout)
                .header("Accept", CONTENT_TYPE + ", application/json");
        if (body != null) {
            req.header("Content-Type", CONTENT_TYPE)
                    .method(method, HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
        } else {
            req.method(method, HttpRequest.BodyPublishers.noBody());
        }
        HttpResponse<String> resp;
        try {
            resp = http.send(req.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new SchemaRegistryException(SchemaRegistryException.UNREACHABLE, -1,
                    "cannot " + what + ": schema registry " + baseUrl + " unreachable (" + method + " " + uri
                            + " failed: " + e + "); is the registry running and the URL right?", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SchemaRegistryException(SchemaRegistryException.UNREACHABLE, -1,
                    "cannot " + what + ": interrupted while waiting for " + method + " " + uri, e);
        }
        int status = resp.statusCode();
        JsonNode json = null;
        String text = resp.body() == null ? "" : resp.body();
        if (!text.isBlank()) {
            try {
                json = JSON.readTree(text);
            } catch (IOException e) {
                json = null;
            }
        }
        if (status / 100 == 2) {
            if (json == null) {
                throw new SchemaRegistryException(status, -1, "cannot " + what + ": " + method + " " + uri
                        + " answered " + status + " with a body that is not JSON: " + abbreviate(text));
            }
            return json;
        }
        int errorCode = status;
        String message = abbreviate(text);
        if (json != null && json.isObject()) {
            if (json.path("error_code").canConvertToInt()) {
                errorCode = json.path("error_code").asInt();
            }
            if (json.hasNonNull("message")) {
                message = json.get("message").asText();
            }
        }
        throw new SchemaRegistryException(status, errorCode, "cannot " + what + ": registry answered HTTP "
                + status + " error_code " + errorCode + ": " + message + " (" + method + " " + uri + ")");
    }

    private int intField(JsonNode reply, String field, String what) {
        JsonNode n = reply.get(field);
        if (n == null || !n.canConvertToInt()) {
            throw new SchemaRegistryException(200, -1, what + " at " + baseUrl + ": reply has no integer '"
                    + field + "': " + abbreviate(reply.toString()));
        }
        return n.asInt();
    }

    private static String abbreviate(String s) {
        return s.length() <= 300 ? s : s.substring(0, 300) + "...";
    }

    @Override
    public String toString() {
        return "RestSchemaRegistryClient[" + baseUrl + "]";
    }
}
