import Testing
import TandemPacket
@testable import TandemRouting

/// Source priority, metric, longest prefix and fallback, with withdraws in every order.
@Suite struct RouterPriorityTests {
    static let pairs: [(RouteSource, RouteSource)] = RouteSource.allCases.flatMap { higher in
        RouteSource.allCases.filter { $0 > higher }.map { (higher, $0) }
    }

    @Test("the higher-priority source wins, whichever was added first", arguments: pairs)
    func higherSourceWins(pair: (RouteSource, RouteSource)) throws {
        let (higher, lower) = pair
        for order in [[higher, lower], [lower, higher]] {
            let router = try TestGateway.router(connections: 4)
            // The higher source through c1, the lower through c2.
            for source in order {
                try router.add(Route(prefix: prefix("198.19.0.0/16"), source: source, connection: c(source == higher ? 1 : 2)))
            }
            #expect(router.connection(for: "198.19.7.7") == 1, "\(higher) over \(lower), added \(order)")
            let decision = router.decide("198.19.7.7")
            #expect(decision.origin == .destination(higher))
        }
    }

    @Test("withdrawing in every order promotes the next candidate and loses nothing", arguments: pairs)
    func withdrawOrders(pair: (RouteSource, RouteSource)) throws {
        let (higher, lower) = pair
        let target = prefix("2001:db8:100::/48")
        for withdrawHigherFirst in [true, false] {
            let router = try TestGateway.router(connections: 4)
            try router.add(Route(prefix: target, source: lower, connection: c(2)))
            try router.add(Route(prefix: target, source: higher, connection: c(1)))
            #expect(router.connection(for: "2001:db8:100::1") == 1)
            if withdrawHigherFirst {
                #expect(router.remove(target, source: higher, connection: c(1)))
                #expect(router.connection(for: "2001:db8:100::1") == 2)
                #expect(router.decide("2001:db8:100::1").origin == .destination(lower))
                #expect(router.remove(target, source: lower, connection: c(2)))
            } else {
                #expect(router.remove(target, source: lower, connection: c(2)))
                #expect(router.connection(for: "2001:db8:100::1") == 1)
                #expect(router.remove(target, source: higher, connection: c(1)))
            }
            #expect(router.decide("2001:db8:100::1").outcome == .noRoute)
            #expect(router.prefixCounts.installed == 0)
            #expect(router.groupCount == 0 && router.chainCount == 0, "nothing leaks")
        }
    }

    @Test func lowerMetricWinsWithinASource() throws {
        let router = try TestGateway.router(connections: 3)
        try router.add(Route(prefix: prefix("198.19.0.0/16"), source: .static, connection: c(0), metric: 20))
        try router.add(Route(prefix: prefix("198.19.0.0/16"), source: .static, connection: c(1), metric: 10))
        #expect(router.connection(for: "198.19.1.1") == 1)
        // A better source beats a better metric.
        try router.add(Route(prefix: prefix("198.19.0.0/16"), source: .system, connection: c(2), metric: 99))
        #expect(router.connection(for: "198.19.1.1") == 2)
        #expect(router.routes(of: prefix("198.19.0.0/16")).map(\.connection) == [c(2), c(1), c(0)])
    }

    @Test func longestPrefixWinsBeforeSource() throws {
        let router = try TestGateway.router(connections: 2)
        try router.add(Route(prefix: prefix("198.18.0.0/15"), source: .specific, connection: c(0)))
        try router.add(Route(prefix: prefix("198.19.4.0/24"), source: .dynamic, connection: c(1)))
        #expect(router.connection(for: "198.19.4.9") == 1)
        #expect(router.connection(for: "198.19.5.9") == 0)
        #expect(router.decide("203.0.113.1").outcome == .noRoute)
    }

    @Test func replacingARouteKeepsOneCopy() throws {
        let router = try TestGateway.router(connections: 2)
        let route = Route(prefix: prefix("198.19.0.0/16"), source: .static, connection: c(0), metric: 5)
        try router.add(route)
        try router.add(route)
        var changed = route
        changed.metric = 7
        try router.add(changed)
        #expect(router.routes(of: route.prefix) == [changed])
        #expect(router.routeCount(.static) == 1)
        #expect(!router.remove(route.prefix, source: .dynamic, connection: c(0)))
    }

    @Test("both tunnels down: routes fall back to the next source, then to a less specific prefix")
    func fallbackWhenAConnectionGoesDown() throws {
        let router = try TestGateway.router(connections: 3, dual: true)
        try router.add(Route(prefix: prefix("198.19.0.0/16"), source: .static, connection: c(0)))
        try router.add(Route(prefix: prefix("198.19.0.0/16"), source: .dynamic, connection: c(1)))
        try router.add(Route(prefix: prefix("198.18.0.0/15"), source: .static, connection: c(2)))
        #expect(router.decide("198.19.1.1").tunnel == TunnelID(0))
        // The active tunnel of c0 fails: same connection, its standby tunnel.
        try router.selectTunnel(TunnelID(1), for: c(0))
        #expect(router.decide("198.19.1.1").tunnel == TunnelID(1))
        #expect(router.decide("198.19.1.1").origin == .destination(.static))
        // Both tunnels of c0 down: the dynamic route through c1 takes over.
        try router.selectTunnel(nil, for: c(0))
        #expect(router.connection(for: "198.19.1.1") == 1)
        #expect(router.decide("198.19.1.1").origin == .destination(.dynamic))
        // c1 down too: the /16 has no live candidate and leaves the FIB; the /15 through c2 answers.
        try router.selectTunnel(nil, for: c(1))
        #expect(router.connection(for: "198.19.1.1") == 2)
        #expect(router.counters.prefixResyncs == 1)
        // c2 down: nothing is left.
        try router.selectTunnel(nil, for: c(2))
        #expect(router.decide("198.19.1.1").outcome == .noRoute)
        // Recovery in reverse brings each back.
        try router.selectTunnel(TunnelID(4), for: c(2))
        #expect(router.connection(for: "198.19.1.1") == 2)
        try router.selectTunnel(TunnelID(3), for: c(1))
        #expect(router.connection(for: "198.19.1.1") == 1)
        #expect(router.decide("198.19.1.1").tunnel == TunnelID(3), "c1's standby tunnel was selected")
        try router.selectTunnel(TunnelID(0), for: c(0))
        #expect(router.decide("198.19.1.1").tunnel == TunnelID(0))
    }

    @Test func selectingATunnelOfAnotherConnectionIsRefused() throws {
        let router = try TestGateway.router(connections: 2, dual: true)
        #expect(throws: RoutingError.tunnelNotInConnection(TunnelID(2), connection: "c0")) {
            try router.selectTunnel(TunnelID(2), for: c(0))
        }
        #expect(throws: RoutingError.unknownConnection(c(9))) { try router.selectTunnel(nil, for: c(9)) }
        #expect(router.selectedTunnel(of: c(0)) == TunnelID(0))
    }
}

/// Routes learned from a routing daemon: no default route, a quota.
@Suite struct LearnedRouteTests {
    @Test func dynamicDefaultRoutesAreRefusedAndCounted() throws {
        let router = try TestGateway.router(connections: 1)
        #expect(try router.learn(prefix("0.0.0.0/0"), via: c(0)) == .refusedDefaultRoute)
        #expect(try router.learn(prefix("::/0"), via: c(0)) == .refusedDefaultRoute)
        #expect(router.counters.refusedDynamicDefaults == 2)
        #expect(router.decide("198.19.0.1").outcome == .noRoute)
        // A configured default route is fine.
        try router.add(Route(prefix: prefix("0.0.0.0/0"), source: .static, connection: c(0)))
        #expect(router.connection(for: "198.19.0.1") == 0)
    }

    @Test func learningInABatchEndsWithTheSameForwardingAsOneRouteAtATime() throws {
        let batched = try TestGateway.router(connections: 2, quota: 100)
        let single = try TestGateway.router(connections: 2, quota: 100)
        // Learned, moved to the other connection, withdrawn and learned again, in one batch: the inserts wait, the
        // withdrawal makes them first.
        func learnAll(_ router: Router) throws {
            for third in 0..<20 { _ = try router.learn(prefix("198.19.\(third).0/24"), via: c(third % 2)) }
            _ = try router.learn(prefix("198.19.0.0/16"), via: c(1))
            _ = try router.learn(prefix("2001:db8:5::/48"), via: c(0))
            #expect(router.withdraw(prefix("198.19.3.0/24"), via: c(1)))
            _ = try router.learn(prefix("198.19.3.0/24"), via: c(0))
            #expect(router.withdraw(prefix("198.19.4.0/24"), via: c(0)))
        }
        var failure: (any Error)?
        batched.batchingInserts {
            do { try learnAll(batched) } catch { failure = error }
            // Inside the batch the RIB has changed, the forwarding plane not yet.
            #expect(batched.routes(of: prefix("198.19.5.0/24")).count == 1)
        }
        #expect(failure == nil)
        try learnAll(single)
        for address in ["198.19.0.1", "198.19.1.1", "198.19.3.1", "198.19.4.1", "198.19.19.1", "198.19.200.1", "2001:db8:5::1"] {
            #expect(batched.connection(for: address) == single.connection(for: address), "\(address)")
        }
        #expect(batched.connection(for: "198.19.4.1") == 1)
        #expect(batched.prefixCounts == single.prefixCounts)
    }

    @Test func routesPastTheQuotaAreRefused() throws {
        let router = try TestGateway.router(connections: 2, quota: 3)
        for third in 0..<3 { #expect(try router.learn(prefix("198.19.\(third).0/24"), via: c(0)) == .installed) }
        #expect(try router.learn(prefix("198.19.9.0/24"), via: c(0)) == .refusedOverQuota(quota: 3))
        #expect(router.counters.refusedDynamicOverQuota == 1)
        #expect(router.decide("198.19.9.1").outcome == .noRoute)
        // Re-announcing a known route is an update, not a new route.
        #expect(try router.learn(prefix("198.19.0.0/24"), via: c(0), metric: 5) == .installed)
        // A withdraw frees room.
        #expect(router.withdraw(prefix("198.19.1.0/24"), via: c(0)))
        #expect(try router.learn(prefix("198.19.9.0/24"), via: c(1)) == .installed)
        #expect(router.connection(for: "198.19.9.1") == 1)
        #expect(router.dynamicRouteCount == 3)
        // Static routes do not count.
        try router.add(Route(prefix: prefix("198.18.0.0/24"), source: .static, connection: c(0)))
        #expect(router.dynamicRouteCount == 3)
    }
}
