import TandemConfig
import TandemKernelFake
import TandemLinux
import TandemPacket
import TandemRouting
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import TandemDaemon

/// Kernel mode's policy routes on a fake kernel: each policy route set is a rule with its selectors into a table of
/// its own, whose default route goes through the set's nexthop group; a failover replaces the group, no connection
/// up removes the route (the kernel then falls through to the next rule), a reload changes the rules. No root.
@Suite("kernel mode: policy routes as FIB rules")
struct KernelPolicyTests {
    /// Two single-tunnel connections: c1 (a1 on gw-a) carries the destination route, c2 (a2 on gw-b) the policy's
    /// UDP 5000-5001 from the site, with c1 as its standby (weight 0); a second policy set (priority 20) has c2 only.
    static let yaml = """
        gateway: {name: gw, mode: kernel}
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
        connections: [{name: c1, tunnels: [a1]}, {name: c2, tunnels: [a2]}]
        routes:
          - {prefix: 198.19.0.0/16, connection: c1}
          - {prefix: 2001:db8:100::/48, connection: c1}
        policy-routes:
          - {source: 198.18.1.0/24, destination: 198.19.0.0/16, protocol: udp, destination-ports: "5000-5001", priority: 10, connection: c2}
          - {source: 198.18.1.0/24, destination: 198.19.0.0/16, protocol: udp, destination-ports: "5000-5001", priority: 10, connection: c1, weight: 0}
          - {source: 2001:db8:1::/64, destination: 2001:db8:100::/48, priority: 20, connection: c2}
        """

    static let a1 = KernelModeState.tunnelID(TunnelID(0), .ipv4)
    static let a2 = KernelModeState.tunnelID(TunnelID(1), .ipv4)
    static let a2v6 = KernelModeState.tunnelID(TunnelID(1), .ipv6)
    static let udpGroup = KernelModeState.policyGroupID(set: 0, .ipv4)
    static let v6Group = KernelModeState.policyGroupID(set: 1, .ipv6)

    static func prefix(_ text: String) -> RoutePrefix { try! RoutePrefix(text) }

    func members(_ fixture: GatewayFixture, _ group: UInt32) -> [UInt32] {
        guard case .group(let members, _)? = fixture.kernel.installedNexthops[group]?.kind else { return [] }
        return members.map(\.id)
    }

    func lose(_ tunnel: Int, _ gateway: Gateway, _ fixture: GatewayFixture) {
        for _ in 0..<3 {
            fixture.clock.advance(by: .milliseconds(20))
            gateway.handle([.lost(TunnelID(tunnel))], at: fixture.clock.now().nanoseconds)
        }
    }

    func answer(_ tunnel: Int, _ gateway: Gateway, _ fixture: GatewayFixture) {
        for _ in 0..<3 {
            fixture.clock.advance(by: .milliseconds(20))
            gateway.handle([.answered(TunnelID(tunnel), rtt: .milliseconds(1))], at: fixture.clock.now().nanoseconds)
        }
        gateway.tick()
    }

    @Test func thePlanHasARulePerSetBetweenTheProbeRulesAndTandemsTable() throws {
        let plan = KernelPlan(config: try GatewayFixture.config(Self.yaml))
        #expect(plan.policyTables == [103, 104])
        #expect(plan.tables == [100, 101, 102, 103, 104])
        let udp = RoutingRule(
            family: .ipv4, priority: 910, inputDevice: nil, source: Self.prefix("198.18.1.0/24"),
            destination: Self.prefix("198.19.0.0/16"), ipProtocol: 17, destinationPorts: 5000...5001, table: 103,
            protocol: 77)
        let v6 = RoutingRule(
            family: .ipv6, priority: 920, inputDevice: nil, source: Self.prefix("2001:db8:1::/64"),
            destination: Self.prefix("2001:db8:100::/48"), table: 104, protocol: 77)
        let v4Rules = plan.rules.filter { $0.family == .ipv4 }
        #expect(v4Rules.map(\.priority) == [900, 900, 910, 1001])
        #expect(v4Rules.contains(udp))
        #expect(plan.rules.filter { $0.family == .ipv6 }.map(\.priority) == [900, 900, 920, 1001])
        #expect(plan.rules.contains(v6))
        #expect(plan.rules.allSatisfy(plan.owns))
        #expect(plan.rulePriorities.first == 900 && plan.rulePriorities.last == 1001)

        // Userspace mode: no policy rules or tables (Tandem's pipeline applies them); Tandem's table right after.
        let userspace = KernelPlan(
            config: try GatewayFixture.config(Self.yaml.replacingOccurrences(of: "mode: kernel", with: "ingress: tnd-in")))
        #expect(userspace.policyTables.isEmpty)
        #expect(userspace.rules.filter { $0.family == .ipv4 }.map(\.priority) == [900, 900, 900, 900, 901])
        // The rules of a run in the other mode are this gateway's too (stale after a mode change), another
        // protocol's or a priority outside the band are not.
        #expect(userspace.owns(udp))
        #expect(!userspace.owns(RoutingRule(family: .ipv4, priority: 1002, inputDevice: nil, table: 100, protocol: 77)))
        #expect(!userspace.owns(RoutingRule(family: .ipv4, priority: 910, inputDevice: nil, table: 103, protocol: 78)))
    }

    @Test func startPutsEachSetsGroupAndDefaultRouteInItsTable() throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.started(Self.yaml)
        #expect(gateway.isReady)
        let rules = fixture.tandemRules()
        #expect(rules.contains { $0.priority == 910 && $0.ipProtocol == 17 && $0.destinationPorts == 5000...5001 })
        #expect(rules.contains { $0.priority == 920 && $0.family == .ipv6 })
        #expect(rules.contains { $0.priority == 1001 && $0.source == nil && $0.table == 100 })
        #expect(fixture.kernel.table(103)[Self.prefix("0.0.0.0/0")]?.target == .nexthopObject(Self.udpGroup))
        #expect(fixture.kernel.table(104)[Self.prefix("::/0")]?.target == .nexthopObject(Self.v6Group))
        // c2 carries the UDP set (c1 is its standby, weight 0); the destination route stays on c1.
        #expect(members(fixture, Self.udpGroup) == [Self.a2])
        #expect(members(fixture, Self.v6Group) == [Self.a2v6])
        guard case .nexthopObject(let chainGroup)? = fixture.remote["198.19.0.0/16"]?.target else {
            Issue.record("no group route: \(fixture.remote)")
            return
        }
        #expect(members(fixture, chainGroup) == [Self.a1])
    }

    @Test func aFailoverReplacesTheGroupAndNoConnectionUpRemovesTheRoute() throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.started(Self.yaml)
        let changesBefore = fixture.kernel.routeChangesApplied
        lose(1, gateway, fixture)
        // The UDP set moves to its standby c1: one group replaced, its route untouched.
        #expect(members(fixture, Self.udpGroup) == [Self.a1])
        #expect(fixture.kernel.table(103)[Self.prefix("0.0.0.0/0")]?.target == .nexthopObject(Self.udpGroup))
        // The IPv6 set has no connection up: its route goes, so the kernel falls through to Tandem's table.
        #expect(fixture.kernel.table(104).isEmpty)
        #expect(fixture.kernel.routeChangesApplied == changesBefore + 1)
        // Both down: neither set has a route.
        lose(0, gateway, fixture)
        #expect(fixture.kernel.table(103).isEmpty)
        // a2 back: both sets on c2 again, their routes back.
        answer(1, gateway, fixture)
        #expect(members(fixture, Self.udpGroup) == [Self.a2])
        #expect(fixture.kernel.table(103)[Self.prefix("0.0.0.0/0")]?.target == .nexthopObject(Self.udpGroup))
        #expect(fixture.kernel.table(104)[Self.prefix("::/0")]?.target == .nexthopObject(Self.v6Group))
    }

    @Test func aCarrierLossThatTakesTheGroupIsRepaired() throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.started(Self.yaml)
        // gw-b goes: the kernel deletes a2's nexthops, the groups left empty and their routes.
        fixture.kernel.deleteLink("gw-b")
        #expect(fixture.kernel.table(104).isEmpty)
        fixture.kernel.addLink("gw-b")
        gateway.tunnelInterfacesChanged()
        #expect(members(fixture, Self.v6Group) == [Self.a2v6])
        #expect(fixture.kernel.table(104)[Self.prefix("::/0")]?.target == .nexthopObject(Self.v6Group))
        #expect(fixture.kernel.table(103)[Self.prefix("0.0.0.0/0")]?.target == .nexthopObject(Self.udpGroup))
    }

    @Test func aRefusedDefaultRouteIsRetried() throws {
        let fixture = GatewayFixture()
        fixture.kernel.refuse(ENETDOWN, times: 1) { change in
            if case .route(.add(let route, _)) = change { return route.table == 103 }
            return false
        }
        let gateway = try fixture.started(Self.yaml)
        #expect(fixture.kernel.table(103).isEmpty)
        #expect(fixture.log.contains("Network is down"))
        fixture.clock.advance(by: .seconds(1))
        gateway.tick()
        #expect(fixture.kernel.table(103)[Self.prefix("0.0.0.0/0")]?.target == .nexthopObject(Self.udpGroup))
    }

    @Test func aReloadChangesTheRulesAndTablesAndStopRemovesThem() throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.started(Self.yaml)
        // The UDP set's ports change and the IPv6 set goes.
        let changed = Self.yaml.replacingOccurrences(of: "\"5000-5001\"", with: "\"6000-6001\"")
            .replacingOccurrences(
                of: "  - {source: 2001:db8:1::/64, destination: 2001:db8:100::/48, priority: 20, connection: c2}", with: "")
        try gateway.reload(to: try GatewayFixture.config(changed)) { _ in }
        let policyRules = fixture.tandemRules().filter { $0.source != nil }
        #expect(policyRules.count == 1)
        #expect(policyRules.first?.destinationPorts == 6000...6001)
        #expect(fixture.kernel.table(103)[Self.prefix("0.0.0.0/0")]?.target == .nexthopObject(Self.udpGroup))
        #expect(fixture.kernel.table(104).isEmpty)
        #expect(fixture.kernel.installedNexthops[Self.v6Group] == nil)

        gateway.removeEverything()
        #expect(fixture.tandemRules().isEmpty)
        #expect(fixture.kernel.table(103).isEmpty)
        #expect(fixture.kernel.installedNexthops.isEmpty)
    }

    @Test func aSeedIsWrittenOnlyWhenTheFileSetsOne() throws {
        let fixture = GatewayFixture()
        fixture.kernel.settings["net.ipv4.fib_multipath_hash_seed"] = "0"
        // A kernel with the seed, whatever this one is (check-config's test covers one without it).
        func start(_ text: String) throws {
            let config = try GatewayConfig.parse(yaml: text, file: "gw.yaml", kernel: KernelFeatures(multipathHashSeed: true))
            let gateway = try Gateway(
                config: config, kernel: fixture.kernel, clock: fixture.clock, log: EventLog(output: fixture.logBuffer.output),
                metrics: DaemonMetrics())
            try gateway.start(ingressIndex: 0)
        }
        try start(Self.yaml)
        #expect(fixture.kernel.settings["net.ipv4.fib_multipath_hash_seed"] == "0")
        try start(Self.yaml + "\necmp: {seed: 0x5eed}\n")
        #expect(fixture.kernel.settings["net.ipv4.fib_multipath_hash_seed"] == "24301")
        #expect(fixture.log.contains("net.ipv4.fib_multipath_hash_seed 0 -> 24301"))
    }
}
