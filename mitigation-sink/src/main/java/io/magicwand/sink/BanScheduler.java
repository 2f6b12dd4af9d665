package io.magicwand.sink;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Bans that end by themselves: after a BLOCK with {@code ttl_ms > 0} is applied, the sink sends the
 * UNBLOCK when the ban runs out ({@code created_at_ms + ttl_ms}). One pending unblock per (host,
 * address): a newer BLOCK of the same address moves the end to the later time, a permanent BLOCK
 * (ttl 0) or an explicit UNBLOCK decision cancels it.
 *
 * <p>With a state directory the pending unblocks survive a restart: they are kept in
 * {@code pending-unblocks.tsv} (one "host TAB address TAB due_ms TAB decision_id" line each),
 * rewritten atomically on every change. Without one they live in memory only (documented
 * limitation: a sink restart then leaves those bans in place until a new decision lifts them).
 */
public final class BanScheduler {
    private static final Logger log = LoggerFactory.getLogger(BanScheduler.class);

    /** A pending unblock. */
    public record Ban(String host, String address, long dueMs, String decisionId) {}

    private final Map<String, Ban> bans = new LinkedHashMap<>();
    private final Path file;

    public BanScheduler(Path stateDir) {
        this.file = stateDir == null ? null : stateDir.resolve("pending-unblocks.tsv");
        if (file != null) {
            load();
        }
    }

    private static String key(String host, String address) {
        return host + "\t" + address;
    }

    /** Schedules (or extends) the unblock of {@code address} on {@code host} at {@code dueMs}. */
    public synchronized void schedule(String host, String address, long dueMs, String decisionId) {
        Ban old = bans.get(key(host, address));
        if (old != null && old.dueMs() >= dueMs) {
            return;
        }
        bans.put(key(host, address), new Ban(host, address, dueMs, decisionId));
        save();
    }

    /** Forgets the pending unblock of {@code address} on {@code host}, if any. */
    public synchronized void cancel(String host, String address) {
        if (bans.remove(key(host, address)) != null) {
            save();
        }
    }

    /** The bans due at {@code nowMs}, earliest first (they stay scheduled until {@link #done}). */
    public synchronized List<Ban> due(long nowMs) {
        List<Ban> out = new ArrayList<>();
        for (Ban b : bans.values()) {
            if (b.dueMs() <= nowMs) {
                out.add(b);
            }
        }
        out.sort((a, b) -> Long.compare(a.dueMs(), b.dueMs()));
        return out;
    }

    /** Marks {@code b} handled, unless it was re-scheduled meanwhile. */
    public synchronized void done(Ban b) {
        Ban cur = bans.get(key(b.host(), b.address()));
        if (b.equals(cur)) {
            bans.remove(key(b.host(), b.address()));
            save();
        }
    }

    public synchronized int size() {
        return bans.size();
    }

    private void load() {
        if (!Files.exists(file)) {
            return;
        }
        try {
            int n = 0;
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                String[] f = line.split("\t", -1);
                if (f.length != 4) {
                    log.warn("ignoring malformed line in {}: '{}'", file, line);
                    continue;
                }
                try {
                    bans.put(key(f[0], f[1]), new Ban(f[0], f[1], Long.parseLong(f[2]), f[3]));
                    n++;
                } catch (NumberFormatException e) {
                    log.warn("ignoring line with a bad due time in {}: '{}'", file, line);
                }
            }
            log.info("loaded {} pending unblocks from {}", n, file);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read pending unblocks from " + file + ": " + e.getMessage(), e);
        }
    }

    private void save() {
        if (file == null) {
            return;
        }
        StringBuilder sb = new StringBuilder();
        for (Ban b : bans.values()) {
            sb.append(b.host()).append('\t').append(b.address()).append('\t').append(b.dueMs()).append('\t')
                    .append(b.decisionId()).append('\n');
        }
        try {
            Files.createDirectories(file.getParent());
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            Files.writeString(tmp, sb, StandardCharsets.UTF_8);
            try {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            // Not fatal: the ban still ends in this run; only a restart would forget it.
            log.error("cannot write pending unblocks to {} ({}); they are kept in memory only", file, e.getMessage());
        }
    }
}
