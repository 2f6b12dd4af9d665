package io.magicwand.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.magicwand.avro.SocketEvent;
import io.magicwand.avro.SocketOp;
import io.magicwand.netflow.Endpoint;
import io.magicwand.netflow.NetflowCodec;
import io.magicwand.netflow.NetflowInfo;
import org.junit.jupiter.api.Test;

class EventMapperTest {

    @Test
    void insIdComesFromTheUpperBitsOfAnInsAcceptedSocketId() {
        long conn = (3L << 40) | 17;   // connection 17 accepted by INS 3
        NetflowInfo recv = TestRecords.info(1, NetflowInfo.OBS_RECV, 42, 10, 0);
        assertEquals(3, EventMapper.insIdOf(with(recv, conn, 0)));
        assertEquals(3, EventMapper.toEvent("h", with(recv, conn, 0), 0L).getInsId());
        // an accept record names the listener (an mwcomms id below 2^40) and the new id in extra
        NetflowInfo accept = TestRecords.info(2, NetflowInfo.OBS_ACCEPT, 5, 0, 0);
        assertEquals(3, EventMapper.insIdOf(with(accept, 5, conn)));
        // ids that do not carry an INS: small ids (original mwcomms, mwcomms-allocated) and negative ones
        assertEquals(EventMapper.INS_UNKNOWN, EventMapper.insIdOf(recv));
        assertEquals(EventMapper.INS_UNKNOWN, EventMapper.insIdOf(with(recv, -1L, 0)));
        assertEquals(EventMapper.INS_UNKNOWN, EventMapper.insIdOf(accept));
    }

    private static NetflowInfo with(NetflowInfo i, long sockfd, long extra) {
        return new NetflowInfo(i.id(), i.obs(), i.sessionStartSec(), i.sessionStartNsec(), i.currSec(),
                i.currNsec(), sockfd, i.local(), i.remote(), i.bytesIn(), i.bytesOut(), extra);
    }

    @Test
    void mapsTheRecvVectorFieldByField() throws Exception {
        NetflowInfo info = (NetflowInfo) NetflowCodec.decode(TestRecords.vector("info-recv-ipv4"));
        SocketEvent ev = EventMapper.toEvent("web1", info, 1234L);
        assertEquals("web1", ev.getHost());
        assertEquals(-1, ev.getInsId());
        assertEquals(1005L, ev.getSeq());
        assertEquals(SocketOp.RECV, ev.getObs());
        assertEquals(1764320000L, ev.getSessionStartSec());
        assertEquals(123456789L, ev.getSessionStartNsec());
        assertEquals(1764320005L, ev.getTsSec());
        assertEquals(987654321L, ev.getTsNsec());
        assertEquals(4294967308L, ev.getSocketId());
        assertEquals(4, ev.getLocalAf());
        assertEquals("10.1.2.3", ev.getLocalAddr());
        assertEquals(80, ev.getLocalPort());
        assertEquals(4, ev.getRemoteAf());
        assertEquals("198.51.100.7", ev.getRemoteAddr());
        assertEquals(51234, ev.getRemotePort());
        assertEquals(5000L, ev.getBytesIn());
        assertEquals(10000L, ev.getBytesOut());
        assertEquals(0L, ev.getExtra());
        assertEquals(1234L, ev.getIngestTsMs());
        assertEquals("web1/4294967308", EventMapper.key("web1", info.sockfd()));
        assertEquals(1764320005987L, EventMapper.observedAtMs(info));
    }

    @Test
    void acceptCarriesTheNewSocketId() throws Exception {
        NetflowInfo info = (NetflowInfo) NetflowCodec.decode(TestRecords.vector("info-accept-ipv4"));
        SocketEvent ev = EventMapper.toEvent("h", info, 0);
        assertEquals(SocketOp.ACCEPT, ev.getObs());
        assertEquals(4294967362L, ev.getExtra());
    }

    @Test
    void ipv6ExtremesAndUnsignedWrap() throws Exception {
        NetflowInfo info = (NetflowInfo) NetflowCodec.decode(TestRecords.vector("info-recv-ipv6-extremes"));
        SocketEvent ev = EventMapper.toEvent("h", info, 0);
        assertEquals(6, ev.getLocalAf());
        assertEquals(info.local().addressText(), ev.getLocalAddr());
        assertEquals(info.bytesIn(), ev.getBytesIn()); // raw u64 bits kept
        assertEquals(info.id(), ev.getSeq());
    }

    @Test
    void unsetAddressesAreEmptyAndUnknownObsIsNone() {
        NetflowInfo info = new NetflowInfo(7, 99, 0, 0, 0, 0, 3, Endpoint.NONE, Endpoint.NONE, 0, 0, 0);
        SocketEvent ev = EventMapper.toEvent("h", info, 0);
        assertEquals("", ev.getLocalAddr());
        assertEquals("", ev.getRemoteAddr());
        assertEquals(0, ev.getLocalAf());
        assertEquals(SocketOp.NONE, ev.getObs());
        for (int obs = 0; obs <= 7; obs++) {
            assertEquals(SocketOp.values()[obs], EventMapper.op(obs));
        }
    }
}
