import Testing
import TandemPacket
import TandemDatasets
@testable import TandemRouting

/// The batch API answers exactly what one-at-a-time decisions answer, with and without policy routes.
@Suite struct BatchDecisionTests {
    @Test func batchDecisionsEqualSingleDecisions() throws {
        let (router, data) = try RouterFullTableTests.fullTableRouter()
        var random = SplitMix64(seed: 99)
        for withPolicy in [false, true] {
            if withPolicy {
                try router.replacePolicyRoutes([
                    PolicyRoute(
                        match: .init(source: prefix("198.18.0.0/17"), destination: prefix("0.0.0.0/1"), protocol: 6),
                        priority: 1, connection: c(1)),
                    PolicyRoute(
                        match: .init(source: prefix("2001:db8::/33"), destination: prefix("2000::/4")),
                        priority: 2, connection: c(2)),
                ])
            }
            let v4Packets = AddressSamples.inside(data.ipv4, count: 5000, seed: random.next())
                + AddressSamples.uniformIPv4(count: 1000, seed: random.next())
            let keys4 = v4Packets.map {
                PacketKey(
                    destination: $0, source: IPv4Address(rawValue: 0xC612_0000 | UInt32(random.next() & 0xFFFF)),
                    protocol: random.next() % 2 == 0 ? 6 : 17, destinationPort: 443,
                    flowHash: UInt32(truncatingIfNeeded: random.next()))
            }
            var batch4 = [ForwardingDecision](repeating: .noRoute, count: keys4.count)
            keys4.withUnsafeBufferPointer { keys in
                batch4.withUnsafeMutableBufferPointer { router.plane.decide(ipv4: keys, into: $0) }
            }
            for (key, decision) in zip(keys4, batch4) {
                let single = router.plane.decide(
                    ipv4: key.destination, source: key.source, protocol: key.protocol,
                    destinationPort: key.destinationPort, flowHash: key.flowHash)
                #expect(single == decision)
                if single != decision { return }
            }
            #expect(batch4.contains { $0.origin == .policy } == withPolicy)
            #expect(batch4.contains { $0.outcome == .noRoute } || !data.ipv4.isEmpty)

            let v6Packets = AddressSamples.inside(data.ipv6, count: 5000, seed: random.next())
            let keys6 = v6Packets.map {
                PacketKey(
                    destination: $0, source: IPv6Address(rawValue: (0x2001_0db8 as UInt128) << 96 | UInt128(random.next())),
                    protocol: 17, destinationPort: 53, flowHash: UInt32(truncatingIfNeeded: random.next()))
            }
            var batch6 = [ForwardingDecision](repeating: .noRoute, count: keys6.count)
            keys6.withUnsafeBufferPointer { keys in
                batch6.withUnsafeMutableBufferPointer { router.plane.decide(ipv6: keys, into: $0) }
            }
            for (key, decision) in zip(keys6, batch6) {
                let single = router.plane.decide(
                    ipv6: key.destination, source: key.source, protocol: key.protocol,
                    destinationPort: key.destinationPort, flowHash: key.flowHash)
                #expect(single == decision)
                if single != decision { return }
            }
        }
    }
}
