package io.magicwand.streams.detector;

import io.magicwand.streams.internal.StreamsAppSettings;
import java.util.List;
import java.util.Map;

/**
 * Settings of the baseline detector with defaults. docs/detector.md justifies every default against
 * Apache mod_reqtimeout, nginx's timeouts and per-address connection limits.
 */
public final class DetectorConfig extends StreamsAppSettings {
    public final Key applicationId = declare("application.id", "mw-detector", "Kafka Streams application id");
    public final Key registryUrl = declare("schema.registry.url", "http://127.0.0.1:18081/apis/ccompat/v7", "schema registry base URL; mock://SCOPE in unit tests");
    public final Key flowTopic = declare("topic.flow-features", "mw.flow-features", "input: FlowFeatures");
    public final Key peerTopic = declare("topic.peer-features", "mw.peer-features", "input: PeerFeatures");
    public final Key decisionsTopic = declare("topic.mitigation-decisions", "mw.mitigation-decisions", "output: MitigationDecisions");
    public final Key allowlist = declare("allowlist", "", "comma-separated addresses/CIDR blocks never acted on");
    public final Key slowMinAge = declare("slow.min.age.ms", 1000, "slow request/read checks start at this connection age");
    public final Key slowMaxRate = declare("slow.max.rate.bps", 500, "slow request: request bytes per second below this (mod_reqtimeout MinRate=500)");
    public final Key slowSilentAge = declare("slow.silent.max.age.ms", 20000, "a connection that sent nothing for this long is a slowloris (mod_reqtimeout header=20)");
    public final Key slowpostHead = declare("slowpost.min.head.bytes", 256, "slow request labelled slow POST when its first recv carried at least this many bytes (a whole header block) and more trickled after");
    public final Key slowreadMinWait = declare("slowread.min.wait.ms", 1000, "slow read: the server waited at least this long between consecutive sends");
    public final Key slowreadMaxDrain = declare("slowread.max.drain.bps", 1024, "slow read: the client drained the response slower than this (bytes/s while the server waited)");
    public final Key slowreadStall = declare("slowread.stall.ms", 60000, "slow read: a response stalled this long after send waits (nginx send_timeout 60 s)");
    public final Key rangeMinRequest = declare("range.min.request.bytes", 2048, "Range attack: request at least this large (hundreds of ranges)");
    public final Key rangeMinResponse = declare("range.min.response.bytes", 32768, "Range attack: response at least this large");
    public final Key rangeMinRatio = declare("range.min.ratio", 10, "Range attack: down_up_ratio at least this");
    public final Key rangeMinFlows = declare("range.min.flows", 2, "Range attack: block after this many such requests from one address in the window");
    public final Key suspectsPerBlock = declare("suspects.per.block", 3, "block an address after this many slow connections in the window");
    public final Key suspectWindow = declare("suspect.window.ms", 10000, "window over which an address's suspect connections are counted");
    public final Key closeSingleAge = declare("close.single.age.ms", 10000, "close a lone slow connection (address not blocked) at this age");
    public final Key floodMaxOpen = declare("flood.max.open", 50, "connection flood: open connections from one address above this (per-address limit)");
    public final Key floodMaxNew = declare("flood.max.new", 100, "connection flood: new connections from one address per PeerFeatures window above this");
    public final Key peerMaxSlow = declare("peer.max.slow", 3, "block when PeerFeatures.slow_connections reaches this");
    public final Key tightenTimeout = declare("tighten.timeout.ms", 5000, "SET_ATTRIBUTE rcvtimeo/sndtimeo on a suspect connection to this");
    public final Key banTtl = declare("ban.ttl.ms", 60000, "BLOCK length; an UNBLOCK follows (0 = permanent)");
    public final Key decisionTtl = declare("decision.ttl.ms", 30000, "validity of CLOSE and SET_ATTRIBUTE decisions (socket ids get reused)");
    public final Key unblockTtl = declare("unblock.ttl.ms", 86400000, "validity of UNBLOCK decisions (must not be skipped)");
    public final Key punctuate = declare("punctuate.ms", 1000, "how often ban expiry is checked (wall clock)");

    private final AllowList allow;

    public DetectorConfig(Map<String, String> values) {
        super(values);
        declareStreamsKeys();
        rejectUnknown();
        allow = new AllowList(string(allowlist));
        validateStreamsKeys();
        for (Key k : declaredKeys()) {
            if (!k.name().startsWith("topic.") && !k.name().equals("application.id") && !k.name().equals("schema.registry.url")
                    && !k.name().equals("allowlist") && !k.name().equals("state.store.type")) {
                doubleValue(k, 0);
            }
        }
    }

    public static DetectorConfig defaults() {
        return new DetectorConfig(Map.of());
    }

    public String applicationId() {
        return string(applicationId);
    }

    public String registryUrl() {
        return string(registryUrl);
    }

    public String flowTopic() {
        return string(flowTopic);
    }

    public String peerTopic() {
        return string(peerTopic);
    }

    public String decisionsTopic() {
        return string(decisionsTopic);
    }

    public AllowList allowList() {
        return allow;
    }

    public long ms(Key k) {
        return longValue(k, 0);
    }

    public double num(Key k) {
        return doubleValue(k, 0);
    }

    @Override
    public List<String> outputTopics() {
        return List.of(decisionsTopic());
    }
}
