import TandemConfig
import TandemKernelFake
import TandemLinux
import TandemPacket
import TandemRouting
import Testing
import TandemDatasets

#if canImport(Glibc)
import Glibc
#endif

@testable import TandemDaemon

/// A gateway's core on a fake kernel with a manual clock: start, restart after a crash, refusals and retries, two
/// instances, learning and lost notifications, a deleted ingress device, reloads, kernel-mode failover. No root.
struct GatewayFixture {
    static let yaml = """
        gateway: {name: gw, ingress: tnd-in}
        linux: {protocol: 77, table: 100, rule-priority: 900}
        tunnels:
          - name: a1
            device: tnd-a1
            interface: gw-a
            next-hop-ipv4: 198.18.1.2
            next-hop-ipv6: 2001:db8:1::2
            peer: 198.18.1.2
            health-check: {source: 198.18.1.1, destination: 198.18.1.2, interval: 20ms, timeout: 20ms, down-count: 3, up-count: 3}
          - name: a2
            device: tnd-a2
            interface: gw-b
            next-hop-ipv4: 198.18.2.2
            next-hop-ipv6: 2001:db8:2::2
            peer: 198.18.2.2
            health-check: {source: 198.18.2.1, destination: 198.18.2.2, interval: 20ms, timeout: 20ms, down-count: 3, up-count: 3}
        connections: [{name: c1, tunnels: [a1, a2]}]
        routes:
          - {prefix: 198.19.0.0/16, connection: c1}
          - {prefix: 2001:db8:100::/48, connection: c1}
        learning: {table: 254, protocols: [bird]}
        """

    let kernel: FakeKernel
    let clock = ManualClock(start: MonotonicInstant(nanoseconds: 1_000_000_000))
    let logBuffer = LogOutput.Buffer()
    var ingressIndex: UInt32 = 0

    init(kernel: FakeKernel = FakeKernel()) {
        self.kernel = kernel
        kernel.addLink("gw-a")
        kernel.addLink("gw-b")
        ingressIndex = kernel.addLink("tnd-in")
    }

    static func config(_ text: String = yaml) throws -> GatewayConfig {
        try GatewayConfig.parse(yaml: text, file: "gw.yaml")
    }

    func gateway(_ text: String = yaml) throws -> Gateway {
        try Gateway(
            config: try Self.config(text), kernel: kernel, clock: clock, log: EventLog(output: logBuffer.output),
            metrics: DaemonMetrics())
    }

    func started(_ text: String = yaml) throws -> Gateway {
        let gateway = try gateway(text)
        try gateway.checkHost()
        try gateway.learnInitialRoutes()
        try gateway.start(ingressIndex: ingressIndex)
        return gateway
    }

    var log: String { logBuffer.lines.joined() }

    /// A flap of `device` that `gateway` reads as one batch of notifications (down, then up), as when its control
    /// thread was busy: the fake kernel flushes the device's neighbour entries on the way down.
    func flapInOneRead(_ device: String, _ gateway: Gateway) {
        let index = kernel.interfaceIndex(named: device)!
        kernel.setLink(device, up: false)
        kernel.setLink(device, up: true)
        gateway.handle([LinkState(name: device, index: index, up: false), LinkState(name: device, index: index, up: true)])
    }

    /// Tandem's table (100), which is aggregated: `remote["198.19.0.0/16"]` is the route the kernel picks for the
    /// prefix's first address, if it picks a route of the same target for its last address (nil otherwise).
    var remote: TandemTable { TandemTable(routes: kernel.table(100)) }

    /// Whether Tandem's table routes the addresses of `prefixes` and no other: the first and last address of each
    /// of them and of each route, and the addresses just outside them.
    func tandemTableRoutesExactly(_ prefixes: Set<RoutePrefix>) -> Bool {
        let table = remote
        let wanted = TandemTable(routes: Dictionary(uniqueKeysWithValues: prefixes.map {
            ($0, KernelRoute(prefix: $0, table: 100, protocol: 77, target: .device(ingressIndex)))
        }))
        return prefixes.union(table.routes.keys).allSatisfy { prefix in
            AddressSamples.edges(of: prefix).allSatisfy { (table.route(for: $0) != nil) == (wanted.route(for: $0) != nil) }
        }
    }

    func tandemRules() -> [RoutingRule] { kernel.installedRules.filter { $0.protocol == 77 } }

    static func prefix(_ text: String) -> RoutePrefix { try! RoutePrefix(text) }

    /// The gateway with room for a full table of learned routes.
    static let fullTableYAML = yaml + "\nlimits: {dynamic-routes: 1000000}\n"

    /// Ticks until a resync's batches are all applied; returns how many ticks it took.
    @discardableResult
    func finishResync(_ gateway: Gateway) -> Int {
        var ticks = 0
        while gateway.state.learning.hasBatch {
            gateway.tick()
            ticks += 1
        }
        return ticks
    }

    /// A route BIRD installs in the main table through tunnel a1's interface: 198.18.0.0/15 is cut into /28s.
    func birdRoute(_ index: Int) -> KernelRoute {
        let address = IPv4Address(rawValue: 0xC612_0000 | UInt32(index) << 4)
        return KernelRoute(
            prefix: .v4(IPv4Prefix(normalizing: address, length: 28)), table: 254, protocol: 12,
            target: .gateway(.v4(try! IPv4Address("198.18.1.2")), device: kernel.interfaceIndex(named: "gw-a")!))
    }

    /// The prefixes BIRD's routes hold in the fake kernel's main table, and those Tandem learned.
    func birdPrefixes() -> Set<RoutePrefix> { Set(kernel.table(254).values.filter { $0.protocol == 12 }.map(\.prefix)) }
}

@Suite("gateway core on a fake kernel")
struct GatewayTests {
    @Test func startPutsTheConfiguredStateInTheKernelAndSaysReady() throws {
        let fixture = GatewayFixture()
        var ready: String?
        let gateway = try fixture.gateway()
        gateway.onReady = { ready = $0 }
        try gateway.start(ingressIndex: fixture.ingressIndex)
        #expect(fixture.tandemRules().count == 10)
        #expect(fixture.remote.count == 2)
        #expect(fixture.remote["198.19.0.0/16"]?.target == .device(fixture.ingressIndex))
        // Each tunnel table: default routes both families and host routes to the next hops.
        #expect(fixture.kernel.table(101).count == 4)
        #expect(gateway.isReady)
        #expect(ready?.contains("2 remote prefix(es)") == true)
    }

    @Test func aRestartAfterACrashLeavesExactlyOneCopyAndNothingStale() throws {
        let fixture = GatewayFixture()
        _ = try fixture.started()
        // A crash mid-reload left a rule and a route of a tunnel that is gone, and a duplicate rule.
        let staleRule = RoutingRule(family: .ipv4, priority: 900, inputDevice: "tnd-old", table: 103, protocol: 77)
        _ = try fixture.kernel.refusals(applying: [staleRule], remove: false)
        let staleRoute = KernelRoute(
            prefix: GatewayFixture.prefix("198.20.0.0/24"), table: 100, protocol: 77, target: .device(fixture.ingressIndex))
        _ = try fixture.kernel.refusals(applying: [.add(staleRoute, replace: true)])
        let before = fixture.tandemRules().count
        _ = try fixture.started()
        #expect(fixture.tandemRules().count == before - 1)
        #expect(!fixture.tandemRules().contains(staleRule))
        #expect(fixture.remote.count == 2)
        #expect(fixture.remote["198.20.0.0/24"] == nil)
    }

    @Test func aRefusedRouteIsPendingRetriedWithBackoffAndReadyComesOnlyWhenItIsIn() throws {
        let fixture = GatewayFixture()
        // A foreign route in the way: the kernel refuses Tandem's IPv4 remote route for now.
        fixture.kernel.refuse(EEXIST, times: 2) { change in
            if case .route(.add(let route, _)) = change { return route.prefix == GatewayFixture.prefix("198.19.0.0/16") }
            return false
        }
        let gateway = try fixture.started()
        #expect(!gateway.isReady)
        #expect(gateway.state.pending.remote == [GatewayFixture.prefix("198.19.0.0/16")])
        #expect(fixture.remote["198.19.0.0/16"] == nil)
        #expect(fixture.log.contains("not ready: 1 missing: 1 remote route(s)"))
        // Not before its time; the second try is refused too, and the back-off doubles.
        gateway.tick()
        #expect(gateway.state.pending.attempts == 0)
        fixture.clock.advance(by: .seconds(1))
        gateway.tick()
        #expect(gateway.state.pending.attempts == 1)
        #expect(!gateway.isReady)
        let second = try #require(gateway.state.pending.retryAt)
        #expect(second - fixture.clock.now().nanoseconds == 2_000_000_000)
        fixture.clock.advance(by: .seconds(2))
        gateway.tick()
        #expect(gateway.isReady)
        #expect(gateway.state.pending.isEmpty)
        #expect(fixture.remote["198.19.0.0/16"]?.target == .device(fixture.ingressIndex))
    }

    @Test func anUnreachableGatewayInATunnelTableIsPendingNotFatal() throws {
        let fixture = GatewayFixture()
        fixture.kernel.refuse(ENETUNREACH, times: 1) { change in
            if case .route(.add(let route, _)) = change { return route.table == 101 && route.prefix.isDefault }
            return false
        }
        let gateway = try fixture.started()
        #expect(gateway.state.pending.tunnelRoutes.count == 1)
        #expect(!gateway.isReady)
        fixture.clock.advance(by: .seconds(1))
        gateway.tick()
        #expect(gateway.isReady)
        #expect(fixture.kernel.table(101).count == 4)
    }

    @Test func aSecondInstanceNeverReconcilesTheFirstOnesRulesOrRoutesAway() throws {
        let fixture = GatewayFixture()
        _ = try fixture.started()
        let first = fixture.tandemRules()
        let firstRoutes = fixture.remote
        // Same protocol, its own ingress, table and rule priority band (900 to 1001 is the first one's), another
        // remote prefix.
        fixture.kernel.addLink("tnd-in2")
        let second = GatewayFixture.yaml
            .replacingOccurrences(of: "ingress: tnd-in", with: "ingress: tnd-in2")
            .replacingOccurrences(of: "table: 100, rule-priority: 900", with: "table: 110, rule-priority: 1200")
            .replacingOccurrences(of: "tnd-a", with: "tnd-b")
            .replacingOccurrences(of: "198.19.0.0/16", with: "198.19.64.0/18")
        let other = try fixture.gateway(second)
        try other.start(ingressIndex: fixture.kernel.interfaceIndex(named: "tnd-in2")!)
        #expect(Set(first).isSubset(of: Set(fixture.tandemRules())))
        #expect(fixture.remote == firstRoutes)
        other.removeEverything()
        #expect(Set(fixture.tandemRules()) == Set(first))
        #expect(fixture.remote == firstRoutes)
    }

    @Test func learnedRoutesFollowNotificationsAndALostNotificationIsResynced() throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.started()
        let gwA = fixture.kernel.interfaceIndex(named: "gw-a")!
        func bird(_ prefix: String) -> KernelRoute {
            KernelRoute(
                prefix: GatewayFixture.prefix(prefix), table: 254, protocol: 12,
                target: .gateway(.v4(try! IPv4Address("198.18.1.2")), device: gwA))
        }
        fixture.kernel.install(bird("198.21.0.0/16"))
        gateway.readNotifications(from: fixture.kernel)
        #expect(fixture.remote["198.21.0.0/16"] != nil)
        #expect(gateway.state.learned[GatewayFixture.prefix("198.21.0.0/16")]?.tunnels == ["a1"])
        // The socket overflows: one install and one withdrawal lost; ENOBUFS makes a dump.
        fixture.kernel.install(bird("198.22.0.0/16"))
        fixture.kernel.uninstall(bird("198.21.0.0/16"))
        fixture.kernel.loseNotifications()
        gateway.readNotifications(from: fixture.kernel)
        fixture.finishResync(gateway)
        #expect(fixture.remote["198.22.0.0/16"] != nil)
        #expect(fixture.remote["198.21.0.0/16"] == nil)
        #expect(fixture.log.contains("ENOBUFS"))
        // A default route is refused.
        fixture.kernel.install(bird("0.0.0.0/0"))
        gateway.readNotifications(from: fixture.kernel)
        #expect(fixture.remote["0.0.0.0/0"] == nil)
    }

    /// BGP puts the peer's inside address as the next hop; the device the routing daemon writes may be one no
    /// tunnel names as its interface (the inside /30 lives on the tunnel's own device), or even another tunnel's.
    /// The inside /30 decides, before the device (issue 12).
    @Test func aLearnedNextHopInsideATunnelsInsideCIDRLeadsToThatTunnel() throws {
        let yaml = """
            gateway: {name: gw, ingress: tnd-in, local-asn: 65000}
            linux: {protocol: 77, table: 100, rule-priority: 900}
            tunnels:
              - {name: b1, device: tnd-b1, interface: gw-a, peer: 198.18.1.2, routing: bgp, bgp: {inside-cidr: 169.254.10.0/30, peer-asn: 65100}}
              - {name: b2, device: tnd-b2, interface: gw-b, peer: 198.18.2.2, routing: bgp, bgp: {inside-cidr: 169.254.20.0/30, peer-asn: 65100}}
            connections: [{name: c1, tunnels: [b1]}, {name: c2, tunnels: [b2]}]
            learning: {table: 254, protocols: [bird]}
            """
        let fixture = GatewayFixture()
        let gateway = try fixture.started(yaml)
        let gwA = fixture.kernel.interfaceIndex(named: "gw-a")!
        let elsewhere = fixture.kernel.addLink("tnd-b2-inside")
        let peerB2 = AnyIPAddress.v4(try IPv4Address("169.254.20.1"))
        func bird(_ prefix: String, _ target: KernelRoute.Target) -> KernelRoute {
            KernelRoute(prefix: GatewayFixture.prefix(prefix), table: 254, protocol: 12, target: target)
        }
        fixture.kernel.install(bird("198.21.0.0/16", .gateway(peerB2, device: elsewhere)))
        fixture.kernel.install(bird("198.22.0.0/16", .gateway(peerB2, device: gwA)))
        fixture.kernel.install(bird("198.23.0.0/16", .multipath([KernelRoute.Hop(device: elsewhere, gateway: peerB2)])))
        gateway.readNotifications(from: fixture.kernel)
        for prefix in ["198.21.0.0/16", "198.22.0.0/16", "198.23.0.0/16"] {
            #expect(gateway.state.learned[GatewayFixture.prefix(prefix)]?.tunnels == ["b2"], "\(prefix)")
        }
    }

    @Test func learnedNeighboursAreOneRouteInTandemsTableAndSplitAgainWhenOneIsWithdrawn() throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.started(GatewayFixture.fullTableYAML)
        let pair = GatewayFixture.prefix("198.18.0.0/27")
        fixture.kernel.install(fixture.birdRoute(0))
        fixture.kernel.install(fixture.birdRoute(1))
        gateway.readNotifications(from: fixture.kernel)
        #expect(gateway.state.learned.count == 2)
        // Two /28s of one target (the ingress device) are their /27, and the /28s are not there on their own.
        #expect(fixture.kernel.table(100)[pair]?.target == .device(fixture.ingressIndex))
        #expect(fixture.kernel.table(100)[fixture.birdRoute(0).prefix] == nil)
        #expect(fixture.tandemTableRoutesExactly(fixture.birdPrefixes().union(KernelPlan.configuredPrefixes(of: gateway.config))))
        fixture.kernel.uninstall(fixture.birdRoute(1))
        gateway.readNotifications(from: fixture.kernel)
        #expect(fixture.kernel.table(100)[pair] == nil)
        #expect(fixture.kernel.table(100)[fixture.birdRoute(0).prefix]?.target == .device(fixture.ingressIndex))
        #expect(fixture.remote["\(fixture.birdRoute(1).prefix)"] == nil)
        #expect(fixture.tandemTableRoutesExactly(fixture.birdPrefixes().union(KernelPlan.configuredPrefixes(of: gateway.config))))
        #expect(gateway.state.installedRemote.count == fixture.kernel.table(100).count)
    }

    /// The routes at start as the daemon's dump thread hands them over, in chunks. A dump the kernel flagged
    /// inconsistent (the table changed during the walk) is made up for by a resync: the table dumped again.
    @Test(arguments: [true, false])
    func learningAtStartTakesTheDumpInChunks(consistent: Bool) throws {
        let fixture = GatewayFixture()
        let routes = (0..<100).map { fixture.birdRoute($0) }
        for route in routes { fixture.kernel.install(route) }
        let gateway = try fixture.gateway(GatewayFixture.fullTableYAML)
        try gateway.checkHost()
        let dumps = fixture.kernel.dumps
        try gateway.learnInitialRoutes(
            from: Chunks([Array(routes[0..<40]), Array(routes[40..<41]), Array(routes[41...])], consistent: consistent))
        #expect(fixture.kernel.dumps - dumps == (consistent ? 0 : 1))
        #expect(gateway.state.learning.isResyncing == !consistent)
        try gateway.start(ingressIndex: fixture.ingressIndex)
        fixture.finishResync(gateway)
        #expect(Set(gateway.state.learned.keys) == fixture.birdPrefixes())
        #expect(fixture.log.contains("100 route(s) learned at start"))
        #expect(fixture.log.contains("the table changed during the dump at start") == !consistent)
        #expect(fixture.tandemTableRoutesExactly(fixture.birdPrefixes().union(KernelPlan.configuredPrefixes(of: gateway.config))))
    }

    /// The dump at start, a chunk at a time; the kernel's walk is over when the last chunk is read, before it is
    /// taken (`readAhead` chunks before the end).
    final class Chunks: RouteChunks {
        var chunks: [[KernelRoute]]
        let wasConsistent: Bool
        let readAhead: Int
        init(_ chunks: [[KernelRoute]], consistent: Bool = true, readAhead: Int = 0) {
            self.chunks = chunks
            wasConsistent = consistent
            self.readAhead = readAhead
        }
        func next() throws(SystemError) -> [KernelRoute]? { chunks.isEmpty ? nil : chunks.removeFirst() }
        var isRead: Bool { chunks.count <= readAhead }
    }

    /// The rules go in aside (the daemon: on a thread of their own) as soon as the dump at start is read, not during
    /// it (a rule added makes the kernel begin its IPv6 walk again), and the start takes their summary instead of
    /// reconciling them itself.
    @Test func theRulesGoInAsideOnceTheDumpAtStartIsRead() throws {
        let fixture = GatewayFixture()
        let routes = (0..<30).map { fixture.birdRoute($0) }
        for route in routes { fixture.kernel.install(route) }
        let gateway = try fixture.gateway(GatewayFixture.fullTableYAML)
        try gateway.checkHost()
        let chunks = Chunks([Array(routes[0..<10]), Array(routes[10..<20]), Array(routes[20...])], readAhead: 1)
        let aside = FakeKernel()
        var chunksLeftAtStart: [Int] = []
        gateway.kernelAside = { plan, work in
            chunksLeftAtStart.append(chunks.chunks.count)
            let summary = Result { () throws(SystemError) in try work(KernelSync(kernel: aside, plan: plan)) }
            return { summary }
        }
        try gateway.learnInitialRoutes(from: chunks)
        // Started once, after the second chunk was taken (the third, the last, read and waiting).
        #expect(chunksLeftAtStart == [1])
        try gateway.start(ingressIndex: fixture.ingressIndex)
        let rules = gateway.state.plan.rules
        #expect(!rules.isEmpty)
        #expect(Set(try aside.rules(family: .ipv4) + aside.rules(family: .ipv6)) == Set(rules))
        #expect(try fixture.kernel.rules(family: .ipv4).isEmpty && fixture.kernel.rules(family: .ipv6).isEmpty)
        #expect(fixture.log.contains("kernel rules: \(rules.count) added"))
        #expect(gateway.isReady)
    }

    /// A bulk sync of Tandem's table goes in aside (the daemon: a thread per family) while the forwarding plane
    /// takes the learning's batched inserts: after the start, the kernel's table and the forwarding plane have every
    /// prefix, a previous run's routes of both families are gone, and a route the kernel refused is pending.
    @Test func aBulkTableGoesInAsideWhileTheForwardingPlaneTakesTheLearnedPrefixes() throws {
        let fixture = GatewayFixture()
        // 5,000 /30s, every other one, so that they do not aggregate: more routes than one netlink round.
        let routes = (0..<5000).map { index in
            KernelRoute(
                prefix: .v4(IPv4Prefix(normalizing: IPv4Address(rawValue: 0xC612_0000 | UInt32(index) << 3), length: 30)),
                table: 254, protocol: 12, target: fixture.birdRoute(0).target)
        }
        for route in routes { fixture.kernel.install(route) }
        let refused = routes[1234].prefix
        fixture.kernel.refuse(EINVAL, times: 1) { change in
            if case .route(.add(let route, _)) = change { return route.prefix == refused }
            return false
        }
        // A previous run's routes, one per family, in Tandem's table.
        let stale = [GatewayFixture.prefix("198.19.255.252/30"), GatewayFixture.prefix("2001:db8:ffff::/48")]
        for prefix in stale {
            fixture.kernel.install(KernelRoute(prefix: prefix, table: 100, protocol: 77, target: .device(fixture.ingressIndex)))
        }
        let gateway = try fixture.gateway(GatewayFixture.fullTableYAML)
        try gateway.checkHost()
        var asides = 0
        gateway.kernelAside = { plan, work in
            asides += 1
            // On the fixture's kernel, at once: the aside's way through the core, without a thread.
            let summary = Result { () throws(SystemError) in try work(KernelSync(kernel: fixture.kernel, plan: plan)) }
            return { summary }
        }
        try gateway.learnInitialRoutes()
        try gateway.start(ingressIndex: fixture.ingressIndex)
        #expect(asides == 2)
        #expect(stale.allSatisfy { fixture.kernel.table(100)[$0] == nil })
        #expect(!gateway.isReady)
        #expect(gateway.state.pending.remote == [refused])
        #expect(gateway.state.installedRemote[refused] == nil)
        #expect(gateway.state.installedRemote.count == routes.count - 1 + KernelPlan.configuredPrefixes(of: gateway.config).count)
        for route in routes.prefix(3) + routes.suffix(3) + [routes[1234]] {
            guard case .v4(let prefix) = route.prefix else { continue }
            #expect(gateway.router.plane.ipv4.longestMatch(prefix.address)?.prefix == prefix)
        }
        // The retry sends the refused route again: then the table is whole.
        fixture.clock.advance(by: .seconds(1))
        gateway.tick()
        let whole = fixture.birdPrefixes().union(KernelPlan.configuredPrefixes(of: gateway.config))
        #expect(fixture.tandemTableRoutesExactly(whole))
        #expect(gateway.isReady)
        // A full sync over the full table (a reload's): each family's thread leaves the other family's routes be.
        let changes = fixture.kernel.routeChangesApplied
        try gateway.syncAllRemoteRoutes()
        #expect(asides == 4)
        #expect(fixture.kernel.routeChangesApplied == changes)
        #expect(fixture.tandemTableRoutesExactly(whole))
    }

    /// A learned prefix that is also a policy route's destination stays in Tandem's table when the routing daemon
    /// withdraws it: the policy still sends that traffic through Tandem. (The remote prefixes were a set of their
    /// own, and the withdrawal took the prefix out of it when the RIB had no route of it left.)
    @Test func aWithdrawnLearnedPrefixThatAPolicyRouteNamesStaysInTandemsTable() throws {
        let fixture = GatewayFixture()
        let route = fixture.birdRoute(0)
        let gateway = try fixture.started(
            GatewayFixture.fullTableYAML + "policy-routes:\n  - {source: 198.18.1.0/24, destination: \(route.prefix), protocol: udp, "
                + "destination-ports: \"5000\", priority: 10, connection: c1}\n")
        let configured = KernelPlan.configuredPrefixes(of: gateway.config)
        #expect(configured.contains(route.prefix))
        fixture.kernel.install(route)
        gateway.readNotifications(from: fixture.kernel)
        #expect(gateway.state.learned[route.prefix] != nil)
        fixture.kernel.uninstall(route)
        gateway.readNotifications(from: fixture.kernel)
        #expect(gateway.state.learned.isEmpty)
        #expect(gateway.state.remotePrefixes.contains(route.prefix))
        #expect(fixture.remote["\(route.prefix)"]?.target == .device(fixture.ingressIndex))
        #expect(fixture.tandemTableRoutesExactly(configured))
        #expect(gateway.state.remotePrefixes.count == configured.count)
    }

    @Test func aFloodOfNotificationsIsReadABatchPerTurn() throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.started(GatewayFixture.fullTableYAML)
        for index in 0..<5000 { fixture.kernel.install(fixture.birdRoute(index)) }
        gateway.readNotifications(from: fixture.kernel)
        #expect(gateway.state.learned.count == Gateway.learningBatch)
        #expect(fixture.kernel.queuedNotifications == 5000 - Gateway.learningBatch)
        while fixture.kernel.queuedNotifications > 0 { gateway.readNotifications(from: fixture.kernel) }
        #expect(Set(gateway.state.learned.keys) == fixture.birdPrefixes())
        #expect(fixture.tandemTableRoutesExactly(fixture.birdPrefixes().union(KernelPlan.configuredPrefixes(of: gateway.config))))
        // 5000 /28s in a row and the two configured prefixes: aggregated.
        #expect(fixture.kernel.table(100).count < 100)
    }

    @Test func aResyncDumpsOffTheLoopAndAppliesABatchPerTickWithTheNotificationsOfMeanwhileLast() throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.started(GatewayFixture.fullTableYAML)
        var dumpsAsked = 0
        gateway.dumpWatchedTable = { _ in dumpsAsked += 1 }
        for index in 0..<3 { fixture.kernel.install(fixture.birdRoute(index)) }
        gateway.readNotifications(from: fixture.kernel)
        #expect(gateway.state.learned.count == 3)
        // BIRD loads 5000 routes and withdraws one of the first three; the socket overflows.
        for index in 3..<5003 { fixture.kernel.install(fixture.birdRoute(index)) }
        fixture.kernel.uninstall(fixture.birdRoute(0))
        fixture.kernel.loseNotifications()
        gateway.readNotifications(from: fixture.kernel)
        #expect(dumpsAsked == 1)
        // The dump is made now (on the daemon's thread); then BIRD withdraws a route of it and adds another.
        let dump = WatchedTableDump(
            routes: fixture.kernel.table(254).values.filter { $0.protocol == 12 }.sorted { $0.prefix < $1.prefix })
        fixture.kernel.uninstall(fixture.birdRoute(10))
        fixture.kernel.install(fixture.birdRoute(6000))
        gateway.readNotifications(from: fixture.kernel)
        #expect(gateway.state.learned.count == 3, "notifications wait while the dump is made")
        #expect(gateway.learningDeadline == nil, "nothing to do until the dump arrives")
        gateway.dumpFinished(.success(dump))
        #expect(gateway.nextDeadline == 0, "a batch waits: the loop must come back at once")
        #expect(gateway.learningDeadline == 0)
        // A batch per tick: 5002 routes (two learned already), the withdrawals in two (the learned prefixes taken,
        // then checked), the queue in one.
        var learnedAfterEachTick: [Int] = []
        while gateway.state.learning.hasBatch {
            gateway.tick()
            learnedAfterEachTick.append(gateway.state.learned.count)
        }
        let batch = Gateway.learningBatch
        let routeTicks = (5002 + batch - 1) / batch
        let expected = (1...routeTicks).map { min(3 + $0 * batch - 2, 5003) } + [5003, 5002, 5002]
        #expect(learnedAfterEachTick == expected)
        #expect(Set(gateway.state.learned.keys) == fixture.birdPrefixes())
        #expect(fixture.tandemTableRoutesExactly(fixture.birdPrefixes().union(KernelPlan.configuredPrefixes(of: gateway.config))))
        #expect(fixture.log.contains("resync: 5002 learned route(s)"))
        #expect(dumpsAsked == 1)
    }

    @Test func notificationsLostDuringAResyncMakeAnotherDumpAndAFailedDumpIsRetried() throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.started(GatewayFixture.fullTableYAML)
        var dumpsAsked = 0
        gateway.dumpWatchedTable = { _ in dumpsAsked += 1 }
        fixture.kernel.install(fixture.birdRoute(1))
        fixture.kernel.loseNotifications()
        gateway.readNotifications(from: fixture.kernel)
        #expect(dumpsAsked == 1)
        // The dump fails: another one a second later, not before.
        gateway.dumpFinished(.failure(SystemError(code: EBUSY, operation: "dumping routes")))
        gateway.tick()
        #expect(dumpsAsked == 1)
        fixture.clock.advance(by: .seconds(1))
        gateway.tick()
        #expect(dumpsAsked == 2)
        // Lost again while this dump is applied: a third dump once it is, which brings the lost route in.
        gateway.dumpFinished(.success(WatchedTableDump(routes: [fixture.birdRoute(1)])))
        fixture.kernel.install(fixture.birdRoute(2))
        fixture.kernel.loseNotifications()
        gateway.readNotifications(from: fixture.kernel)
        fixture.finishResync(gateway)
        #expect(dumpsAsked == 3)
        #expect(gateway.state.learned.count == 1)
        gateway.dumpFinished(.success(WatchedTableDump(routes: [fixture.birdRoute(1), fixture.birdRoute(2)])))
        fixture.finishResync(gateway)
        #expect(Set(gateway.state.learned.keys) == fixture.birdPrefixes())
    }

    @Test func aDeletedIngressDeviceGetsItsRoutesBackOnTheNewOne() throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.started()
        fixture.kernel.deleteLink("tnd-in")
        #expect(fixture.remote.isEmpty)
        let index = fixture.kernel.addLink("tnd-in")
        gateway.ingressReplaced(index: index)
        #expect(fixture.remote.count == 2)
        #expect(fixture.remote.values.allSatisfy { $0.target == .device(index) })
    }

    @Test func aTunnelInterfaceThatComesBackGetsItsTableBack() throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.started()
        fixture.kernel.deleteLink("gw-a")
        #expect(fixture.kernel.table(101).isEmpty)
        fixture.kernel.addLink("gw-a")
        gateway.tunnelInterfacesChanged()
        #expect(fixture.kernel.table(101).count == 4)
    }

    /// The last hop's tunnel is remembered (a full table goes through one hop), and forgotten when the tunnels'
    /// interfaces change: a route out of an interface's old index leads nowhere once it was made again.
    @Test func aLearnedRouteOutOfATunnelInterfaceMadeAgainFollowsItsNewIndex() throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.started(GatewayFixture.fullTableYAML)
        func route(_ index: Int, device: UInt32) -> KernelRoute {
            KernelRoute(prefix: fixture.birdRoute(index).prefix, table: 254, protocol: 12, target: .device(device))
        }
        let old = fixture.kernel.interfaceIndex(named: "gw-a")!
        fixture.kernel.install(route(0, device: old))
        gateway.readNotifications(from: fixture.kernel)
        #expect(gateway.state.learned[route(0, device: old).prefix]?.tunnels == ["a1"])
        fixture.kernel.deleteLink("gw-a")
        let new = fixture.kernel.addLink("gw-a")
        gateway.tunnelInterfacesChanged()
        fixture.kernel.install(route(1, device: old))
        fixture.kernel.install(route(2, device: new))
        gateway.readNotifications(from: fixture.kernel)
        #expect(gateway.state.learned[route(1, device: old).prefix] == nil)
        #expect(gateway.state.learned[route(2, device: new).prefix]?.tunnels == ["a1"])
    }

    @Test func aReloadThatFailsHalfWayLeavesNothingOfTheNewFileAndKeepsTheOldState() throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.started()
        fixture.kernel.addLink("gw-c")
        let rulesBefore = Set(fixture.tandemRules())
        let remoteBefore = fixture.remote
        let oldRouter = gateway.router
        let grown = GatewayFixture.yaml.replacingOccurrences(
            of: "connections: [{name: c1, tunnels: [a1, a2]}]",
            with: """
                  - {name: a3, device: tnd-a3, interface: gw-c, peer: 198.18.3.2}
                connections: [{name: c1, tunnels: [a1, a2]}, {name: c2, tunnels: [a3]}]
                """
        ).replacingOccurrences(
            of: "  - {prefix: 2001:db8:100::/48, connection: c1}",
            with: "  - {prefix: 2001:db8:100::/48, connection: c1}\n  - {prefix: 198.23.0.0/16, connection: c2}")
        // The kernel refuses the new tunnel's IPv6 oif rule, after the IPv4 one went in.
        fixture.kernel.refuse(EPERM) { change in
            if case .rule(let rule, false) = change { return rule.outputDevice == "gw-c" && rule.family == .ipv6 }
            return false
        }
        var switched = false
        #expect(throws: DaemonError.self) {
            try gateway.reload(to: try GatewayFixture.config(grown)) { _ in switched = true }
        }
        #expect(!switched)
        #expect(gateway.router === oldRouter)
        #expect(gateway.config.tunnels.count == 2)
        #expect(Set(fixture.tandemRules()) == rulesBefore)
        #expect(fixture.remote == remoteBefore)
        #expect(fixture.kernel.table(103).isEmpty)
        // Without the refusal the same file goes in, and its switchover runs.
        fixture.kernel.stopRefusing()
        try gateway.reload(to: try GatewayFixture.config(grown)) { _ in switched = true }
        #expect(switched)
        #expect(fixture.remote["198.23.0.0/16"] != nil)
        #expect(fixture.kernel.table(103).count == 2)
    }

    @Test func aReloadWhoseSwitchoverFailsIsUndone() throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.started()
        let changed = GatewayFixture.yaml.replacingOccurrences(of: "198.19.0.0/16", with: "198.24.0.0/16")
        #expect(throws: DaemonError.self) {
            try gateway.reload(to: try GatewayFixture.config(changed)) { _ throws(DaemonError) in
                throw DaemonError("pipeline thread(s) [tandem-q0] did not take the new setup in 2 s")
            }
        }
        #expect(fixture.remote["198.19.0.0/16"] != nil)
        #expect(fixture.remote["198.24.0.0/16"] == nil)
    }

    @Test func kernelModeFailsOverByReplacingTheGroupAndRepairsAfterACarrierLoss() throws {
        let fixture = GatewayFixture()
        let text = GatewayFixture.yaml.replacingOccurrences(of: "ingress: tnd-in", with: "mode: kernel")
        let gateway = try fixture.started(text)
        let a1 = KernelModeState.tunnelID(TunnelID(0), .ipv4)
        let a2 = KernelModeState.tunnelID(TunnelID(1), .ipv4)
        guard case .nexthopObject(let group)? = fixture.remote["198.19.0.0/16"]?.target else {
            Issue.record("no group route: \(fixture.remote)")
            return
        }
        func members() -> [UInt32] {
            guard case .group(let members, _)? = fixture.kernel.installedNexthops[group]?.kind else { return [] }
            return members.map(\.id)
        }
        #expect(members() == [a1])
        // Three probes lost: the group is replaced with the standby, the route untouched.
        for _ in 0..<3 {
            fixture.clock.advance(by: .milliseconds(20))
            gateway.handle([.lost(TunnelID(0))], at: fixture.clock.now().nanoseconds)
        }
        #expect(members() == [a2])
        #expect(fixture.log.contains("selectionChanged"))
        // The standby's interface loses its carrier: the kernel deletes its nexthop, the group and the routes.
        fixture.kernel.deleteLink("gw-b")
        #expect(fixture.remote.isEmpty)
        fixture.kernel.addLink("gw-b")
        gateway.tunnelInterfacesChanged()
        #expect(members() == [a2])
        #expect(fixture.remote.count == 2)
    }

    @Test func stopRemovesEverythingOfTheGateway() throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.started()
        gateway.removeEverything()
        #expect(fixture.tandemRules().isEmpty)
        #expect(fixture.remote.isEmpty)
        #expect(fixture.kernel.table(101).isEmpty)
    }
}
