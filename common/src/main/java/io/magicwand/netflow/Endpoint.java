package io.magicwand.netflow;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Arrays;

/**
 * A socket endpoint of an info record: {@code af u32, addr[16], port u16}. {@code af} is 4 (IPv4,
 * address in the first 4 bytes, rest zero) or 6 (IPv6); any other value (0 for a socket without an
 * address yet) is kept as received, since nothing from the protected application is trusted or
 * rewritten. {@code af} holds the u32's raw bits.
 */
public record Endpoint(int af, byte[] addr, int port) {

    public static final int AF_INET = 4;
    public static final int AF_INET6 = 6;
    public static final int ADDR_LEN = 16;
    /** Wire size: af(4) + addr(16) + port(2). */
    public static final int WIRE_LEN = 22;

    /** No address: af 0, zero address, port 0. */
    public static final Endpoint NONE = new Endpoint(0, new byte[ADDR_LEN], 0);

    public Endpoint {
        addr = Unsigned.copyExact("addr", addr, ADDR_LEN);
        Unsigned.checkU16("port", port);
    }

    /** From a Java address: af 4 for {@link Inet4Address}, 6 for {@link Inet6Address}. */
    public static Endpoint of(InetAddress address, int port) {
        return new Endpoint(afOf(address), addrBytes(address), port);
    }

    /** Parses a numeric IPv4/IPv6 literal (no DNS lookup) and builds the endpoint. */
    public static Endpoint of(String ipLiteral, int port) {
        return of(parseLiteral(ipLiteral), port);
    }

    /** The 16-byte address field (a copy). */
    @Override
    public byte[] addr() {
        return addr.clone();
    }

    /** True when {@code af} is 4 or 6, i.e. {@link #toInetAddress()} works. */
    public boolean isIp() {
        return af == AF_INET || af == AF_INET6;
    }

    /**
     * The address as a Java {@link InetAddress}.
     *
     * @throws IllegalStateException when {@code af} is neither 4 nor 6
     */
    public InetAddress toInetAddress() {
        return toInetAddress(af, addr);
    }

    /** Numeric address text ("10.1.2.3", "2001:db8::1" in RFC 5952 form), or "af=N" for an unknown family. */
    public String addressText() {
        if (af == AF_INET) {
            return (addr[0] & 0xFF) + "." + (addr[1] & 0xFF) + "." + (addr[2] & 0xFF) + "." + (addr[3] & 0xFF);
        }
        if (af == AF_INET6) {
            return ipv6Text(addr);
        }
        return "af=" + Integer.toUnsignedString(af);
    }

    /** RFC 5952 text of a 16-byte IPv6 address: lower-case, no leading zeros, longest zero run (>= 2 groups) as "::". */
    static String ipv6Text(byte[] a) {
        int[] g = new int[8];
        for (int i = 0; i < 8; i++) {
            g[i] = ((a[2 * i] & 0xFF) << 8) | (a[2 * i + 1] & 0xFF);
        }
        int bestStart = -1;
        int bestLen = 1;
        for (int i = 0; i < 8; ) {
            if (g[i] != 0) {
                i++;
                continue;
            }
            int j = i;
            while (j < 8 && g[j] == 0) {
                j++;
            }
            if (j - i > bestLen) {
                bestStart = i;
                bestLen = j - i;
            }
            i = j;
        }
        StringBuilder sb = new StringBuilder(39);
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                sb.append("::");
                i += bestLen - 1;
                continue;
            }
            if (sb.length() > 0 && sb.charAt(sb.length() - 1) != ':') {
                sb.append(':');
            }
            sb.append(Integer.toHexString(g[i]));
        }
        return sb.toString();
    }

    /** "10.1.2.3:80", "[2001:db8::1]:443", or "af=0:0" style for unknown families. */
    @Override
    public String toString() {
        if (af == AF_INET6) {
            return "[" + addressText() + "]:" + port;
        }
        return addressText() + ":" + port;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Endpoint e && e.af == af && e.port == port && Arrays.equals(e.addr, addr);
    }

    @Override
    public int hashCode() {
        return (31 * af + port) * 31 + Arrays.hashCode(addr);
    }

    static int afOf(InetAddress address) {
        if (address instanceof Inet4Address) {
            return AF_INET;
        }
        if (address instanceof Inet6Address) {
            return AF_INET6;
        }
        throw new IllegalArgumentException("unsupported address type: " + address);
    }

    /** The 16-byte wire form of an address: IPv4 in the first 4 bytes, the rest zero. */
    static byte[] addrBytes(InetAddress address) {
        byte[] out = new byte[ADDR_LEN];
        byte[] raw = address.getAddress();
        System.arraycopy(raw, 0, out, 0, raw.length);
        return out;
    }

    static InetAddress toInetAddress(int af, byte[] addr16) {
        try {
            if (af == AF_INET) {
                return InetAddress.getByAddress(Arrays.copyOf(addr16, 4));
            }
            if (af == AF_INET6) {
                return InetAddress.getByAddress(addr16.clone());
            }
        } catch (UnknownHostException e) {
            throw new IllegalStateException("cannot happen for a 4/16-byte address", e);
        }
        throw new IllegalStateException("address family " + Integer.toUnsignedString(af) + " is neither 4 nor 6");
    }

    static InetAddress parseLiteral(String ip) {
        if (ip == null || ip.isEmpty()) {
            throw new IllegalArgumentException("not a numeric IP address: " + ip);
        }
        try {
            if (ip.indexOf(':') >= 0) {
                // A string with ':' is only ever parsed as an IPv6 literal, never looked up in DNS.
                return InetAddress.getByName(ip.startsWith("[") && ip.endsWith("]") ? ip : "[" + ip + "]");
            }
            String[] parts = ip.split("\\.", -1);
            if (parts.length != 4) {
                throw new IllegalArgumentException("not a numeric IP address: " + ip);
            }
            byte[] b = new byte[4];
            for (int i = 0; i < 4; i++) {
                if (!parts[i].matches("[0-9]{1,3}") || Integer.parseInt(parts[i]) > 255) {
                    throw new IllegalArgumentException("not a numeric IP address: " + ip);
                }
                b[i] = (byte) Integer.parseInt(parts[i]);
            }
            return InetAddress.getByAddress(b);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("not a numeric IP address: " + ip, e);
        }
    }
}
