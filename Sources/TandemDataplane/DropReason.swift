// Why the pipeline did not forward a packet. Every dropped packet is counted under exactly one reason.

import TandemPacket

/// The reason a packet was dropped (or, for ICMP-generating drops, answered instead of forwarded).
public enum DropReason: Hashable, Sendable, CustomStringConvertible {
    /// The packet failed validation; the header view said why.
    case malformed(MalformedReason)
    /// The IPv4 header checksum is wrong (RFC 1812 5.2.2: a router discards such packets).
    case badChecksum
    /// TTL or hop limit would reach 0 (ICMP Time Exceeded sent, subject to the rate limit).
    case ttlExceeded
    /// No policy or destination route matches (ICMP Destination Unreachable, net unreachable / no route).
    case noRoute
    /// Larger than the egress MTU with DF set, or IPv6 (ICMP Fragmentation Needed / Packet Too Big).
    case tooBig
    /// A route matched but every connection it could use is down.
    case connectionDown

    public var description: String {
        switch self {
        case .malformed(let reason): "malformed (\(reason))"
        case .badChecksum: "bad IPv4 header checksum"
        case .ttlExceeded: "ttl exceeded"
        case .noRoute: "no route"
        case .tooBig: "too big for the egress mtu"
        case .connectionDown: "connection down"
        }
    }
}

extension DropReason {
    /// Every reason other than the malformed ones, in counter order.
    public static let others: [DropReason] = [.badChecksum, .ttlExceeded, .noRoute, .tooBig, .connectionDown]

    /// A short name without spaces, for JSON and the drops side file.
    public var key: String {
        switch self {
        case .malformed(let reason): "malformed-\(reason.key)"
        case .badChecksum: "bad-checksum"
        case .ttlExceeded: "ttl-exceeded"
        case .noRoute: "no-route"
        case .tooBig: "too-big"
        case .connectionDown: "connection-down"
        }
    }
}

extension MalformedReason {
    /// A short name without spaces, for keys.
    public var key: String {
        switch self {
        case .truncated: "truncated"
        case .badVersion: "bad-version"
        case .badIHL: "bad-ihl"
        case .ihlBeyondBuffer: "ihl-beyond-packet"
        case .totalLengthBelowHeader: "total-length-below-header"
        case .totalLengthBeyondBuffer: "total-length-beyond-packet"
        case .payloadLengthBeyondBuffer: "payload-length-beyond-packet"
        case .jumbogramUnsupported: "jumbogram"
        case .hopByHopNotFirst: "hop-by-hop-not-first"
        case .extensionHeaderTruncated: "extension-header-truncated"
        case .tooManyExtensionHeaders: "too-many-extension-headers"
        case .transportTruncated: "transport-truncated"
        case .badTCPDataOffset: "bad-tcp-data-offset"
        }
    }
}
