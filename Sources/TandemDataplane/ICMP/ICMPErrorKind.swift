// The ICMP errors a forwarding router sends, and why one may not be sent.

/// An ICMP error a router sends about a packet it could not forward. Each kind has an ICMP (IPv4) and an
/// ICMPv6 form; ``ICMPErrorBuilder`` picks the one of the offending packet's family.
public enum ICMPErrorKind: Hashable, Sendable, CustomStringConvertible {
    /// The TTL or hop limit ran out: ICMP type 11 code 0 (TTL exceeded in transit), ICMPv6 type 3 code 0
    /// (hop limit exceeded in transit).
    case timeExceeded
    /// No route to the destination: ICMP type 3 code 0 (net unreachable), ICMPv6 type 1 code 0 (no route to
    /// destination).
    case destinationUnreachable
    /// The packet is larger than the next hop's MTU and may not be fragmented: ICMP type 3 code 4
    /// (fragmentation needed, RFC 1191: the MTU in bytes 6-7, so at most 65535), ICMPv6 type 2 code 0 (packet
    /// too big, RFC 4443: the MTU in bytes 4-7).
    case packetTooBig(mtu: UInt32)

    /// The ICMP type and code of the IPv4 form.
    public var ipv4TypeAndCode: (type: UInt8, code: UInt8) {
        switch self {
        case .timeExceeded: (ICMPv4Types.timeExceeded, 0)
        case .destinationUnreachable: (ICMPv4Types.destinationUnreachable, 0)
        case .packetTooBig: (ICMPv4Types.destinationUnreachable, 4)
        }
    }

    /// The ICMPv6 type and code of the IPv6 form.
    public var ipv6TypeAndCode: (type: UInt8, code: UInt8) {
        switch self {
        case .timeExceeded: (3, 0)
        case .destinationUnreachable: (1, 0)
        case .packetTooBig: (2, 0)
        }
    }

    /// Whether this error carries path MTU information (fragmentation needed, packet too big).
    ///
    /// Linux never rate limits these: `icmpv4_mask_allow` returns early for `ICMP_FRAG_NEEDED` ("Don't limit
    /// PMTU discovery") and the default `icmpv6 ratemask` (0-1,3-127) leaves out type 2, because dropping them
    /// turns a smaller MTU on the path into a black hole. ``ICMPRateLimiter``'s `allow(_:destination:now:)` follows
    /// this unless ``ICMPRateLimit/limitsPathMTUErrors`` is set.
    public var isPathMTUError: Bool {
        if case .packetTooBig = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .timeExceeded: "time exceeded"
        case .destinationUnreachable: "destination unreachable"
        case .packetTooBig(let mtu): "packet too big (mtu \(mtu))"
        }
    }
}

/// ICMP (IPv4) type numbers that TandemPacket's ``ICMPHeader`` does not name.
enum ICMPv4Types {
    static let destinationUnreachable: UInt8 = 3
    static let timeExceeded: UInt8 = 11

    /// Whether `type` is an ICMP error message, as Linux's `icmp_pointers[type].error` says: destination
    /// unreachable (3), source quench (4), redirect (5), time exceeded (11), parameter problem (12). Every
    /// other type, known or not, is not an error (Linux answers unknown types above 18 too).
    @inline(__always)
    static func isError(_ type: UInt8) -> Bool {
        switch type {
        case 3, 4, 5, 11, 12: true
        default: false
        }
    }
}

/// Why no ICMP error may be sent about a packet (RFC 1812 4.3.2.7, RFC 4443 2.4(e)). One case per rule, so that
/// the dataplane can count them.
public enum ICMPErrorRefusal: UInt8, Error, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// The packet is itself an ICMP error message (ICMP types 3, 4, 5, 11, 12; ICMPv6 types 0...127), or an
    /// ICMP message too short to read its type.
    case aboutICMPError
    /// The packet is a fragment other than the first (IPv4 fragment offset, or IPv6 fragment header offset,
    /// not 0).
    case notFirstFragment
    /// The packet went to a multicast address (IPv4 224.0.0.0/4, IPv6 ff00::/8; IPv6 packet too big is
    /// still sent, as RFC 4443 2.4(e.2) allows).
    case multicastDestination
    /// The packet went to the IPv4 limited broadcast address 255.255.255.255.
    case broadcastDestination
    /// The packet's source does not name a single host: IPv4 0.0.0.0/8, 127.0.0.0/8, 224.0.0.0/4 or
    /// 255.255.255.255; IPv6 ::, ::1 or ff00::/8.
    case sourceNotUnicast
    /// The IPv6 extension header chain could not be walked to find out whether the packet is an ICMPv6 error
    /// (such packets are dropped as malformed anyway).
    case malformed

    public var description: String {
        switch self {
        case .aboutICMPError: "about an icmp error"
        case .notFirstFragment: "about a fragment other than the first"
        case .multicastDestination: "about a packet to a multicast address"
        case .broadcastDestination: "about a packet to the broadcast address"
        case .sourceNotUnicast: "to a source that is not a single host"
        case .malformed: "about a packet whose extension headers cannot be walked"
        }
    }
}
