// From a captured frame to the IP packet inside it, for every link type Tandem reads.
//
// Each frame is untrusted input: every read is checked against the frame's length, and a frame too short for
// its link-layer header is "not IP", never a trap.

/// How the records of a capture carry their IP packets: one case per link type Tandem reads.
enum LinkFraming: Sendable {
    /// Ethernet (DLT_EN10MB, 1): 14-byte header, EtherType at offset 12, 802.1Q / 802.1ad tags skipped.
    case ethernet
    /// Raw IP (DLT_RAW: 12 on Linux, 14 on OpenBSD; LINKTYPE_RAW, 101): the version nibble says which.
    case rawIP
    /// IPv4 only (LINKTYPE_IPV4, 228).
    case ipv4
    /// IPv6 only (LINKTYPE_IPV6, 229).
    case ipv6
    /// Linux cooked capture (DLT_LINUX_SLL, 113): 16-byte header, protocol (an EtherType) at offset 14.
    case linuxCooked
    /// Linux cooked capture v2 (DLT_LINUX_SLL2, 276): 20-byte header, protocol (an EtherType) at offset 0.
    case linuxCooked2
    /// BSD loopback (DLT_NULL, 0): a 4-byte address family in the capturing host's byte order.
    case bsdNull
    /// OpenBSD loopback (DLT_LOOP, 108): a 4-byte address family in network byte order.
    case bsdLoop

    /// The framing of a link type as libpcap reports it (`pcap_datalink`), or `nil` if Tandem does not read it.
    ///
    /// The numbers are written out rather than taken from `<pcap/dlt.h>`, where `DLT_RAW` and `DLT_LOOP` change
    /// with the platform: these are the values libpcap reports on Linux.
    init?(linkType: Int32) {
        switch linkType {
        case 1: self = .ethernet
        case 12, 14, 101: self = .rawIP
        case 228: self = .ipv4
        case 229: self = .ipv6
        case 113: self = .linuxCooked
        case 276: self = .linuxCooked2
        case 0: self = .bsdNull
        case 108: self = .bsdLoop
        default: return nil
        }
    }

    /// The IP packet in a frame: everything after the link-layer header, or `nil` if the frame does not carry
    /// IP (another EtherType or address family, a raw packet whose version is neither 4 nor 6, or a frame that
    /// ends inside its link-layer header or right after it).
    ///
    /// Link-layer padding (Ethernet pads frames to 60 bytes) stays at the end of the packet: the header views
    /// of TandemPacket cut a packet at its length field.
    ///
    /// - Parameter frame: The captured bytes of one record.
    /// - Returns: The IP packet, a view into `frame`.
    func ipPacket(in frame: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        switch self {
        case .ethernet:
            guard frame.count >= 14 else { return nil }
            return Self.payload(of: frame, etherType: frame.bigEndianUInt16(at: 12), at: 14)
        case .linuxCooked:
            guard frame.count >= 16 else { return nil }
            return Self.payload(of: frame, etherType: frame.bigEndianUInt16(at: 14), at: 16)
        case .linuxCooked2:
            guard frame.count >= 20 else { return nil }
            return Self.payload(of: frame, etherType: frame.bigEndianUInt16(at: 0), at: 20)
        case .rawIP:
            guard let first = frame.first, first >> 4 == 4 || first >> 4 == 6 else { return nil }
            return frame
        case .ipv4, .ipv6:
            return frame.isEmpty ? nil : frame
        case .bsdNull:
            guard frame.count >= 4 else { return nil }
            // The family is small, so of the two byte orders the one that reads below 2^16 is the writer's.
            var family = UInt32(littleEndian: frame.loadUnaligned(as: UInt32.self))
            if family > 0xFFFF { family = family.byteSwapped }
            return Self.payload(of: frame, addressFamily: family)
        case .bsdLoop:
            guard frame.count >= 4 else { return nil }
            return Self.payload(of: frame, addressFamily: UInt32(bigEndian: frame.loadUnaligned(as: UInt32.self)))
        }
    }

    /// The IP packet after an EtherType, skipping any stack of 802.1Q (0x8100) and 802.1ad (0x88A8) tags.
    ///
    /// - Parameters:
    ///   - frame: The frame.
    ///   - etherType: The EtherType of the link-layer header.
    ///   - offset: Where the EtherType's payload starts (a tag's TCI, for a VLAN EtherType).
    /// - Returns: The packet for EtherType 0x0800 or 0x86DD, else `nil`.
    private static func payload(
        of frame: UnsafeRawBufferPointer, etherType: UInt16, at offset: Int
    ) -> UnsafeRawBufferPointer? {
        var etherType = etherType
        var offset = offset
        // A tag is the TCI (2 bytes) and the next EtherType (2 bytes); each pass moves 4 bytes on, so it ends.
        while etherType == 0x8100 || etherType == 0x88A8 {
            guard frame.count - offset >= 4 else { return nil }
            etherType = frame.bigEndianUInt16(at: offset + 2)
            offset += 4
        }
        guard etherType == 0x0800 || etherType == 0x86DD, offset < frame.count else { return nil }
        return UnsafeRawBufferPointer(rebasing: frame[offset...])
    }

    /// The IP packet after a 4-byte BSD address family.
    ///
    /// - Parameters:
    ///   - frame: The frame, at least 4 bytes.
    ///   - addressFamily: The family: `AF_INET` is 2 everywhere; `AF_INET6` is 10 (Linux), 24 (NetBSD,
    ///     OpenBSD), 28 (FreeBSD) or 30 (macOS).
    /// - Returns: The packet for an IP family, else `nil`.
    private static func payload(of frame: UnsafeRawBufferPointer, addressFamily: UInt32) -> UnsafeRawBufferPointer? {
        switch addressFamily {
        case 2, 10, 24, 28, 30:
            return frame.count > 4 ? UnsafeRawBufferPointer(rebasing: frame[4...]) : nil
        default:
            return nil
        }
    }
}
