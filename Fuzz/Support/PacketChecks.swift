// The checks that every packet Tandem writes must pass, whatever it was made from: header views accept it, the
// checksums add up. Written from the RFCs, apart from the code under test, so that both would have to be wrong.

import TandemPacket

/// Checks of packets written by the code under test.
public enum PacketChecks {
    /// The RFC 1071 sum of `bytes` (16-bit big-endian words, an odd last byte padded with zero), folded.
    public static func onesComplementSum(_ bytes: UnsafeRawBufferPointer, start: UInt32 = 0) -> UInt16 {
        var sum = start
        var index = 0
        while index + 1 < bytes.count {
            sum += UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
            sum = (sum & 0xFFFF) + (sum >> 16)
            index += 2
        }
        if index < bytes.count {
            sum += UInt32(bytes[index]) << 8
            sum = (sum & 0xFFFF) + (sum >> 16)
        }
        return UInt16(sum)
    }

    /// Whether the IPv4 header at the start of `packet` has a right checksum.
    public static func ipv4HeaderChecksumIsValid(_ packet: IPv4Header) -> Bool {
        onesComplementSum(packet.header) == 0xFFFF
    }

    /// Whether the ICMP message of an IPv4 packet has a right checksum (over the message alone).
    public static func icmpChecksumIsValid(_ packet: IPv4Header) -> Bool {
        onesComplementSum(packet.payload) == 0xFFFF
    }

    /// Whether the ICMPv6 message after the fixed header has a right checksum over the pseudo-header
    /// (RFC 8200 8.1: both addresses, the upper-layer length, next header 58).
    public static func icmpv6ChecksumIsValid(_ packet: IPv6Header) -> Bool {
        let addresses = onesComplementSum(UnsafeRawBufferPointer(rebasing: packet.packet[8..<40]))
        let length = UInt32(packet.payload.count)
        var start = UInt32(addresses) + (length >> 16) + (length & 0xFFFF) + 58
        start = (start & 0xFFFF) + (start >> 16)
        return onesComplementSum(packet.payload, start: start) == 0xFFFF
    }
}
