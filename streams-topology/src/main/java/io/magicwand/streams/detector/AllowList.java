package io.magicwand.streams.detector;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.config.ConfigException;

/**
 * Addresses and CIDR blocks (IPv4 and IPv6) the detector never acts on. Entries are literals only
 * (no name resolution): {@code 10.0.0.0/8}, {@code 192.0.2.7}, {@code 2001:db8::/32}, {@code ::1}.
 * An IPv4-mapped IPv6 address ({@code ::ffff:a.b.c.d}) matches IPv4 entries.
 */
public final class AllowList {
    private record Block(byte[] net, int bits) {
    }

    private final List<Block> blocks = new ArrayList<>();
    private final String spec;

    public AllowList(String spec) {
        this.spec = spec == null ? "" : spec.trim();
        if (this.spec.isEmpty()) {
            return;
        }
        for (String raw : this.spec.split(",")) {
            String e = raw.trim();
            if (e.isEmpty()) {
                continue;
            }
            String addr = e;
            int bits = -1;
            int slash = e.indexOf('/');
            if (slash >= 0) {
                addr = e.substring(0, slash);
                try {
                    bits = Integer.parseInt(e.substring(slash + 1));
                } catch (NumberFormatException x) {
                    throw new ConfigException("allowlist", e, "bad prefix length");
                }
            }
            byte[] b = parse(addr);
            if (b == null) {
                throw new ConfigException("allowlist", e, "expected an IPv4/IPv6 address or CIDR block");
            }
            if (bits < 0) {
                bits = b.length * 8;
            }
            if (bits > b.length * 8) {
                throw new ConfigException("allowlist", e, "prefix length longer than the address");
            }
            blocks.add(new Block(b, bits));
        }
    }

    /** Literal IPv4/IPv6 to bytes (IPv4-mapped IPv6 folded to 4 bytes); null when not a literal. */
    static byte[] parse(String s) {
        if (s == null || s.isEmpty() || !s.matches("[0-9a-fA-F:.]+") || (!s.contains(":") && !s.matches("\\d{1,3}(\\.\\d{1,3}){3}"))) {
            return null;
        }
        try {
            return InetAddress.getByName(s).getAddress();
        } catch (UnknownHostException e) {
            return null;
        }
    }

    public boolean contains(String address) {
        if (blocks.isEmpty()) {
            return false;
        }
        byte[] a = parse(address);
        if (a == null) {
            return false;
        }
        for (Block b : blocks) {
            if (b.net.length == a.length && prefixMatch(b.net, a, b.bits)) {
                return true;
            }
        }
        return false;
    }

    private static boolean prefixMatch(byte[] net, byte[] a, int bits) {
        int full = bits / 8;
        for (int i = 0; i < full; i++) {
            if (net[i] != a[i]) {
                return false;
            }
        }
        int rest = bits % 8;
        if (rest == 0) {
            return true;
        }
        int mask = (0xff << (8 - rest)) & 0xff;
        return (net[full] & mask) == (a[full] & mask);
    }

    @Override
    public String toString() {
        return spec;
    }
}
