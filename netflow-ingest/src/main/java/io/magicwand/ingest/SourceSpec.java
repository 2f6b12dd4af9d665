package io.magicwand.ingest;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * One NetFlow endpoint to read: a host tag (which mwcomms; copied into every event) and its TCP
 * address. Textual form {@code host=addr:port}, IPv6 as {@code host=[::1]:2055}.
 */
public record SourceSpec(String host, String address, int port) {

    public SourceSpec {
        if (host == null || host.isBlank() || host.contains("/") || host.contains(",") || host.contains("=")) {
            throw new IllegalArgumentException("bad host tag '" + host + "' (non-empty, no '/', ',' or '=')");
        }
        if (address == null || address.isBlank()) {
            throw new IllegalArgumentException("source " + host + ": empty address");
        }
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("source " + host + ": port " + port + " out of range 1..65535");
        }
    }

    /** Parses {@code host=addr:port}. */
    public static SourceSpec parse(String text) {
        String t = text.trim();
        int eq = t.indexOf('=');
        if (eq <= 0) {
            throw new IllegalArgumentException("bad NetFlow source '" + text + "': expected host=addr:port");
        }
        String host = t.substring(0, eq).trim();
        String hp = t.substring(eq + 1).trim();
        String addr;
        String portText;
        if (hp.startsWith("[")) {
            int close = hp.indexOf(']');
            if (close < 0 || close + 1 >= hp.length() || hp.charAt(close + 1) != ':') {
                throw new IllegalArgumentException("bad NetFlow source '" + text + "': expected host=[v6addr]:port");
            }
            addr = hp.substring(1, close);
            portText = hp.substring(close + 2);
        } else {
            int colon = hp.lastIndexOf(':');
            if (colon <= 0 || hp.indexOf(':') != colon) {
                throw new IllegalArgumentException("bad NetFlow source '" + text + "': expected host=addr:port");
            }
            addr = hp.substring(0, colon);
            portText = hp.substring(colon + 1);
        }
        int port;
        try {
            port = Integer.parseInt(portText);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad NetFlow source '" + text + "': port '" + portText + "' is not a number");
        }
        return new SourceSpec(host, addr, port);
    }

    /** Parses a comma-separated list; host tags must be unique. */
    public static List<SourceSpec> parseList(String text) {
        List<SourceSpec> out = new ArrayList<>();
        if (text == null || text.isBlank()) {
            return out;
        }
        Set<String> seen = new LinkedHashSet<>();
        for (String part : text.split(",")) {
            if (part.isBlank()) {
                continue;
            }
            SourceSpec s = parse(part);
            if (!seen.add(s.host())) {
                throw new IllegalArgumentException("NetFlow source host tag '" + s.host() + "' given twice");
            }
            out.add(s);
        }
        return out;
    }

    @Override
    public String toString() {
        return host + "=" + (address.contains(":") ? "[" + address + "]" : address) + ":" + port;
    }
}
