// The read side of the router: what the packet pipeline consults, lock-free, for every packet.
//
// A destination lookup is four dependent reads, each in a table the control path rewrites in place:
//
//   LPM (prefix -> chain) -> chain word (chain -> group and route source) -> bucket (flow hash -> connection)
//     -> connection word (connection -> selected tunnel)
//
// The indirections are what make failover one step. A million prefixes share a few chains, a chain lists a
// prefix's candidate groups in priority order and resolves to the first that has a live member, a group is
// shared by every chain that names it, and a connection's word says which of its two tunnels carries traffic.
// A tunnel switch is one store into a connection word; a connection leaving its groups rewrites their buckets;
// neither touches a route, so neither grows with the table.
//
// Memory model (the same discipline as TandemLPM's): every shared word is an `Atomic`, read with relaxed or
// acquire loads. The arenas are reserved once and never unmapped while the plane lives, and every index a
// reader computes is masked to its arena, so a reader racing the writer reads a stale word, never unmapped
// memory. A group's buckets are guarded by a sequence lock, so a reader never mixes two bucket tables: it sees
// the group before or after a change. Chain and group slots freed by the writer are reused last-in-last (a
// FIFO behind a quarantine), so a reader holding a stale chain id from the LPM reads the chain it meant for
// far longer than any lookup takes. The policy classifier is an immutable object replaced whole, freed through
// ReaderEpochs once every reader has passed a quiescent state.

import Synchronization
import TandemLPM
import TandemPacket

/// The lock-free read side of a ``Router``: LPM tables, chains, group buckets, connection words, policies.
///
/// Any number of threads may call the `decide` methods at any time, also while the router changes the plane.
/// Each answer is one the plane held at some instant during the call.
public final class ForwardingPlane: @unchecked Sendable {
    /// Destination routes, IPv4: prefix -> chain id.
    public let ipv4: IPv4Table
    /// Destination routes, IPv6: prefix -> chain id.
    public let ipv6: IPv6Table
    /// Reader threads register here so that replaced policy classifiers are freed safely.
    public let readers = ReaderEpochs()

    // Chain words: 0 = unresolved (no group with a live member); else resolvedBit | source << 24 | group.
    @usableFromInline let chainWords: UnsafeMutablePointer<Atomic<UInt32>>
    @usableFromInline let chainMask: Int
    // Per group: a sequence lock (bits 0...30, odd while the writer rewrites the buckets; bit 31 = no live
    // member) and its buckets (0 = never had a member, else connection index + 1).
    @usableFromInline let groupSequences: UnsafeMutablePointer<Atomic<UInt32>>
    @usableFromInline let bucketWords: UnsafeMutablePointer<Atomic<UInt32>>
    @usableFromInline let groupMask: Int
    @usableFromInline let bucketBits: Int
    // Per connection: 0 = no tunnel carries traffic, else tunnel index + 1.
    @usableFromInline let connectionWords: UnsafeMutablePointer<Atomic<UInt32>>
    @usableFromInline let connectionMask: Int
    // The policy classifiers; nil (the usual case) costs one load and one branch per packet.
    @usableFromInline let policyV4 = Atomic<Unmanaged<PolicyClassifier<UInt32>>?>(nil)
    @usableFromInline let policyV6 = Atomic<Unmanaged<PolicyClassifier<UInt128>>?>(nil)

    private let chainMemory: ReservedMemory
    private let groupMemory: ReservedMemory
    private let bucketMemory: ReservedMemory
    private let connectionMemory: ReservedMemory

    @usableFromInline static var resolvedBit: UInt32 { 1 << 31 }
    /// In a group's sequence word: the group has no live member (its buckets are the last live ones).
    @usableFromInline static var groupEmptyBit: UInt32 { 1 << 31 }

    /// The capacities of the plane's arenas.
    public struct Capacity: Sendable {
        /// Distinct chains (candidate lists); a power of two.
        public var chains: Int = 1 << 20
        /// Next-hop groups; a power of two.
        public var groups: Int = 1 << 12
        /// Connections; a power of two.
        public var connections: Int = 1 << 12
        /// Buckets per group; a power of two, 64...65536.
        public var bucketsPerGroup: Int = 1024
        public init() {}
    }

    /// The arenas' sizes.
    public let capacity: Capacity

    /// Makes an empty plane: every lookup answers no route.
    public init(capacity: Capacity = Capacity()) {
        precondition(capacity.chains.nonzeroBitCount == 1 && capacity.groups.nonzeroBitCount == 1)
        precondition(capacity.connections.nonzeroBitCount == 1 && capacity.bucketsPerGroup.nonzeroBitCount == 1)
        precondition((64...65536).contains(capacity.bucketsPerGroup), "buckets per group must be 64...65536")
        precondition(capacity.groups <= 1 << 24, "a chain word holds a group in 24 bits")
        precondition(capacity.chains <= 1 << 30 && capacity.connections <= 1 << 24)
        self.capacity = capacity
        ipv4 = IPv4Table()
        ipv6 = IPv6Table()
        chainMemory = ReservedMemory(byteCount: capacity.chains * 4)
        groupMemory = ReservedMemory(byteCount: capacity.groups * 4)
        bucketMemory = ReservedMemory(byteCount: capacity.groups * capacity.bucketsPerGroup * 4)
        connectionMemory = ReservedMemory(byteCount: capacity.connections * 4)
        // Zero-filled memory reads as "unresolved", "no member", "no tunnel": the empty plane.
        chainWords = chainMemory.base.bindMemory(to: Atomic<UInt32>.self, capacity: capacity.chains)
        groupSequences = groupMemory.base.bindMemory(to: Atomic<UInt32>.self, capacity: capacity.groups)
        bucketWords = bucketMemory.base.bindMemory(
            to: Atomic<UInt32>.self, capacity: capacity.groups * capacity.bucketsPerGroup)
        connectionWords = connectionMemory.base.bindMemory(to: Atomic<UInt32>.self, capacity: capacity.connections)
        chainMask = capacity.chains - 1
        groupMask = capacity.groups - 1
        bucketBits = capacity.bucketsPerGroup.trailingZeroBitCount
        connectionMask = capacity.connections - 1
    }

    deinit {
        policyV4.load(ordering: .relaxed)?.release()
        policyV6.load(ordering: .relaxed)?.release()
    }

    // MARK: Reading

    /// The connection the flow hash picks in `group`, and whether the group has a live member.
    ///
    /// A group whose members are all down keeps the buckets it had (only its `live` flag changes), so a reader
    /// that reached it through a stale chain word sees the group as it was, not a mix. Never mixes two versions
    /// of the buckets (sequence lock). Nil only for a group that was never live.
    @inlinable
    public func member(of group: GroupID, flowHash: UInt32) -> (connection: ConnectionID, live: Bool)? {
        let slot = group.index & groupMask
        let bucket = slot &<< bucketBits | Int(flowHash) & ((1 &<< bucketBits) &- 1)
        while true {
            let sequence = groupSequences[slot].load(ordering: .acquiring)
            let word = bucketWords[bucket].load(ordering: .relaxed)
            atomicMemoryFence(ordering: .acquiring)
            if sequence & 1 == 0 && groupSequences[slot].load(ordering: .relaxed) == sequence {
                return word == 0 ? nil : (ConnectionID(rawValue: word &- 1), sequence & Self.groupEmptyBit == 0)
            }
        }
    }

    /// The tunnel that carries `connection`'s traffic. While the connection is down this stays the last
    /// selected tunnel (no live group picks the connection then), so that a reader racing the switch sees the
    /// state before it or after it, never a connection without a tunnel.
    @inlinable
    public func tunnel(of connection: ConnectionID) -> TunnelID? {
        let word = connectionWords[connection.index & connectionMask].load(ordering: .acquiring)
        return word == 0 ? nil : TunnelID(rawValue: word &- 1)
    }

    /// Follows a group to a tunnel. A policy route needs a live group (else the next rule is tried); a
    /// destination route takes the group its chain named, even if it emptied a moment ago.
    @inlinable
    func decide(group: GroupID, origin: ForwardingDecision.Origin, flowHash: UInt32, requireLive: Bool)
        -> ForwardingDecision
    {
        guard let (connection, live) = member(of: group, flowHash: flowHash), live || !requireLive,
            let tunnel = tunnel(of: connection)
        else {
            return ForwardingDecision(
                outcome: .connectionDown, origin: origin, group: group, connection: ConnectionID(rawValue: 0),
                tunnel: TunnelID(rawValue: 0))
        }
        return ForwardingDecision(outcome: .forward, origin: origin, group: group, connection: connection, tunnel: tunnel)
    }

    /// Follows an LPM value (a chain id) to a tunnel.
    @inlinable
    func decide(chain value: UInt32?, flowHash: UInt32) -> ForwardingDecision {
        guard let value else { return .noRoute }
        let word = chainWords[Int(value) & chainMask].load(ordering: .acquiring)
        guard word & Self.resolvedBit != 0 else {
            // A route matches but none of its groups has a live member; the router is about to remove the
            // prefix so that a less specific one answers. Until then the packet has nowhere to go.
            return ForwardingDecision(
                outcome: .connectionDown, origin: .none, group: GroupID(rawValue: 0),
                connection: ConnectionID(rawValue: 0), tunnel: TunnelID(rawValue: 0))
        }
        let source = RouteSource(rawValue: UInt8(truncatingIfNeeded: word &>> 24) & 3) ?? .dynamic
        return decide(
            group: GroupID(rawValue: word & 0xFF_FFFF), origin: .destination(source), flowHash: flowHash,
            requireLive: false)
    }

    /// Decides where an IPv4 packet goes: policy routes first, then the longest destination prefix.
    ///
    /// - Parameters:
    ///   - destination, source: The packet's addresses.
    ///   - protocol: The transport protocol number.
    ///   - destinationPort: The destination port (0 for protocols without ports).
    ///   - flowHash: The packet's flow hash (``FlowHasher``), which picks the group member.
    @inlinable
    public func decide(
        ipv4 destination: IPv4Address, source: IPv4Address, protocol: UInt8, destinationPort: UInt16,
        flowHash: UInt32
    ) -> ForwardingDecision {
        if let decision = policyDecision(
            policyV4.load(ordering: .acquiring), source: source.rawValue, destination: destination.rawValue,
            protocol: `protocol`, destinationPort: destinationPort, flowHash: flowHash)
        {
            return decision
        }
        return decide(chain: ipv4.lookup(destination), flowHash: flowHash)
    }

    /// Decides where an IPv6 packet goes: policy routes first, then the longest destination prefix.
    @inlinable
    public func decide(
        ipv6 destination: IPv6Address, source: IPv6Address, protocol: UInt8, destinationPort: UInt16,
        flowHash: UInt32
    ) -> ForwardingDecision {
        if let decision = policyDecision(
            policyV6.load(ordering: .acquiring), source: source.rawValue, destination: destination.rawValue,
            protocol: `protocol`, destinationPort: destinationPort, flowHash: flowHash)
        {
            return decision
        }
        return decide(chain: ipv6.lookup(destination), flowHash: flowHash)
    }

    /// The decision of the first matching policy route that leads to a live tunnel, or nil (no classifier, the
    /// usual case, costs nothing more than the load the caller did).
    @inlinable
    func policyDecision<Key>(
        _ policy: Unmanaged<PolicyClassifier<Key>>?, source: Key, destination: Key, protocol: UInt8,
        destinationPort: UInt16, flowHash: UInt32
    ) -> ForwardingDecision? {
        guard let policy else { return nil }
        return policy._withUnsafeGuaranteedRef {
            $0.decide(
                source: source, destination: destination, protocol: `protocol`, destinationPort: destinationPort,
                flowHash: flowHash, plane: self)
        }
    }

    // MARK: Writing (the router's control path, one thread at a time)

    /// Publishes the tunnel a connection's traffic takes: one store, the whole failover of a tunnel pair.
    func setTunnel(_ tunnel: TunnelID, of connection: ConnectionID) {
        precondition(connection.index < capacity.connections, "too many connections for the plane")
        connectionWords[connection.index].store(tunnel.rawValue + 1, ordering: .releasing)
    }

    /// Publishes a chain's resolution: the first candidate group with a live member, or nil.
    func setResolution(_ resolution: (group: GroupID, source: RouteSource)?, of chain: ChainID) {
        precondition(chain.index < capacity.chains, "too many chains for the plane")
        let word = resolution.map { Self.resolvedBit | UInt32($0.source.rawValue) << 24 | $0.group.rawValue } ?? 0
        chainWords[chain.index].store(word, ordering: .releasing)
    }

    /// Publishes a live group's buckets (a connection index per bucket) under the group's sequence lock, rewriting
    /// only the buckets that changed, and marks it live.
    func setBuckets(of group: GroupID, _ members: UnsafeBufferPointer<UInt32>) {
        precondition(group.index < capacity.groups, "too many next-hop groups for the plane")
        precondition(members.count == capacity.bucketsPerGroup)
        let slot = group.index
        let sequence = groupSequences[slot].load(ordering: .relaxed) & ~Self.groupEmptyBit
        groupSequences[slot].store(sequence &+ 1, ordering: .relaxed)
        atomicMemoryFence(ordering: .releasing)
        var bucket = slot << bucketBits
        for member in members {
            let word = member &+ 1
            if bucketWords[bucket].load(ordering: .relaxed) != word {
                bucketWords[bucket].store(word, ordering: .relaxed)
            }
            bucket += 1
        }
        groupSequences[slot].store((sequence &+ 2) & ~Self.groupEmptyBit, ordering: .releasing)
    }

    /// Marks a group as having no live member, leaving its buckets as they were (see ``member(of:flowHash:)``).
    func setEmpty(_ group: GroupID) {
        let slot = group.index
        let sequence = groupSequences[slot].load(ordering: .relaxed) & ~Self.groupEmptyBit
        groupSequences[slot].store((sequence &+ 2) | Self.groupEmptyBit, ordering: .releasing)
    }

    /// Replaces the IPv4 policy classifier; returns the old one (retire it through ``readers``).
    func exchangePolicyV4(_ classifier: PolicyClassifier<UInt32>?) -> PolicyClassifier<UInt32>? {
        let new = classifier.map { Unmanaged.passRetained($0) }
        return policyV4.exchange(new, ordering: .acquiringAndReleasing)?.takeRetainedValue()
    }

    /// Replaces the IPv6 policy classifier; returns the old one (retire it through ``readers``).
    func exchangePolicyV6(_ classifier: PolicyClassifier<UInt128>?) -> PolicyClassifier<UInt128>? {
        let new = classifier.map { Unmanaged.passRetained($0) }
        return policyV6.exchange(new, ordering: .acquiringAndReleasing)?.takeRetainedValue()
    }
}
