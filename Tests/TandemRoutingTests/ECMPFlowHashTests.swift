import TandemDatasets
import TandemPacket
import Testing

@testable import TandemRouting

/// The ECMP flow hash: the fields it reads, symmetry, seeds and the quality of its bits.
@Suite struct ECMPFlowHashTests {
    static let policies: [FlowHashPolicy] = [
        FlowHashPolicy(), FlowHashPolicy(fields: .l3, symmetric: true, seed: 5),
        FlowHashPolicy(fields: .l3l4, symmetric: true, seed: 1 << 63), FlowHashPolicy(fields: .l3, seed: 77),
    ]

    @Test func policyDefaultsAndConfigurationNames() {
        let policy = FlowHashPolicy()
        #expect(policy.fields == .l3l4 && !policy.symmetric && policy.seed == 0)
        #expect(FlowHashPolicy.Fields.allCases.map(\.rawValue) == ["l3", "l3l4"])
        #expect(FlowHashPolicy.Fields(rawValue: "l3") == .l3 && FlowHashPolicy.Fields(rawValue: "l4") == nil)
        #expect(FlowHasher(FlowHashPolicy(seed: 3)).policy == FlowHashPolicy(seed: 3))
    }

    @Test(arguments: IPFamily.allCases, policies)
    func tupleHashEqualsTheHashOfItsFields(family: IPFamily, policy: FlowHashPolicy) {
        let hasher = FlowHasher(policy)
        var random = SplitMix64(seed: 11)
        for _ in 0..<2000 {
            let tuple = ECMPFixture.randomTuple(family, &random)
            let fields: UInt32
            if family == .ipv4 {
                fields = hasher.hashIPv4(
                    source: tuple.sourceIPv4!.rawValue, destination: tuple.destinationIPv4!.rawValue,
                    protocol: tuple.protocol.rawValue, sourcePort: tuple.sourcePort,
                    destinationPort: tuple.destinationPort)
            } else {
                fields = hasher.hashIPv6(
                    source: tuple.source.rawValue, destination: tuple.destination.rawValue,
                    protocol: tuple.protocol.rawValue, sourcePort: tuple.sourcePort,
                    destinationPort: tuple.destinationPort)
            }
            #expect(hasher.hash(tuple) == fields, "\(tuple)")
        }
    }

    @Test(arguments: IPFamily.allCases, FlowHashPolicy.Fields.allCases)
    func symmetricHashMapsBothDirectionsAlike(family: IPFamily, fields: FlowHashPolicy.Fields) {
        let symmetric = FlowHasher(FlowHashPolicy(fields: fields, symmetric: true, seed: 99))
        let directional = FlowHasher(FlowHashPolicy(fields: fields, seed: 99))
        var table = ResilientBucketTable()
        let members = ECMPFixture.members([UInt8](repeating: 100, count: 8))
        table.update(members: members, up: ECMPFixture.ids(members))
        var random = SplitMix64(seed: 12)
        var asymmetric = 0
        var differentMembers = 0
        var twoHosts = 0
        var directionalAlike = 0
        for _ in 0..<20_000 {
            let tuple = ECMPFixture.randomTuple(family, &random)
            let reply = ECMPFixture.reversed(tuple)
            let (forward, backward) = (symmetric.hash(tuple), symmetric.hash(reply))
            if forward != backward { asymmetric += 1 }
            if table.member(forHash: forward) != table.member(forHash: backward) { differentMembers += 1 }
            // With one address on both ends, .l3 cannot tell the directions apart even when not symmetric.
            guard tuple.source != tuple.destination else { continue }
            twoHosts += 1
            if directional.hash(tuple) == directional.hash(reply) { directionalAlike += 1 }
        }
        #expect(asymmetric == 0 && differentMembers == 0)
        #expect(directionalAlike <= twoHosts / 1000, "the directional hash maps replies alike")
    }

    @Test(arguments: IPFamily.allCases)
    func l3IgnoresPortsAndProtocolAndL3L4DoesNot(family: IPFamily) {
        let l3 = FlowHasher(FlowHashPolicy(fields: .l3))
        let l3l4 = FlowHasher(FlowHashPolicy(fields: .l3l4))
        var random = SplitMix64(seed: 13)
        var l3Changed = 0
        var l3l4Alike = 0
        var addressIgnored = 0
        for _ in 0..<10_000 {
            let tuple = ECMPFixture.randomTuple(family, &random)
            var other = tuple
            let change = random.next()
            switch change % 3 {
            case 0: other.sourcePort &+= UInt16(truncatingIfNeeded: change >> 8) | 1
            case 1: other.destinationPort &+= UInt16(truncatingIfNeeded: change >> 8) | 1
            default: other.protocol = IPProtocol(rawValue: tuple.protocol.rawValue &+ (UInt8(change >> 8 & 0x7F) | 1))
            }
            if l3.hash(tuple) != l3.hash(other) { l3Changed += 1 }
            if l3l4.hash(tuple) == l3l4.hash(other) { l3l4Alike += 1 }
            var moved = tuple
            moved.destination = IPv6Address(rawValue: tuple.destination.rawValue ^ 1 << (change % 32))
            if l3.hash(tuple) == l3.hash(moved) { addressIgnored += 1 }
        }
        #expect(l3Changed == 0)
        #expect(l3l4Alike <= 10, "\(l3l4Alike) changes of ports or protocol left the .l3l4 hash alike")
        #expect(addressIgnored <= 10, "\(addressIgnored) address changes left the .l3 hash alike")
    }

    @Test func seedsGiveIndependentMappings() {
        let seeds: [UInt64] = [0, 1, 0xDEAD_BEEF]
        let hashers = seeds.map { FlowHasher(FlowHashPolicy(seed: $0)) }
        let again = FlowHasher(FlowHashPolicy(seed: 1))
        var table = ResilientBucketTable()
        let members = ECMPFixture.members([UInt8](repeating: 100, count: 8))
        table.update(members: members, up: ECMPFixture.ids(members))
        var random = SplitMix64(seed: 14)
        let flows = 100_000
        var sameHash = 0
        var pairs = 0
        var sameMember = 0
        var reseeded = 0
        for _ in 0..<flows {
            let tuple = ECMPFixture.randomTuple(.ipv4, &random)
            let hashes = hashers.map { $0.hash(tuple) }
            if again.hash(tuple) != hashes[1] { reseeded += 1 }
            for (a, b) in [(0, 1), (0, 2), (1, 2)] {
                pairs += 1
                if hashes[a] == hashes[b] { sameHash += 1 }
                if table.member(forHash: hashes[a]) == table.member(forHash: hashes[b]) { sameMember += 1 }
            }
        }
        #expect(reseeded == 0, "the same seed must give the same mapping")
        #expect(sameHash <= 3)
        // Independent mappings agree on a member by chance: 1 in 8.
        let agreement = Double(sameMember) / Double(pairs)
        #expect(abs(agreement - 0.125) < 0.01, "agreement \(agreement)")
    }

    @Test(arguments: IPFamily.allCases, policies)
    func everyInputBitFlipsEveryOutputBitHalfTheTime(family: IPFamily, policy: FlowHashPolicy) {
        let result = Avalanche.measure(family: family, policy: policy, samples: 1000)
        let worst = result.probabilities.max { abs($0 - 0.5) < abs($1 - 0.5) }!
        #expect((0.4...0.6).contains(worst), "flip probability \(worst) for some input and output bit")
        for input in 0..<result.inputBits {
            let row = result.probabilities[(input * 32)..<(input * 32 + 32)]
            let mean = row.reduce(0, +) / 32
            #expect((0.45...0.55).contains(mean), "input bit \(input) flips \(mean) of the output bits")
        }
    }

    @Test(arguments: IPFamily.allCases)
    func lowBitsAreUniformOnSequentialFlows(family: IPFamily) {
        let hasher = FlowHasher(FlowHashPolicy())
        let buckets = 4096
        let flows = buckets * 64
        var counts = [Int](repeating: 0, count: buckets)
        for index in 0..<flows {
            // Consecutive sources in one subnet to one server, with consecutive client ports: the worst realistic
            // input for a weak hash.
            let client = UInt32(index >> 4)
            let port = UInt16(40_000 + index & 15)
            let hash =
                family == .ipv4
                ? hasher.hashIPv4(
                    source: 0x0A00_0000 | client, destination: 0xC633_6401, protocol: 6, sourcePort: port,
                    destinationPort: 443)
                : hasher.hashIPv6(
                    source: 0x2001_0DB8 << 96 | UInt128(client), destination: 0x2001_0DB8_0001 << 80 | 1,
                    protocol: 6, sourcePort: port, destinationPort: 443)
            counts[Int(hash) & (buckets - 1)] += 1
        }
        // Chi-square with 4095 degrees of freedom: mean 4095, standard deviation 90.5.
        let chiSquare = counts.reduce(0.0) { $0 + Double(($1 - 64) * ($1 - 64)) / 64 }
        #expect(chiSquare < 4095 + 6 * 90.5, "chi-square \(chiSquare)")
    }
}
