package io.magicwand.ingest.pcap;

import io.magicwand.ingest.capture.CaptureFormatException;
import java.util.Arrays;

/**
 * Link layer (Ethernet with VLAN tags, Linux cooked SLL/SLL2) -> IPv4/IPv6 -> TCP. Packets that
 * are not TCP over IP (ARP, UDP, ICMP, IP fragments after the first) yield null; a packet whose
 * headers contradict themselves yields a {@link CaptureFormatException} with the file offset,
 * unless the capture's snaplen cut it short (then it is skipped and counted).
 */
public final class PacketDecoder {

    private final String file;
    private final int linkType;
    private long skippedTruncated;
    private long skippedNonTcp;

    public PacketDecoder(String file, int linkType) {
        this.file = file;
        this.linkType = linkType;
    }

    public long skippedTruncated() {
        return skippedTruncated;
    }

    public long skippedNonTcp() {
        return skippedNonTcp;
    }

    public TcpSegment decode(PcapReader.Packet p) throws CaptureFormatException {
        byte[] d = p.data();
        boolean cut = d.length < p.origLen();
        int off;
        int etherType;
        switch (linkType) {
            case PcapReader.LINKTYPE_ETHERNET -> {
                if (d.length < 14) {
                    return shortPacket(p, cut, "Ethernet header");
                }
                off = 12;
                etherType = u16(d, off);
                off += 2;
                while (etherType == 0x8100 || etherType == 0x88a8) {
                    if (d.length < off + 4) {
                        return shortPacket(p, cut, "VLAN tag");
                    }
                    etherType = u16(d, off + 2);
                    off += 4;
                }
            }
            case PcapReader.LINKTYPE_LINUX_SLL -> {
                if (d.length < 16) {
                    return shortPacket(p, cut, "Linux cooked (SLL) header");
                }
                etherType = u16(d, 14);
                off = 16;
            }
            case PcapReader.LINKTYPE_LINUX_SLL2 -> {
                if (d.length < 20) {
                    return shortPacket(p, cut, "Linux cooked (SLL2) header");
                }
                etherType = u16(d, 0);
                off = 20;
            }
            default -> throw new IllegalStateException("link type " + linkType);
        }
        if (etherType == 0x0800) {
            return ipv4(p, d, off, cut);
        }
        if (etherType == 0x86dd) {
            return ipv6(p, d, off, cut);
        }
        skippedNonTcp++;
        return null;
    }

    private TcpSegment ipv4(PcapReader.Packet p, byte[] d, int off, boolean cut) throws CaptureFormatException {
        if (d.length < off + 20) {
            return shortPacket(p, cut, "IPv4 header");
        }
        int vihl = d[off] & 0xff;
        if ((vihl >>> 4) != 4) {
            throw bad(p, off, "IPv4 packet with IP version " + (vihl >>> 4));
        }
        int ihl = (vihl & 0x0f) * 4;
        int total = u16(d, off + 2);
        if (ihl < 20 || total < ihl) {
            throw bad(p, off, "bad IPv4 header (header length " + ihl + ", total length " + total + ")");
        }
        int fragOff = u16(d, off + 6) & 0x1fff;
        int proto = d[off + 9] & 0xff;
        if (proto != 6 || fragOff != 0) {
            skippedNonTcp++;
            return null;
        }
        byte[] src = Arrays.copyOfRange(d, off + 12, off + 16);
        byte[] dst = Arrays.copyOfRange(d, off + 16, off + 20);
        return tcp(p, d, off + ihl, total - ihl, 4, src, dst, cut);
    }

    private TcpSegment ipv6(PcapReader.Packet p, byte[] d, int off, boolean cut) throws CaptureFormatException {
        if (d.length < off + 40) {
            return shortPacket(p, cut, "IPv6 header");
        }
        if (((d[off] & 0xff) >>> 4) != 6) {
            throw bad(p, off, "IPv6 packet with IP version " + ((d[off] & 0xff) >>> 4));
        }
        int payload = u16(d, off + 4);
        int next = d[off + 6] & 0xff;
        byte[] src = Arrays.copyOfRange(d, off + 8, off + 24);
        byte[] dst = Arrays.copyOfRange(d, off + 24, off + 40);
        int pos = off + 40;
        // Skip hop-by-hop (0), routing (43) and destination options (60) extension headers.
        while (next == 0 || next == 43 || next == 60) {
            if (d.length < pos + 2) {
                return shortPacket(p, cut, "IPv6 extension header");
            }
            int len = ((d[pos + 1] & 0xff) + 1) * 8;
            next = d[pos] & 0xff;
            pos += len;
            payload -= len;
            if (payload < 0) {
                throw bad(p, pos, "IPv6 extension headers longer than the payload");
            }
        }
        if (next != 6) {
            skippedNonTcp++; // UDP, ICMPv6, fragments (44), ...
            return null;
        }
        return tcp(p, d, pos, payload, 6, src, dst, cut);
    }

    private TcpSegment tcp(PcapReader.Packet p, byte[] d, int off, int segLen, int af, byte[] src, byte[] dst,
                           boolean cut) throws CaptureFormatException {
        if (d.length < off + 20) {
            return shortPacket(p, cut, "TCP header");
        }
        if (segLen < 20) {
            throw bad(p, off, "TCP segment length " + segLen + " shorter than a TCP header");
        }
        int doff = ((d[off + 12] & 0xff) >>> 4) * 4;
        if (doff < 20 || doff > segLen) {
            throw bad(p, off, "bad TCP data offset " + doff + " (segment length " + segLen + ")");
        }
        long seq = u32(d, off + 4);
        long ack = u32(d, off + 8);
        int flags = d[off + 13] & 0x3f;
        return new TcpSegment(p.tsNs(), af, src, u16(d, off), dst, u16(d, off + 2), seq, ack, flags, segLen - doff,
                p.offset());
    }

    private TcpSegment shortPacket(PcapReader.Packet p, boolean cut, String what) throws CaptureFormatException {
        if (cut) {
            skippedTruncated++;
            return null;
        }
        throw new CaptureFormatException(file, p.offset(), "packet too short for its " + what + " ("
                + p.data().length + " bytes)");
    }

    private CaptureFormatException bad(PcapReader.Packet p, int pktOff, String what) {
        return new CaptureFormatException(file, p.offset() + 16 + pktOff, what);
    }

    static int u16(byte[] b, int off) {
        return ((b[off] & 0xff) << 8) | (b[off + 1] & 0xff);
    }

    static long u32(byte[] b, int off) {
        return ((b[off] & 0xffL) << 24) | ((b[off + 1] & 0xff) << 16) | ((b[off + 2] & 0xff) << 8) | (b[off + 3] & 0xff);
    }
}
