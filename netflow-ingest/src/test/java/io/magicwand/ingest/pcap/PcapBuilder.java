package io.magicwand.ingest.pcap;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Builds pcap files in memory for the tests: any byte order, µs or ns, Ethernet/SLL/SLL2, v4/v6. */
final class PcapBuilder {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteOrder order;
    private final boolean nanos;
    private final int linkType;

    PcapBuilder(ByteOrder order, boolean nanos, int linkType) {
        this.order = order;
        this.nanos = nanos;
        this.linkType = linkType;
        ByteBuffer h = ByteBuffer.allocate(24).order(order);
        h.putInt(nanos ? 0xa1b23c4d : 0xa1b2c3d4).putShort((short) 2).putShort((short) 4).putInt(0).putInt(0)
                .putInt(262144).putInt(linkType);
        out.writeBytes(h.array());
    }

    /** A TCP segment with {@code payload} zero bytes of payload; {@code snap} limits the captured payload bytes (-1 none). */
    PcapBuilder tcp(long tsNs, byte[] src, int sport, byte[] dst, int dport, long seq, long ack, int flags,
                    int payload, int snap) {
        ByteArrayOutputStream pkt = new ByteArrayOutputStream();
        boolean v6 = src.length == 16;
        int etherType = v6 ? 0x86dd : 0x0800;
        switch (linkType) {
            case 1 -> {
                pkt.writeBytes(new byte[12]);
                pkt.write(etherType >>> 8);
                pkt.write(etherType & 0xff);
            }
            case 113 -> {
                pkt.writeBytes(new byte[14]);
                pkt.write(etherType >>> 8);
                pkt.write(etherType & 0xff);
            }
            case 276 -> {
                pkt.write(etherType >>> 8);
                pkt.write(etherType & 0xff);
                pkt.writeBytes(new byte[18]);
            }
            default -> throw new IllegalArgumentException();
        }
        ByteBuffer tcp = ByteBuffer.allocate(20 + payload);
        tcp.putShort((short) sport).putShort((short) dport).putInt((int) seq).putInt((int) ack)
                .put((byte) (5 << 4)).put((byte) flags).putShort((short) 65535).putInt(0);
        if (v6) {
            ByteBuffer ip = ByteBuffer.allocate(40);
            ip.putInt(0x6000_0000).putShort((short) (20 + payload)).put((byte) 6).put((byte) 64).put(src).put(dst);
            pkt.writeBytes(ip.array());
        } else {
            ByteBuffer ip = ByteBuffer.allocate(20);
            ip.put((byte) 0x45).put((byte) 0).putShort((short) (40 + payload)).putInt(0).put((byte) 64).put((byte) 6)
                    .putShort((short) 0).put(src).put(dst);
            pkt.writeBytes(ip.array());
        }
        pkt.writeBytes(tcp.array());
        byte[] data = pkt.toByteArray();
        int incl = snap >= 0 ? data.length - payload + Math.min(snap, payload) : data.length;
        return record(tsNs, data, incl, data.length);
    }

    PcapBuilder record(long tsNs, byte[] data, int incl, int orig) {
        ByteBuffer r = ByteBuffer.allocate(16).order(order);
        long sec = tsNs / 1_000_000_000L;
        long frac = nanos ? tsNs % 1_000_000_000L : (tsNs % 1_000_000_000L) / 1000;
        r.putInt((int) sec).putInt((int) frac).putInt(incl).putInt(orig);
        out.writeBytes(r.array());
        out.write(data, 0, incl);
        return this;
    }

    PcapBuilder raw(byte[] b) {
        out.writeBytes(b);
        return this;
    }

    byte[] bytes() {
        return out.toByteArray();
    }
}
