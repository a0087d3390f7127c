import Testing
import TandemPacket
import TandemDatasets
@testable import TandemRouting

@Suite struct PolicyRouteTests {
    static func policy(
        _ source: String, _ destination: String, proto: UInt8? = nil, ports: ClosedRange<UInt16>? = nil,
        priority: UInt8, weight: UInt8 = 100, via connection: Int
    ) -> PolicyRoute {
        PolicyRoute(
            match: .init(source: prefix(source), destination: prefix(destination), protocol: proto, destinationPorts: ports),
            priority: priority, weight: weight, connection: c(connection))
    }

    @Test func policyRoutesComeBeforeDestinationRoutesBySmallestPriority() throws {
        let router = try TestGateway.router(
            connections: 4,
            routes: [Route(prefix: prefix("0.0.0.0/0"), source: .static, connection: c(0))],
            policy: [
                Self.policy("198.18.1.0/24", "198.19.0.0/16", priority: 20, via: 1),
                Self.policy("198.18.1.0/24", "198.19.5.0/24", proto: 6, ports: 443...443, priority: 10, via: 2),
                Self.policy("198.18.0.0/16", "0.0.0.0/0", proto: 17, priority: 30, via: 3),
            ])
        // Priority 10 needs TCP 443.
        #expect(router.connection(for: "198.19.5.1", from: "198.18.1.7", protocol: 6, port: 443) == 2)
        #expect(router.connection(for: "198.19.5.1", from: "198.18.1.7", protocol: 6, port: 444) == 1)
        #expect(router.decide("198.19.5.1", from: "198.18.1.7", protocol: 6, port: 443).origin == .policy)
        // Priority 30: UDP from the /16 to anywhere.
        #expect(router.connection(for: "203.0.113.1", from: "198.18.9.9", protocol: 17) == 3)
        // No policy matches: the destination route.
        #expect(router.connection(for: "203.0.113.1", from: "198.18.9.9", protocol: 6) == 0)
        #expect(router.connection(for: "198.19.5.1", from: "192.0.2.1", protocol: 6, port: 443) == 0)
        #expect(router.decide("198.19.5.1", from: "192.0.2.1").origin == .destination(.static))
    }

    @Test func aPolicyWhoseConnectionIsDownFallsThrough() throws {
        let router = try TestGateway.router(
            connections: 3,
            routes: [Route(prefix: prefix("2001:db8::/32"), source: .static, connection: c(0))],
            policy: [
                Self.policy("2001:db8:1::/48", "2001:db8:2::/48", priority: 1, via: 1),
                Self.policy("2001:db8:1::/48", "2001:db8::/32", priority: 2, via: 2),
            ])
        #expect(router.connection(for: "2001:db8:2::1", from: "2001:db8:1::5") == 1)
        try router.selectTunnel(nil, for: c(1))
        #expect(router.connection(for: "2001:db8:2::1", from: "2001:db8:1::5") == 2)
        try router.selectTunnel(nil, for: c(2))
        #expect(router.connection(for: "2001:db8:2::1", from: "2001:db8:1::5") == 0)
        #expect(router.decide("2001:db8:2::1", from: "2001:db8:1::5").origin == .destination(.static))
    }

    @Test func samePolicyThroughSeveralConnectionsIsAnECMPSetAndCanBeReplaced() throws {
        let router = try TestGateway.router(
            connections: 3,
            policy: [
                Self.policy("198.18.0.0/15", "198.19.0.0/16", priority: 5, weight: 100, via: 1),
                Self.policy("198.18.0.0/15", "198.19.0.0/16", priority: 5, weight: 100, via: 2),
            ])
        #expect(router.policyGroups.count == 1)
        var seen: Set<Int> = []
        for hash in stride(from: UInt32(0), to: 1 << 20, by: 997) {
            if let connection = router.connection(for: "198.19.0.1", from: "198.18.0.1", hash: hash) {
                seen.insert(connection)
            }
        }
        #expect(seen == [1, 2])
        try router.replacePolicyRoutes([])
        #expect(router.decide("198.19.0.1", from: "198.18.0.1").outcome == .noRoute)
        #expect(router.groupCount == 0, "the policy groups were released")
    }

    /// 100 random policy routes against a linear scan, for random packets: the classifier's answer is the
    /// first matching rule in priority order.
    ///
    /// Spread: prefixes of /8 to /32 anywhere in a /8 (mostly one-read answers). Clustered: /16 to /32 inside
    /// one /16, like a site's subnets (the second-level index and the binary search below it).
    @Test(arguments: [(spreadBits: 24, shortest: 8), (spreadBits: 16, shortest: 16)])
    func classifierAgreesWithALinearScan(scenario: (spreadBits: Int, shortest: Int)) throws {
        var random = SplitMix64(seed: 42)
        let spread = UInt32.max >> (32 - scenario.spreadBits)
        func randomPrefix(_ base: UInt32) -> (UInt32, Int) {
            let length = Int(random.next() % UInt64(33 - scenario.shortest)) + scenario.shortest
            let address = base | UInt32(truncatingIfNeeded: random.next()) & spread
            return (address & (length == 0 ? 0 : UInt32.max << (32 - length)), length)
        }
        var rules: [PolicyRoute] = []
        for index in 0..<100 {
            let (s, sl) = index % 10 == 0 ? (0, 0) : randomPrefix(0xC612_0000 & ~spread)
            let (d, dl) = randomPrefix(0xC613_0000 & ~spread)
            let proto: UInt8? = [nil, 6, 17][Int(random.next() % 3)]
            let ports: ClosedRange<UInt16>? =
                proto == nil || random.next() % 2 == 0 ? nil : UInt16(random.next() % 1000)...UInt16(1000 + random.next() % 1000)
            rules.append(
                PolicyRoute(
                    match: .init(
                        source: .v4(IPv4Prefix(normalizing: IPv4Address(rawValue: s), length: sl)),
                        destination: .v4(IPv4Prefix(normalizing: IPv4Address(rawValue: d), length: dl)),
                        protocol: proto, destinationPorts: ports),
                    priority: UInt8(1 + random.next() % 100), connection: c(index % 50)))
        }
        let router = try TestGateway.router(connections: 50, policy: rules)
        let ordered = rules.enumerated().sorted { ($0.element.priority, $0.offset) < ($1.element.priority, $1.offset) }
            .map(\.element)
        var matched = 0
        for _ in 0..<200_000 {
            // Addresses near the rules' prefixes so that many packets match something.
            let pick = ordered[Int(random.next() % 100)]
            guard case .v4(let sp) = pick.match.source, case .v4(let dp) = pick.match.destination else { continue }
            let source = IPv4Address(rawValue: sp.address.rawValue | UInt32(truncatingIfNeeded: random.next()) & (random.next() % 2 == 0 ? 0xFF : 0xFFFF_FFFF))
            let destination = IPv4Address(rawValue: dp.address.rawValue | UInt32(truncatingIfNeeded: random.next()) & 0xFFF)
            let proto: UInt8 = [6, 17, 1][Int(random.next() % 3)]
            let port = UInt16(random.next() % 2100)
            let expected = ordered.first { rule in
                guard case .v4(let s) = rule.match.source, case .v4(let d) = rule.match.destination else { return false }
                return s.contains(source) && d.contains(destination)
                    && (rule.match.protocol == nil || rule.match.protocol == proto)
                    && (rule.match.destinationPorts?.contains(port) ?? true)
            }
            let decision = router.plane.decide(
                ipv4: destination, source: source, protocol: proto, destinationPort: port, flowHash: 0)
            if let expected {
                matched += 1
                #expect(decision.origin == .policy && decision.connection == expected.connection)
                if decision.connection != expected.connection { return }
            } else {
                #expect(decision.outcome == .noRoute)
            }
        }
        #expect(matched > 20_000, "the test must exercise matches")
    }
}
