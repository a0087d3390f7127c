// Shared fixtures of the ECMP tests: seeded random flows and their hashes, and small helpers on tables.

import TandemDatasets
import TandemPacket
import TandemRouting

enum ECMPFixture {
    /// The number of flows of the distribution tests.
    static let flowCount = 1_000_000

    /// The default-policy hashes of `flowCount` random IPv4 TCP and UDP flows; computed once for all tests.
    static let hashes: [UInt32] = {
        var random = SplitMix64(seed: 0xEC3F_0001)
        let hasher = FlowHasher(FlowHashPolicy())
        return (0..<flowCount).map { _ in
            let fields = random.next()
            let ports = random.next()
            return hasher.hashIPv4(
                source: UInt32(truncatingIfNeeded: fields), destination: UInt32(truncatingIfNeeded: fields >> 32),
                protocol: ports & 1 == 0 ? 6 : 17, sourcePort: UInt16(truncatingIfNeeded: ports >> 16),
                destinationPort: UInt16(truncatingIfNeeded: ports >> 32))
        }
    }()

    /// Members with these weights and identifiers that are not their indices (100, 107, 114, ...), so that a
    /// table mixing the two would show.
    static func members(_ weights: [UInt8]) -> [ECMPMember] {
        weights.enumerated().map { ECMPMember(id: UInt32(100 + 7 * $0.offset), weight: $0.element) }
    }

    /// The identifiers of `members`.
    static func ids(_ members: [ECMPMember]) -> Set<UInt32> { Set(members.map(\.id)) }

    /// The number of fixture flows each member carries, counted flow by flow (`noMember` included).
    static func flowCounts(_ table: ResilientBucketTable) -> [UInt32: Int] {
        // Counting per bucket first keeps a million dictionary updates out of debug builds.
        var perBucket = [Int](repeating: 0, count: table.bucketCount)
        for hash in hashes { perBucket[Int(hash) & (table.bucketCount - 1)] += 1 }
        var counts: [UInt32: Int] = [:]
        for (bucket, owner) in table.buckets.enumerated() { counts[owner, default: 0] += perBucket[bucket] }
        return counts
    }

    /// A random IPv4 or IPv6 5-tuple; some have equal addresses so that symmetry is tested on the ports too.
    static func randomTuple(_ family: IPFamily, _ random: inout SplitMix64) -> FiveTuple {
        func address() -> IPv6Address {
            family == .ipv4
                ? IPv6Address(ipv4Mapped: IPv4Address(rawValue: UInt32(truncatingIfNeeded: random.next())))
                : IPv6Address(rawValue: UInt128(random.next()) << 64 | UInt128(random.next()))
        }
        let source = address()
        let destination = random.next() % 16 == 0 ? source : address()
        let ports = random.next()
        return FiveTuple(
            family: family, source: source, destination: destination,
            protocol: IPProtocol(rawValue: UInt8(truncatingIfNeeded: ports)),
            sourcePort: UInt16(truncatingIfNeeded: ports >> 16),
            destinationPort: UInt16(truncatingIfNeeded: ports >> 32))
    }

    /// The tuple of the reply direction.
    static func reversed(_ tuple: FiveTuple) -> FiveTuple {
        FiveTuple(
            family: tuple.family, source: tuple.destination, destination: tuple.source, protocol: tuple.protocol,
            sourcePort: tuple.destinationPort, destinationPort: tuple.sourcePort)
    }

    /// The longest run of consecutive buckets with one owner.
    static func longestRun(_ table: ResilientBucketTable) -> Int {
        var longest = 0
        var run = 0
        var previous = ResilientBucketTable.noMember
        for owner in table.buckets {
            run = owner == previous ? run + 1 : 1
            previous = owner
            longest = max(longest, run)
        }
        return longest
    }
}

/// The avalanche matrix of the flow hash: how often flipping each input bit flips each output bit.
enum Avalanche {
    /// The fields of a flow, with IPv4 addresses in the low 32 bits.
    struct Fields {
        var source: UInt128
        var destination: UInt128
        var proto: UInt8
        var sourcePort: UInt16
        var destinationPort: UInt16

        /// The fields with one bit flipped: the bits of the source, of the destination, then (for `.l3l4`)
        /// of the protocol, the source port and the destination port.
        func flipping(_ bit: Int, addressBits: Int) -> Fields {
            var copy = self
            let transport = bit - 2 * addressBits
            switch transport {
            case ..<(-addressBits): copy.source ^= 1 << bit
            case ..<0: copy.destination ^= 1 << (bit - addressBits)
            case ..<8: copy.proto ^= 1 << transport
            case ..<24: copy.sourcePort ^= 1 << (transport - 8)
            default: copy.destinationPort ^= 1 << (transport - 24)
            }
            return copy
        }
    }

    /// Measures the matrix over random flows.
    ///
    /// - Returns: The number of input bits the policy reads, and the probability for input bit i and output
    ///   bit j at index i × 32 + j.
    static func measure(
        family: IPFamily, policy: FlowHashPolicy, samples: Int
    ) -> (inputBits: Int, probabilities: [Double]) {
        let hasher = FlowHasher(policy)
        let addressBits = family == .ipv4 ? 32 : 128
        let inputBits = 2 * addressBits + (policy.fields == .l3l4 ? 40 : 0)
        func hash(_ fields: Fields) -> UInt32 {
            family == .ipv4
                ? hasher.hashIPv4(
                    source: UInt32(truncatingIfNeeded: fields.source),
                    destination: UInt32(truncatingIfNeeded: fields.destination), protocol: fields.proto,
                    sourcePort: fields.sourcePort, destinationPort: fields.destinationPort)
                : hasher.hashIPv6(
                    source: fields.source, destination: fields.destination, protocol: fields.proto,
                    sourcePort: fields.sourcePort, destinationPort: fields.destinationPort)
        }
        var random = SplitMix64(seed: 0xA7A1)
        var flips = [Int](repeating: 0, count: inputBits * 32)
        for _ in 0..<samples {
            let mask: UInt128 = family == .ipv4 ? 0xFFFF_FFFF : ~0
            let ports = random.next()
            let fields = Fields(
                source: (UInt128(random.next()) << 64 | UInt128(random.next())) & mask,
                destination: (UInt128(random.next()) << 64 | UInt128(random.next())) & mask,
                proto: UInt8(truncatingIfNeeded: ports), sourcePort: UInt16(truncatingIfNeeded: ports >> 8),
                destinationPort: UInt16(truncatingIfNeeded: ports >> 24))
            let original = hash(fields)
            for input in 0..<inputBits {
                var difference = original ^ hash(fields.flipping(input, addressBits: addressBits))
                while difference != 0 {
                    flips[input * 32 + difference.trailingZeroBitCount] += 1
                    difference &= difference - 1
                }
            }
        }
        return (inputBits, flips.map { Double($0) / Double(samples) })
    }
}
