import TandemPacket
import TandemRouting
import Testing

@testable import TandemConfig

/// From the YAML file to forwarding decisions: the examples compile, and the dual-tunnel example fails over and
/// back when its probes say so.
@Suite struct ConfigRoutingTests {
    static let examples = ["dual-tunnel.yaml", "ecmp-four-connections.yaml", "bgp-gateway.yaml"]

    static func load(_ example: String) throws -> GatewayConfig {
        try GatewayConfig.load(path: Check.repositoryRoot + "/examples/" + example)
    }

    @Test("each example compiles to the groups and routes the configuration describes", arguments: examples)
    func examplesCompile(example: String) throws {
        let config = try Self.load(example)
        let (router, _) = try config.makeRouter(at: .zero)
        #expect(router.groupCount == config.nextHopSetCount)
        // Each BGP tunnel's inside /30 is a system route too, derived (issue 12).
        let derived = config.derivedSystemRoutes
        #expect(derived.count == config.tunnels.count { $0.bgp != nil })
        for source in [RouteSource.specific, .system, .static] {
            let written = config.routes.filter { $0.source == source }.count
            #expect(router.routeCount(source) == written + (source == .system ? derived.count : 0))
        }
        #expect(router.prefixCounts.installed == Set(config.routes.map(\.prefix) + derived.map(\.prefix)).count)
    }

    /// `preempt: false` reaches the routing layer: the standby keeps the traffic after the active recovers, the
    /// summary says so, and a single-tunnel connection with it is warned about (issue 12).
    @Test func preemptFalseKeepsTheStandbyAfterAFailover() throws {
        let yaml = try String(contentsOfFile: Check.repositoryRoot + "/examples/dual-tunnel.yaml", encoding: .utf8)
            .replacingOccurrences(of: "preempt-delay: 10s", with: "preempt: false")
        let config = try GatewayConfig.parse(yaml: yaml, file: "gw.yaml")
        #expect(!config.connections[0].preempt && config.connections[0].failbackDelay == nil)
        #expect(config.summary(file: "gw.yaml").contains("to-cloud: dual a1/a2, no preempt"))
        let clock = ManualClock()
        let (router, controller) = try config.makeRouter(at: clock.now())
        var failover = controller
        let a1 = TunnelID(0)
        let check = try #require(config.tunnels[0].healthCheck)
        for _ in 0..<check.downCount {
            clock.advance(by: check.interval)
            _ = try failover.record(.failure(.timeout), for: a1, at: clock.now(), router: router)
        }
        #expect(router.selectedTunnel(of: ConnectionID(0)) == TunnelID(1))
        for _ in 0..<check.upCount {
            clock.advance(by: check.interval)
            _ = try failover.record(.success, for: a1, at: clock.now(), router: router)
        }
        #expect(failover.nextDeadline() == nil)
        _ = try failover.advance(to: clock.now() + .seconds(3600), router: router)
        #expect(router.selectedTunnel(of: ConnectionID(0)) == TunnelID(1), "still on the standby an hour later")

        let single = """
            gateway: {name: gw}
            tunnels: [{name: t1, device: tnd-t1, peer: 198.18.10.1}]
            connections: [{name: c1, tunnels: [t1], preempt: false}]
            routes: [{prefix: 198.19.0.0/16, connection: c1}]
            """
        let warned = try GatewayConfig.parse(yaml: single, file: "gw.yaml").warnings.map(\.message)
        #expect(warned.contains { $0.hasPrefix("'preempt: false' has no effect on connection 'c1'") })
    }

    @Test func dualTunnelExampleFailsOverOnProbesAndFailsBackAfterThePreemptDelay() throws {
        let config = try Self.load("dual-tunnel.yaml")
        let clock = ManualClock()
        var (router, controller) = try config.makeRouter(at: clock.now())
        let a1 = TunnelID(0)
        let a2 = TunnelID(1)
        func tunnel() -> TunnelID? {
            let decision = router.plane.decide(
                ipv4: try! IPv4Address("198.19.1.1"), source: try! IPv4Address("198.18.5.5"), protocol: 17,
                destinationPort: 53, flowHash: 7)
            return decision.outcome == .forward ? decision.tunnel : nil
        }
        #expect(tunnel() == a1)
        let check = try #require(config.tunnels[0].healthCheck)
        // down-count - 1 failures: still on a1.
        for _ in 1..<check.downCount {
            clock.advance(by: check.interval)
            _ = try controller.record(.failure(.timeout), for: a1, at: clock.now(), router: router)
            #expect(tunnel() == a1)
        }
        clock.advance(by: check.interval)
        let events = try controller.record(.failure(.timeout), for: a1, at: clock.now(), router: router)
        #expect(tunnel() == a2, "the down-count-th failure moves traffic to the standby")
        #expect(events.contains { if case .selectionChanged(.active, .standby) = $0.event.kind { true } else { false } })
        // a1 recovers: up after up-count successes, but traffic stays on a2 for the preempt delay.
        for _ in 0..<check.upCount {
            clock.advance(by: check.interval)
            _ = try controller.record(.success, for: a1, at: clock.now(), router: router)
        }
        #expect(tunnel() == a2)
        let deadline = try #require(controller.nextDeadline())
        #expect(deadline == clock.now() + config.connections[0].preemptDelay)
        _ = try controller.advance(to: deadline + .nanoseconds(-1), router: router)
        #expect(tunnel() == a2)
        _ = try controller.advance(to: deadline, router: router)
        #expect(tunnel() == a1, "back on the active tunnel after the preempt delay")
        // Both down: the connection leaves its group and its routes have nowhere to go.
        for _ in 0..<check.downCount {
            clock.advance(by: check.interval)
            _ = try controller.record(.failure(.timeout), for: a1, at: clock.now(), router: router)
            _ = try controller.record(.failure(.error), for: a2, at: clock.now(), router: router)
        }
        #expect(tunnel() == nil)
        #expect(router.selectedTunnel(of: ConnectionID(0)) == nil)
        _ = router
    }

    @Test func ecmpSettingsReachTheRouter() throws {
        let config = try Self.load("ecmp-four-connections.yaml")
        #expect(config.flowHashPolicy.symmetric == config.ecmp.symmetric)
        let routing = config.routerConfiguration()
        #expect(routing.bucketsPerGroup == config.ecmp.buckets)
        #expect(routing.connections.count == 4 && routing.connections.allSatisfy { $0.tunnels.count == 1 })
        #expect(routing.dynamicRouteQuota == config.limits.dynamicRoutes)
    }

    /// Loading is all or nothing: a bad file yields every error and the configuration in force stays.
    @Test func aBadReloadChangesNothing() throws {
        let good = try Self.load("dual-tunnel.yaml")
        let (router, _) = try good.makeRouter(at: .zero)
        let broken = """
            gateway:
              name: site-a
            tunnels:
              - name: a1
                device: tnd-a1
                peer: 198.18.10.1
            connections:
              - name: c1
                tunnels: [a1]
            routes:
              - prefix: 198.19.0.0/16
                connection: c9
              - prefix: 198.19.1.1/24
                connection: c1
            """
        #expect(throws: ConfigErrors.self) { try GatewayConfig.parse(yaml: broken, file: "gw.yaml") }
        #expect(Check.errors(broken).count == 2)
        // The router built from the good file still routes as before.
        #expect(router.routes(of: try RoutePrefix("198.19.0.0/16")).count == 1)
        #expect(router.prefixCounts.installed == 4)
    }
}
