// The ECMP flow hash: which path of a next-hop group a packet's flow takes.
//
// Every packet of a flow must hash alike (reordering hurts TCP), and the low bits index a bucket table, so every
// output bit must depend on every input bit. The mixer absorbs the tuple as 64-bit words with one multiply and
// one xor-shift each (a bijection per word, so tuples that differ in one word never collide), then applies
// MurmurHash3's 64-bit finalizer, whose avalanche is well studied. The seed keys both ends, so that gateways in
// series can use different seeds and not polarize (send all flows of one upstream path down one local path).

import TandemPacket

/// Which fields of a packet choose its path, and how.
public struct FlowHashPolicy: Hashable, Sendable {
    /// The fields that the flow hash reads.
    public enum Fields: String, Sendable, CaseIterable {
        /// The source and destination addresses only: all traffic between two hosts takes one path.
        case l3
        /// The addresses, the protocol and the ports: the connections between two hosts spread over the paths.
        case l3l4
    }

    /// The fields that the hash reads; `.l3l4` by default.
    public var fields: Fields
    /// Whether both directions of a flow hash alike, so that a flow and its replies take the same path;
    /// `false` by default.
    public var symmetric: Bool
    /// The key of the hash: another seed gives an unrelated mapping of flows to paths; 0 by default.
    public var seed: UInt64

    /// Makes a policy.
    ///
    /// - Parameters:
    ///   - fields: The fields that the hash reads.
    ///   - symmetric: Whether both directions of a flow hash alike.
    ///   - seed: The key of the hash.
    public init(fields: Fields = .l3l4, symmetric: Bool = false, seed: UInt64 = 0) {
        self.fields = fields
        self.symmetric = symmetric
        self.seed = seed
    }
}

/// Hashes packets' 5-tuples to 32 bits per a ``FlowHashPolicy``, without allocating.
///
/// The hash of an IPv4 tuple is the hash of its unmapped IPv4 addresses, so that the packet pipeline can call
/// ``hashIPv4(source:destination:protocol:sourcePort:destinationPort:)`` on header fields and agree with
/// ``hash(_:)``. The value is stable for a given policy within one build of Tandem; it is not a wire format.
public struct FlowHasher: Sendable {
    /// The policy this hasher applies.
    public let policy: FlowHashPolicy
    /// The state before the first word: the seed, mixed so that nearby seeds give unrelated states.
    @usableFromInline let initialState: UInt64
    /// Mixed into the last word, so that the seed also acts after the addresses have been absorbed.
    @usableFromInline let finalKey: UInt64
    /// All ones for `.l3l4`, zero for `.l3`: masks the protocol and ports without a branch.
    @usableFromInline let transportMask: UInt64
    /// A copy of `policy.symmetric`, read on the hot path.
    @usableFromInline let symmetric: Bool

    /// Makes a hasher for a policy.
    ///
    /// - Parameter policy: The fields, the symmetry and the seed.
    public init(_ policy: FlowHashPolicy) {
        self.policy = policy
        // Two different constants (digits of pi) so that the two keys differ even for seed 0.
        initialState = Self.finalize(policy.seed ^ 0x243F_6A88_85A3_08D3)
        finalKey = Self.finalize(policy.seed &+ 0x1319_8A2E_0370_7344)
        transportMask = policy.fields == .l3l4 ? ~0 : 0
        symmetric = policy.symmetric
    }

    /// The hash of a 5-tuple of either family.
    ///
    /// - Parameter tuple: The tuple; an IPv4 tuple keeps its addresses in IPv4-mapped form.
    /// - Returns: The same value as ``hashIPv4(source:destination:protocol:sourcePort:destinationPort:)`` or
    ///   ``hashIPv6(source:destination:protocol:sourcePort:destinationPort:)`` for the tuple's fields.
    @inlinable
    public func hash(_ tuple: FiveTuple) -> UInt32 {
        if tuple.family == .ipv4 {
            // The mapped form is ::ffff:a.b.c.d: the IPv4 address is the low 32 bits.
            return hashIPv4(
                source: UInt32(truncatingIfNeeded: tuple.source.rawValue),
                destination: UInt32(truncatingIfNeeded: tuple.destination.rawValue),
                protocol: tuple.protocol.rawValue, sourcePort: tuple.sourcePort,
                destinationPort: tuple.destinationPort)
        }
        return hashIPv6(
            source: tuple.source.rawValue, destination: tuple.destination.rawValue,
            protocol: tuple.protocol.rawValue, sourcePort: tuple.sourcePort, destinationPort: tuple.destinationPort)
    }

    /// The hash of an IPv4 flow, from header fields in host byte order.
    ///
    /// - Parameters:
    ///   - source: The source address.
    ///   - destination: The destination address.
    ///   - protocol: The transport protocol number.
    ///   - sourcePort: The source port (see ``FiveTuple`` for what counts as a port).
    ///   - destinationPort: The destination port.
    /// - Returns: The flow's hash; use the low bits to pick a bucket.
    @inlinable
    public func hashIPv4(
        source: UInt32, destination: UInt32, protocol: UInt8, sourcePort: UInt16, destinationPort: UInt16
    ) -> UInt32 {
        let sourceEnd = UInt64(source) << 16 | UInt64(sourcePort)
        let destinationEnd = UInt64(destination) << 16 | UInt64(destinationPort)
        // Symmetric: the smaller (address, port) end goes first, whichever direction the packet travels.
        let swapped = symmetric && sourceEnd > destinationEnd
        let first = swapped ? destinationEnd : sourceEnd
        let second = swapped ? sourceEnd : destinationEnd
        let addresses = (first >> 16) << 32 | second >> 16
        let transport = (UInt64(`protocol`) << 32 | (first & 0xFFFF) << 16 | second & 0xFFFF) & transportMask
        let state = Self.absorb(initialState, addresses)
        return UInt32(truncatingIfNeeded: Self.finalize(state ^ transport ^ finalKey))
    }

    /// The hash of an IPv6 flow, from header fields in host byte order.
    ///
    /// - Parameters:
    ///   - source: The source address.
    ///   - destination: The destination address.
    ///   - protocol: The transport protocol number (after the extension headers).
    ///   - sourcePort: The source port (see ``FiveTuple`` for what counts as a port).
    ///   - destinationPort: The destination port.
    /// - Returns: The flow's hash; use the low bits to pick a bucket.
    @inlinable
    public func hashIPv6(
        source: UInt128, destination: UInt128, protocol: UInt8, sourcePort: UInt16, destinationPort: UInt16
    ) -> UInt32 {
        // Symmetric: the smaller (address, port) end goes first, whichever direction the packet travels.
        let swapped = symmetric && (source, sourcePort) > (destination, destinationPort)
        let first = swapped ? destination : source
        let second = swapped ? source : destination
        let firstPort = swapped ? destinationPort : sourcePort
        let secondPort = swapped ? sourcePort : destinationPort
        var state = Self.absorb(initialState, UInt64(truncatingIfNeeded: first >> 64))
        state = Self.absorb(state, UInt64(truncatingIfNeeded: first))
        state = Self.absorb(state, UInt64(truncatingIfNeeded: second >> 64))
        state = Self.absorb(state, UInt64(truncatingIfNeeded: second))
        let transport = (UInt64(`protocol`) << 32 | UInt64(firstPort) << 16 | UInt64(secondPort)) & transportMask
        return UInt32(truncatingIfNeeded: Self.finalize(state ^ transport ^ finalKey))
    }

    /// Mixes one word into the state: an odd multiply (carries spread each bit upwards) and a xor-shift (brings
    /// the high bits down). Both steps are bijective, so two words never give the same state from one state.
    @inlinable @inline(__always)
    static func absorb(_ state: UInt64, _ word: UInt64) -> UInt64 {
        let product = (state ^ word) &* 0x9E37_79B9_7F4A_7C15
        return product ^ product >> 32
    }

    /// MurmurHash3's `fmix64`: every output bit depends on every input bit, each flipping with probability
    /// close to one half.
    @inlinable @inline(__always)
    static func finalize(_ value: UInt64) -> UInt64 {
        var mixed = value
        mixed ^= mixed >> 33
        mixed &*= 0xFF51_AFD7_ED55_8CCD
        mixed ^= mixed >> 33
        mixed &*= 0xC4CE_B9FE_1A85_EC53
        return mixed ^ mixed >> 33
    }
}
