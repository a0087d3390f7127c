// Why the pipeline did not forward a packet. Every dropped packet is counted under exactly one reason.

import TandemPacket

/// The reason a packet was dropped (or, for ICMP-generating drops, answered instead of forwarded).
public enum DropReason: Hashable, Sendable, CustomStringConvertible {
    /// The packet failed validation; the header view said why.
    case malformed(MalformedReason)
    /// TTL or hop limit would reach 0 (ICMP Time Exceeded sent, subject to the rate limit).
    case ttlExceeded
    /// No policy or destination route matches (ICMP Destination Unreachable, net unreachable / no route).
    case noRoute
    /// Larger than the egress MTU with DF set, or IPv6 (ICMP Fragmentation Needed / Packet Too Big).
    case tooBig
    /// A route matched but every connection it could use is down.
    case connectionDown
    /// The egress queue was full.
    case queueFull

    public var description: String {
        switch self {
        case .malformed(let reason): "malformed (\(reason))"
        case .ttlExceeded: "ttl exceeded"
        case .noRoute: "no route"
        case .tooBig: "too big for the egress mtu"
        case .connectionDown: "connection down"
        case .queueFull: "egress queue full"
        }
    }
}
