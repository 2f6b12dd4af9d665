package io.magicwand.streams;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.magicwand.streams.detector.AllowList;
import io.magicwand.streams.detector.DetectorConfig;
import io.magicwand.streams.features.FeaturesConfig;
import java.util.Map;
import org.apache.kafka.common.config.ConfigException;
import org.junit.jupiter.api.Test;

/** Command line and settings: help, and bad input rejected with exit code 2 before anything starts. */
class AppCliTest {
    @Test
    void helpExitsZero() {
        assertEquals(0, FeaturesApp.run(new String[] {"--help"}));
        assertEquals(0, BaselineDetectorApp.run(new String[] {"-h"}));
    }

    @Test
    void badSettingsExitTwo() {
        assertEquals(2, FeaturesApp.run(new String[] {"--set", "flow.emit.intervall.ms=5"}));
        assertEquals(2, FeaturesApp.run(new String[] {"--set", "peer.window.advance.ms=3000"}));
        assertEquals(2, FeaturesApp.run(new String[] {"--bogus"}));
        assertEquals(2, BaselineDetectorApp.run(new String[] {"--set", "allowlist=10.0.0.0/33"}));
        assertEquals(2, BaselineDetectorApp.run(new String[] {"--set", "ban.ttl.ms=-1"}));
        assertEquals(2, BaselineDetectorApp.run(new String[] {"--set", "state.store.type=disk"}));
    }

    @Test
    void settingsParseAndValidate() {
        FeaturesConfig f = new FeaturesConfig(Map.of("flow.early.emit.ages.ms", "2000, 1000", "kafka.num.stream.threads", "2"));
        assertEquals(java.util.List.of(1000L, 2000L), f.flowEarlyAgesMs());
        assertEquals(Map.of("num.stream.threads", "2"), f.kafkaProperties());
        assertThrows(ConfigException.class, () -> new FeaturesConfig(Map.of("flow.reorder.max", "0")));
        DetectorConfig d = DetectorConfig.defaults();
        assertEquals(500.0, d.num(d.slowMaxRate));
        assertEquals(60000L, d.ms(d.banTtl));
    }

    @Test
    void allowListMatchesAddressesAndBlocks() {
        AllowList a = new AllowList("10.0.0.0/8, 192.0.2.7, 2001:db8::/32, ::1");
        assertEquals(true, a.contains("10.200.3.4"));
        assertEquals(false, a.contains("11.0.0.1"));
        assertEquals(true, a.contains("192.0.2.7"));
        assertEquals(false, a.contains("192.0.2.8"));
        assertEquals(true, a.contains("2001:db8:1::5"));
        assertEquals(true, a.contains("::1"));
        assertEquals(true, a.contains("::ffff:10.1.1.1"), "IPv4-mapped IPv6 matches IPv4 entries");
        assertEquals(false, a.contains("not-an-address"));
        assertThrows(ConfigException.class, () -> new AllowList("example.com"));
    }
}
