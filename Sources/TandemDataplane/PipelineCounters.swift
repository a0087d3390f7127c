// What the pipeline counts: per tunnel, per route origin, drops by reason, ICMP errors sent and suppressed.
// Plain integers in arrays sized once: one pipeline per thread, so no atomics; the owner sums them.

import TandemPacket
import TandemRouting

/// Packets and bytes.
public struct TrafficCount: Hashable, Sendable {
    public var packets = 0
    public var bytes = 0
    public init() {}
    @inlinable public mutating func add(bytes count: Int) {
        packets &+= 1
        bytes &+= count
    }
    public static func + (lhs: TrafficCount, rhs: TrafficCount) -> TrafficCount {
        var sum = lhs
        sum.packets += rhs.packets
        sum.bytes += rhs.bytes
        return sum
    }
}

/// The counters of one pipeline.
public struct PipelineCounters: Hashable, Sendable {
    /// Packets that entered the pipeline.
    public var received = TrafficCount()
    /// Forwarded, per tunnel (index = tunnel index); fragments count one each.
    public var perTunnel: [TrafficCount]
    /// Forwarded, per route origin: policy, then the sources by priority (specific, system, static, dynamic).
    public var perOrigin = [TrafficCount](repeating: TrafficCount(), count: 5)
    /// Dropped, per reason (see ``DropCounter``).
    public var drops = [Int](repeating: 0, count: DropCounter.count)
    /// ICMP errors sent, and those the rate limit suppressed.
    public var icmpSent = 0
    public var icmpRateLimited = 0
    /// Packets split into fragments, and the fragments made.
    public var fragmented = 0
    public var fragmentsMade = 0

    public init(tunnels: Int) { perTunnel = Array(repeating: TrafficCount(), count: tunnels) }

    /// Index of an origin in ``perOrigin``.
    public static func originIndex(_ origin: ForwardingDecision.Origin) -> Int {
        switch origin {
        case .policy, .none: 0
        case .destination(let source): 1 + Int(source.rawValue)
        }
    }

    /// The names of ``perOrigin``'s entries.
    public static let originNames = ["policy", "specific", "system", "static", "dynamic"]

    /// Drops of one reason.
    public func drops(_ reason: DropReason) -> Int { drops[DropCounter.index(reason)] }

    /// Every drop.
    public var totalDrops: Int { drops.reduce(0, +) }

    /// Adds another pipeline's counters.
    public mutating func add(_ other: PipelineCounters) {
        received = received + other.received
        for index in perTunnel.indices where index < other.perTunnel.count {
            perTunnel[index] = perTunnel[index] + other.perTunnel[index]
        }
        for index in perOrigin.indices { perOrigin[index] = perOrigin[index] + other.perOrigin[index] }
        for index in drops.indices { drops[index] += other.drops[index] }
        icmpSent += other.icmpSent
        icmpRateLimited += other.icmpRateLimited
        fragmented += other.fragmented
        fragmentsMade += other.fragmentsMade
    }
}

/// The flat numbering of drop reasons, malformed ones first, for counting in an array.
public enum DropCounter {
    @usableFromInline static let malformedCount = MalformedReason.allCases.count
    /// How many counters there are.
    public static let count = malformedCount + DropReason.others.count

    /// The counter of a reason.
    @inlinable
    public static func index(_ reason: DropReason) -> Int {
        switch reason {
        case .malformed(let why): Int(why.rawValue)
        case .badChecksum: malformedCount
        case .ttlExceeded: malformedCount + 1
        case .noRoute: malformedCount + 2
        case .tooBig: malformedCount + 3
        case .connectionDown: malformedCount + 4
        }
    }

    /// The reason of a counter.
    public static func reason(_ index: Int) -> DropReason {
        index < malformedCount ? .malformed(MalformedReason.allCases[index]) : DropReason.others[index - malformedCount]
    }
}
