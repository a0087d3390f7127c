import Foundation
import Synchronization
import Testing
import TandemPacket
import TandemDatasets
@testable import TandemRouting

@Suite struct RouterECMPTests {
    /// Four connections for one prefix: failing one moves only its flows; its return takes back only its share.
    @Test func failingAConnectionMovesOnlyItsFlows() throws {
        let routes = (0..<4).map { Route(prefix: prefix("198.19.0.0/16"), source: .static, connection: c($0)) }
        let router = try TestGateway.router(connections: 4, dual: true, routes: routes)
        #expect(router.groupCount == 1)
        var random = SplitMix64(seed: 7)
        let hashes = (0..<100_000).map { _ in UInt32(truncatingIfNeeded: random.next()) }
        let before = hashes.map { router.connection(for: "198.19.1.1", hash: $0)! }
        for member in 0..<4 { #expect(abs(before.filter { $0 == member }.count - 25_000) < 1250) }

        // Switching c2 to its standby tunnel moves no flow between connections.
        try router.selectTunnel(TunnelID(5), for: c(2))
        #expect(hashes.map { router.connection(for: "198.19.1.1", hash: $0)! } == before)

        try router.selectTunnel(nil, for: c(2))
        let during = hashes.map { router.connection(for: "198.19.1.1", hash: $0)! }
        for (old, new) in zip(before, during) {
            if old == 2 { #expect(new != 2) } else { #expect(new == old) }
        }
        try router.selectTunnel(TunnelID(4), for: c(2))
        let after = hashes.map { router.connection(for: "198.19.1.1", hash: $0)! }
        var movedBack = 0
        for (old, new) in zip(during, after) where old != new {
            #expect(new == 2)
            movedBack += 1
        }
        #expect(movedBack <= 25_000 + 1250)
    }

    @Test func weight100And0IsActiveStandbyAcrossConnections() throws {
        let routes = [
            Route(prefix: prefix("2001:db8:5::/48"), source: .static, connection: c(0), weight: 100),
            Route(prefix: prefix("2001:db8:5::/48"), source: .static, connection: c(1), weight: 0),
        ]
        let router = try TestGateway.router(connections: 2, routes: routes)
        let hashes: [UInt32] = (0..<1000).map { UInt32($0) &* 2_654_435_761 }
        #expect(Set(hashes.map { router.connection(for: "2001:db8:5::1", hash: $0) }) == [0])
        try router.selectTunnel(nil, for: c(0))
        #expect(Set(hashes.map { router.connection(for: "2001:db8:5::1", hash: $0) }) == [1])
        try router.selectTunnel(TunnelID(0), for: c(0))
        #expect(Set(hashes.map { router.connection(for: "2001:db8:5::1", hash: $0) }) == [0])
    }
}

/// The full Internet table through a few groups: few chains, and a failover that touches no route.
@Suite(.serialized) struct RouterFullTableTests {
    static func fullTableRouter() throws -> (Router, RouteTableData) {
        let data = try RouteTableData.loadOrSynthesize()
        // Every prefix via connection 0 (dynamic, as learned from BGP), every /16 also via connection 1 (static),
        // and a static backup default route via connection 2.
        var routes: [Route] = data.ipv4.map { Route(prefix: .v4($0), source: .dynamic, connection: c(0)) }
        routes += data.ipv6.map { Route(prefix: .v6($0), source: .dynamic, connection: c(0)) }
        routes += data.ipv4.filter { $0.length == 16 }.map { Route(prefix: .v4($0), source: .static, connection: c(1)) }
        routes.append(Route(prefix: prefix("0.0.0.0/0"), source: .static, connection: c(2)))
        let router = try Router(TestGateway.configuration(connections: 3, dual: true, routes: routes))
        return (router, data)
    }

    @Test func fullTableCompilesToAFewChainsAndFailsOverWithoutTouchingRoutes() throws {
        let (router, data) = try Self.fullTableRouter()
        #expect(router.prefixCounts.installed == data.ipv4.count + data.ipv6.count + (data.ipv4.contains { $0.length == 0 } ? 0 : 1))
        #expect(router.chainCount <= 3, "prefixes share chains")
        #expect(router.groupCount == 3)
        var random = SplitMix64(seed: 11)
        let samples = (0..<20_000).map { _ in data.ipv4[Int(random.next() % UInt64(data.ipv4.count))] }
        func tunnels() -> [TunnelID?] {
            samples.map {
                let d = router.plane.decide(ipv4: $0.address, source: v4("198.18.0.1"), protocol: 6, destinationPort: 80, flowHash: 1)
                return d.outcome == .forward ? d.tunnel : nil
            }
        }
        let before = tunnels()
        #expect(!before.contains(nil))
        let lpmCountBefore = router.plane.ipv4.count
        try router.selectTunnel(TunnelID(1), for: c(0))
        let after = tunnels()
        for (old, new) in zip(before, after) { #expect(new == (old == TunnelID(0) ? TunnelID(1) : old)) }
        #expect(router.plane.ipv4.count == lpmCountBefore)
        #expect(router.counters.prefixResyncs == 0)
        // Both tunnels of connection 0 down: /16s go to connection 1 (static), everything else to the default.
        try router.selectTunnel(nil, for: c(0))
        for sample in samples.prefix(2000) {
            let d = router.plane.decide(ipv4: sample.address, source: v4("198.18.0.1"), protocol: 6, destinationPort: 80, flowHash: 1)
            #expect(d.outcome == .forward && d.connection != c(0))
        }
    }

    /// Readers never see a half-made switch: while the writer flips connection 0 between its tunnels and down,
    /// every answer is one of the states the writer published.
    @Test func readersSeeEachSwitchWhole() async throws {
        let router = try TestGateway.router(
            connections: 2, dual: true,
            routes: [
                Route(prefix: prefix("198.19.0.0/16"), source: .static, connection: c(0)),
                Route(prefix: prefix("198.19.0.0/16"), source: .static, connection: c(1)),
            ])
        let plane = router.plane
        let stop = Atomic<Bool>(false)
        let violations = Atomic<Int>(0)
        let reads = Atomic<Int>(0)
        let address = v4("198.19.3.3")
        let reader = Task.detached {
            var hash: UInt32 = 0
            while !stop.load(ordering: .relaxed) {
                hash &+= 0x9E37_79B9
                let d = plane.decide(ipv4: address, source: address, protocol: 17, destinationPort: 1, flowHash: hash)
                // Allowed: c0 on tunnel 0 or 1, c1 on tunnel 2; never unrouted, never a tunnel of another connection.
                let ok = d.outcome == .forward
                    && ((d.connection == c(0) && d.tunnel.rawValue < 2) || (d.connection == c(1) && d.tunnel == TunnelID(2)))
                if !ok { violations.add(1, ordering: .relaxed) }
                reads.add(1, ordering: .relaxed)
            }
        }
        // Wait for the reader to run, then switch until both sides have done enough work side by side.
        while reads.load(ordering: .relaxed) == 0 { await Task.yield() }
        var round = 0
        // With TANDEM_TEST_UNDER_SANITIZER=1 (tools/lib/check-sanitizers: a debug build under ThreadSanitizer, a
        // hundred times slower) far less work: ThreadSanitizer needs the accesses to happen, not to collide.
        let underSanitizer = ProcessInfo.processInfo.environment["TANDEM_TEST_UNDER_SANITIZER"] == "1"
        let (rounds, wantedReads) = underSanitizer ? (1_000, 50_000) : (20_000, 1_000_000)
        while round < rounds || reads.load(ordering: .relaxed) < wantedReads {
            switch round % 3 {
            case 0: try router.selectTunnel(TunnelID(1), for: c(0))
            case 1: try router.selectTunnel(nil, for: c(0))
            default: try router.selectTunnel(TunnelID(0), for: c(0))
            }
            round += 1
        }
        stop.store(true, ordering: .relaxed)
        await reader.value
        #expect(violations.load(ordering: .relaxed) == 0)
        #expect(reads.load(ordering: .relaxed) > 0)
    }
}
