import TandemConfig
import TandemKernelFake
import TandemLinux
import TandemPacket
import TandemRouting
import Testing

@testable import TandemDaemon

/// Learned routes past `limits.dynamic-routes` wait for room and are taken in arrival order when learned routes are
/// withdrawn or a reload raises the quota; their counts are in `show status` and the metrics (issue 12: they used
/// to be dropped until a resync).
@Suite("learned routes waiting at the quota")
struct LearningQuotaTests {
    static func yaml(quota: Int) -> String { GatewayFixture.yaml + "\nlimits: {dynamic-routes: \(quota)}\n" }

    @Test func theQueueKeepsArrivalOrderAndForgetsWithdrawnRoutes() {
        var queue = PendingLearnedRoutes()
        let prefixes = (0..<4).map { GatewayFixture.prefix("198.21.\($0).0/24") }
        // (Results bound first: #expect cannot call a mutating method.)
        let added = prefixes.map { queue.add($0, connection: "c1", tunnel: "a1") }
        #expect(added == [true, true, true, true])
        let again = queue.add(prefixes[1], connection: "c1", tunnel: "a2")
        #expect(!again, "announced again via another tunnel: keeps its place")
        let removed = queue.remove(prefixes[0], connection: "c1")
        let readded = queue.add(prefixes[0], connection: "c1", tunnel: "a1")
        #expect(removed && readded, "withdrawn and announced again: to the end")
        #expect(queue.inOrder.map(\.prefix) == [prefixes[1], prefixes[2], prefixes[3], prefixes[0]])
        let first = queue.removeFirst()
        #expect(first?.prefix == prefixes[1] && first?.tunnel == "a2")
        #expect(queue.count == 3)
        var rest: [RoutePrefix] = []
        while let next = queue.removeFirst() { rest.append(next.prefix) }
        #expect(rest == [prefixes[2], prefixes[3], prefixes[0]])
        #expect(queue.isEmpty)
    }

    @Test func churnDoesNotGrowTheQueue() {
        var queue = PendingLearnedRoutes()
        let prefix = GatewayFixture.prefix("198.21.0.0/24")
        for _ in 0..<100_000 {
            queue.add(prefix, connection: "c1", tunnel: "a1")
            queue.remove(prefix, connection: "c1")
        }
        queue.add(prefix, connection: "c1", tunnel: "a1")
        #expect(queue.inOrder.count == 1 && queue.count == 1)
    }

    @Test func routesPastTheQuotaWaitAndAreTakenInOrderWhenRoomFrees() throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.started(Self.yaml(quota: 3))
        let routes = (0..<5).map { fixture.birdRoute($0) }
        for route in routes { fixture.kernel.install(route) }
        gateway.readNotifications(from: fixture.kernel)
        #expect(Set(gateway.state.learned.keys) == Set(routes[0..<3].map(\.prefix)))
        #expect(gateway.state.overQuota.inOrder.map(\.prefix) == [routes[3].prefix, routes[4].prefix])
        #expect(fixture.remote["\(routes[3].prefix)"] == nil)

        // BIRD withdraws a waiting route: it stops waiting, nothing else moves.
        fixture.kernel.uninstall(routes[3])
        gateway.readNotifications(from: fixture.kernel)
        #expect(gateway.state.overQuota.count == 1)
        #expect(gateway.state.learned.count == 3)
        // BIRD withdraws a learned route: the one that waited is learned and routed into Tandem.
        fixture.kernel.uninstall(routes[0])
        gateway.readNotifications(from: fixture.kernel)
        #expect(Set(gateway.state.learned.keys) == Set([routes[1], routes[2], routes[4]].map(\.prefix)))
        #expect(gateway.state.overQuota.isEmpty)
        #expect(fixture.remote["\(routes[4].prefix)"] != nil)
        #expect(fixture.remote["\(routes[0].prefix)"] == nil)
    }

    @Test func theCountsAreInShowStatusAndTheMetrics() throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.started(Self.yaml(quota: 2))
        for index in 0..<5 { fixture.kernel.install(fixture.birdRoute(index)) }
        fixture.kernel.install(
            KernelRoute(
                prefix: GatewayFixture.prefix("0.0.0.0/0"), table: 254, protocol: 12,
                target: .gateway(.v4(try IPv4Address("198.18.1.2")), device: fixture.kernel.interfaceIndex(named: "gw-a")!)))
        gateway.readNotifications(from: fixture.kernel)
        let text = StatusTests.view(gateway).status(json: false)
        #expect(text.contains(
            "learning: 2 learned, 3 waiting for room under the quota of 2 (limits.dynamic-routes); refused so far: "
                + "1 default, 3 over the quota; 2 path(s)"))
        let json = try StatusTests.json(StatusTests.view(gateway).status(json: true))
        let learning = try #require(json["learning"] as? [String: Int])
        #expect(
            learning == [
                "learned": 2, "paths": 2, "overlapping": 0, "waiting": 3, "quota": 2, "refusedDefaults": 1,
                "refusedOverQuota": 3,
            ])
        let metrics = DaemonMetrics()
        var snapshot = MetricsSnapshot()
        snapshot.waitingLearnedRoutes = gateway.state.overQuota.count
        metrics.update(snapshot)
        #expect(DaemonMetricsTests.lines(metrics).contains("tandem_learned_routes_waiting 3.0"))
    }

    @Test func aReloadThatLowersTheQuotaMakesRoutesWaitAndOneThatRaisesItTakesThem() throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.started(Self.yaml(quota: 4))
        let routes = (0..<6).map { fixture.birdRoute($0) }
        for route in routes { fixture.kernel.install(route) }
        gateway.readNotifications(from: fixture.kernel)
        #expect(gateway.state.learned.count == 4 && gateway.state.overQuota.count == 2)
        try gateway.reload(to: try GatewayFixture.config(Self.yaml(quota: 3))) { _ in }
        #expect(gateway.state.learned.count == 3)
        // The learned ones left over wait first (by prefix), then those that waited already, in their order.
        #expect(gateway.state.overQuota.inOrder.map(\.prefix) == [routes[3], routes[4], routes[5]].map(\.prefix))
        #expect(fixture.remote["\(routes[3].prefix)"] == nil)
        try gateway.reload(to: try GatewayFixture.config(Self.yaml(quota: 10))) { _ in }
        #expect(Set(gateway.state.learned.keys) == Set(routes.map(\.prefix)))
        #expect(gateway.state.overQuota.isEmpty)
        #expect(routes.allSatisfy { fixture.remote["\($0.prefix)"] != nil })
    }
}
