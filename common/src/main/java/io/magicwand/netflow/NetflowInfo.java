package io.magicwand.netflow;

import java.util.Objects;

/**
 * Info record ({@code 0xd310}, 116 bytes): one socket observation.
 *
 * <p>Wire layout after the base header: {@code obs u16, ts_session_start{sec u64, ns u64},
 * ts_curr{sec u64, ns u64}, sockfd i64, local endpoint, remote endpoint, bytes_in u64, bytes_out u64,
 * extra u64}. The u64 fields are raw 64-bit values (see {@link NetflowMessage}). {@code id} carries
 * the per-client sequence number; {@code extra} is the new socket id on accept. Byte counts are
 * cumulative per socket.
 *
 * @param id               u32 per-client sequence number
 * @param obs              observation kind, one of the {@code OBS_*} constants (any u16 is kept)
 * @param sessionStartSec  session start, seconds (u64)
 * @param sessionStartNsec session start, nanoseconds (u64)
 * @param currSec          time of the observation, seconds (u64)
 * @param currNsec         time of the observation, nanoseconds (u64)
 * @param sockfd           the socket id (i64)
 * @param local            local endpoint
 * @param remote           remote endpoint
 * @param bytesIn          cumulative bytes received (u64)
 * @param bytesOut         cumulative bytes sent (u64)
 * @param extra            new socket id on accept, else 0 (u64)
 */
public record NetflowInfo(long id, int obs, long sessionStartSec, long sessionStartNsec, long currSec,
                          long currNsec, long sockfd, Endpoint local, Endpoint remote, long bytesIn,
                          long bytesOut, long extra) implements NetflowMessage {

    public static final int OBS_NONE = 0;
    public static final int OBS_CREATE = 1;
    public static final int OBS_BIND = 2;
    public static final int OBS_ACCEPT = 3;
    public static final int OBS_CONNECT = 4;
    public static final int OBS_RECV = 5;
    public static final int OBS_SEND = 6;
    public static final int OBS_CLOSE = 7;

    private static final String[] OBS_NAMES = {"none", "create", "bind", "accept", "connect", "recv", "send", "close"};

    public NetflowInfo {
        Unsigned.checkU32("id", id);
        Unsigned.checkU16("obs", obs);
        Objects.requireNonNull(local, "local");
        Objects.requireNonNull(remote, "remote");
    }

    @Override
    public int signature() {
        return NetflowCodec.SIG_INFO;
    }

    /** Lower-case name of {@link #obs()} ("accept"), or "obs-N" for values outside 0..7. */
    public String obsName() {
        return obsName(obs);
    }

    /** Lower-case name of an observation kind ("accept"), or "obs-N" for values outside 0..7. */
    public static String obsName(int obs) {
        return obs >= 0 && obs < OBS_NAMES.length ? OBS_NAMES[obs] : "obs-" + obs;
    }

    /** A copy with another id (for example the sequence number a server assigns per client). */
    public NetflowInfo withId(long newId) {
        return new NetflowInfo(newId, obs, sessionStartSec, sessionStartNsec, currSec, currNsec, sockfd, local,
                remote, bytesIn, bytesOut, extra);
    }
}
