package io.magicwand.ingest.pcap;

/**
 * The TCP facts of one captured packet that the importer needs. Addresses are 4 (IPv4) or 16
 * (IPv6) bytes; {@code payloadLen} comes from the IP length fields, so it is right even when the
 * capture's snaplen cut the payload bytes off.
 */
public record TcpSegment(long tsNs, int af, byte[] src, int srcPort, byte[] dst, int dstPort, long seq, long ack,
                         int flags, int payloadLen, long fileOffset) {

    public static final int FIN = 0x01;
    public static final int SYN = 0x02;
    public static final int RST = 0x04;
    public static final int ACK = 0x10;

    public boolean has(int flag) {
        return (flags & flag) != 0;
    }
}
