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
