// Forwarding decisions per packet, without and with policy routes.

import Benchmark
import TandemDatasets
import TandemPacket
import TandemRouting

/// One packet's fields as the pipeline has them after parsing.
struct PacketFields {
    var source: IPv4Address
    var destination: IPv4Address
    var `protocol`: UInt8
    var sourcePort: UInt16
    var destinationPort: UInt16
}

final class DecisionFixture {
    let router: Router
    let hasher = FlowHasher(FlowHashPolicy())
    let packets: [PacketFields]
    let keys = UnsafeMutableBufferPointer<PacketKey<IPv4Address>>.allocate(capacity: 256)
    let decisions = UnsafeMutableBufferPointer<ForwardingDecision>.allocate(capacity: 256)

    deinit {
        keys.deallocate()
        decisions.deallocate()
    }

    init(policyRoutes: [PolicyRoute]) {
        router = makeRouter(fullTable: true, policyRoutes: policyRoutes)
        // Destinations inside the table's prefixes; sources spread over the site 198.18.0.0/16; TCP and UDP.
        let destinations = AddressSamples.inside(routeTable.ipv4, count: 1_000_000, seed: 0x5EED_0003)
        var random = SplitMix64(seed: 0x5EED_0004)
        packets = destinations.map { destination in
            let bits = random.next()
            return PacketFields(
                source: IPv4Address(rawValue: 0xC612_0000 | UInt32(truncatingIfNeeded: bits) & 0xFFFF),
                destination: destination, protocol: bits & (1 << 20) == 0 ? 6 : 17,
                sourcePort: UInt16(truncatingIfNeeded: bits >> 24), destinationPort: [443, 80, 53, 8080][Int(bits >> 40) & 3])
        }
    }
}

/// Decides every packet; returns a checksum of the tunnels so the work is not optimised away.
@inline(never)
func decideAll(_ fixture: DecisionFixture) -> UInt32 {
    let plane = fixture.router.plane
    let hasher = fixture.hasher
    var sum: UInt32 = 0
    fixture.packets.withUnsafeBufferPointer { packets in
        for packet in packets {
            let hash = hasher.hashIPv4(
                source: packet.source.rawValue, destination: packet.destination.rawValue, protocol: packet.protocol,
                sourcePort: packet.sourcePort, destinationPort: packet.destinationPort)
            let decision = plane.decide(
                ipv4: packet.destination, source: packet.source, protocol: packet.protocol,
                destinationPort: packet.destinationPort, flowHash: hash)
            sum &+= decision.tunnel.rawValue
        }
    }
    return sum
}

/// Decides the packets in batches of `batchSize`, as the pipeline will: hash each packet into its key, then
/// one batch decision (the destination lookups of a batch overlap their cache misses).
@inline(never)
func decideAllBatched(_ fixture: DecisionFixture, keys: UnsafeMutableBufferPointer<PacketKey<IPv4Address>>,
                      decisions: UnsafeMutableBufferPointer<ForwardingDecision>) -> UInt32 {
    let plane = fixture.router.plane
    let hasher = fixture.hasher
    var sum: UInt32 = 0
    fixture.packets.withUnsafeBufferPointer { packets in
        var start = 0
        while start < packets.count {
            let count = min(keys.count, packets.count - start)
            for i in 0..<count {
                let packet = packets[start + i]
                keys[i] = PacketKey(
                    destination: packet.destination, source: packet.source, protocol: packet.protocol,
                    destinationPort: packet.destinationPort,
                    flowHash: hasher.hashIPv4(
                        source: packet.source.rawValue, destination: packet.destination.rawValue,
                        protocol: packet.protocol, sourcePort: packet.sourcePort,
                        destinationPort: packet.destinationPort))
            }
            plane.decide(ipv4: UnsafeBufferPointer(rebasing: keys[0..<count]), into: decisions)
            for i in 0..<count { sum &+= decisions[i].tunnel.rawValue }
            start += count
        }
    }
    return sum
}

/// 100 policy routes as a site might write them: source subnets of the site (/24s of 198.18.0.0/16) to
/// destination prefixes from the table, some limited to a protocol and port range.
func typicalPolicyRoutes(count: Int, matchEverything: Bool) -> [PolicyRoute] {
    var random = SplitMix64(seed: 0x5EED_0005)
    return (0..<count).map { index in
        let source = IPv4Prefix(
            normalizing: IPv4Address(rawValue: 0xC612_0000 | UInt32(index % 256) << 8), length: matchEverything ? 16 : 24)
        let destination = matchEverything
            ? try! IPv4Prefix("0.0.0.0/0") : routeTable.ipv4[Int(random.next() % UInt64(routeTable.ipv4.count))]
        let proto: UInt8? = index % 3 == 0 ? nil : (index % 3 == 1 ? 6 : 17)
        let ports: ClosedRange<UInt16>? = proto == nil ? nil : 1000...2000
        return PolicyRoute(
            match: .init(source: .v4(source), destination: .v4(destination), protocol: proto, destinationPorts: ports),
            priority: UInt8(1 + index % 100), connection: ConnectionID(index % connectionCount))
    }
}

func registerDecisionBenchmarks() {
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, .throughput, .mallocCountTotal], timeUnits: .nanoseconds, warmupIterations: 1,
        scalingFactor: .mega, maxDuration: .seconds(10), maxIterations: 100)
    // The policy routes are made in `setup` (they read the table): listing the benchmarks, or running only the
    // empty-table ones, must not load the full table.
    let cases: [(String, @Sendable () -> [PolicyRoute])] = [
        ("no policy routes", { [] }),
        ("100 policy routes", { typicalPolicyRoutes(count: 100, matchEverything: false) }),
        ("100 policy routes, every packet policy-routed", { typicalPolicyRoutes(count: 100, matchEverything: true) }),
    ]
    for (name, policy) in cases {
        Benchmark("Decide IPv4, full table, \(name)", configuration: configuration.forAllocationCheck) { benchmark, fixture in
            blackHole(decideAll(fixture))
        } setup: {
            DecisionFixture(policyRoutes: policy())
        }
        Benchmark("Decide IPv4 batch 256, full table, \(name)", configuration: configuration.forAllocationCheck) { benchmark, fixture in
            blackHole(decideAllBatched(fixture, keys: fixture.keys, decisions: fixture.decisions))
        } setup: {
            DecisionFixture(policyRoutes: policy())
        }
    }
}
