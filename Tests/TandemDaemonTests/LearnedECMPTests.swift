import TandemConfig
import TandemKernelFake
import TandemLinux
import TandemPacket
import TandemRouting
import Testing

@testable import TandemDaemon

/// BGP as the gateway uses it (issue 12): a multipath route learned through two connections spreads over both by
/// their weights; a withdrawn path moves only its connection's flows; each path counts in the quota and waits on its
/// own; a learned route that overlaps another connection's configured route is reported once; each BGP tunnel's
/// inside /30 is a derived system route out of its own interface.
@Suite("learned ECMP, overlaps and derived system routes")
struct LearnedECMPTests {
    /// Two single-tunnel connections: c1 through a1 (gw-a), c2 through a2 (gw-b) with half the weight.
    static let twoConnections = GatewayFixture.yaml
        .replacingOccurrences(
            of: "connections: [{name: c1, tunnels: [a1, a2]}]",
            with: "connections: [{name: c1, tunnels: [a1]}, {name: c2, tunnels: [a2], weight: 50}]")

    static let prefix = GatewayFixture.prefix("198.21.0.0/16")

    /// A route BIRD installs with `merge paths`: one hop per listed interface, through its zone router.
    static func birdRoute(_ fixture: GatewayFixture, hops: [String], prefix: RoutePrefix = prefix) -> KernelRoute {
        let gateways = ["gw-a": "198.18.1.2", "gw-b": "198.18.2.2"]
        let list = hops.map { name in
            KernelRoute.Hop(
                device: fixture.kernel.interfaceIndex(named: name)!,
                gateway: .v4(try! IPv4Address(gateways[name]!)))
        }
        let target: KernelRoute.Target =
            list.count == 1 ? .gateway(list[0].gateway!, device: list[0].device) : .multipath(list)
        return KernelRoute(prefix: prefix, table: 254, protocol: 12, target: target)
    }

    /// The tunnel each of 512 flows to 198.21.x.y takes now.
    static func tunnels(_ gateway: Gateway) -> [TunnelID?] {
        (0..<512).map { flow in
            let destination = IPv4Address(rawValue: 0xC615_0000 | UInt32(flow))
            let decision = gateway.router.plane.decide(
                ipv4: destination, source: try! IPv4Address("198.18.100.1"), protocol: 17, destinationPort: 5000,
                flowHash: UInt32(truncatingIfNeeded: flow &* 0x9E37_79B9))
            return decision.outcome == .forward ? decision.tunnel : nil
        }
    }

    @Test func aMultipathRouteSpreadsOverBothConnectionsAndAWithdrawnPathMovesOnlyItsFlows() throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.started(Self.twoConnections)
        fixture.kernel.install(Self.birdRoute(fixture, hops: ["gw-a", "gw-b"]))
        gateway.readNotifications(from: fixture.kernel)
        #expect(gateway.state.learned[Self.prefix]?.tunnels == ["a1", "a2"])
        let routes = gateway.router.routes(of: Self.prefix)
        #expect(routes.map(\.source) == [.dynamic, .dynamic])
        #expect(Set(routes.map(\.weight)) == [100, 50], "each connection's `weight`")
        #expect(fixture.log.contains("ECMP over 2 connections"))

        let (a1, a2) = (TunnelID(0), TunnelID(1))
        let spread = Self.tunnels(gateway)
        let onA1 = spread.count { $0 == a1 }
        let onA2 = spread.count { $0 == a2 }
        #expect(onA1 + onA2 == spread.count)
        // Weights 100:50 over the resilient buckets: about two thirds on a1.
        #expect((290...390).contains(onA1), "\(onA1) of 512 flows on a1")

        // The BGP session of c2 withdraws its path: BIRD replaces the route with its one remaining hop.
        fixture.kernel.install(Self.birdRoute(fixture, hops: ["gw-a"]))
        gateway.readNotifications(from: fixture.kernel)
        #expect(gateway.state.learned[Self.prefix]?.tunnels == ["a1"])
        let after = Self.tunnels(gateway)
        for (before, now) in zip(spread, after) {
            #expect(now == a1)
            if before == a1 { #expect(now == before, "a flow of the connection that stayed moved") }
        }

        // The session comes back: every flow is where it was.
        fixture.kernel.install(Self.birdRoute(fixture, hops: ["gw-a", "gw-b"]))
        gateway.readNotifications(from: fixture.kernel)
        #expect(Self.tunnels(gateway) == spread)

        // One hop's route removed by itself (as the kernel reports an IPv6 nexthop going): only that path goes.
        fixture.kernel.uninstall(Self.birdRoute(fixture, hops: ["gw-b"]))
        gateway.readNotifications(from: fixture.kernel)
        #expect(gateway.state.learned[Self.prefix]?.tunnels == ["a1"])
        // The whole route withdrawn: the prefix leaves Tandem's table.
        fixture.kernel.uninstall(Self.birdRoute(fixture, hops: ["gw-a"]))
        gateway.readNotifications(from: fixture.kernel)
        #expect(gateway.state.learned[Self.prefix] == nil)
        #expect(fixture.remote["198.21.0.0/16"] == nil)
    }

    @Test func kernelModeMakesAResilientGroupOfBothConnectionsTunnels() throws {
        let fixture = GatewayFixture()
        let text = Self.twoConnections.replacingOccurrences(of: "ingress: tnd-in", with: "mode: kernel")
        let gateway = try fixture.started(text)
        fixture.kernel.install(Self.birdRoute(fixture, hops: ["gw-a", "gw-b"]))
        gateway.readNotifications(from: fixture.kernel)
        let a1 = KernelModeState.tunnelID(TunnelID(0), .ipv4)
        let a2 = KernelModeState.tunnelID(TunnelID(1), .ipv4)
        func group() -> (members: [NexthopObject.GroupMember], buckets: UInt16?)? {
            guard case .nexthopObject(let id)? = fixture.remote["198.21.0.0/16"]?.target,
                case .group(let members, let buckets)? = fixture.kernel.installedNexthops[id]?.kind
            else { return nil }
            return (members, buckets)
        }
        let ecmp = try #require(group())
        #expect(ecmp.members.map(\.id) == [a1, a2] && ecmp.members.map(\.weight) == [100, 50])
        #expect(ecmp.buckets == UInt16(gateway.config.ecmp.buckets), "a resilient group")
        fixture.kernel.install(Self.birdRoute(fixture, hops: ["gw-b"]))
        gateway.readNotifications(from: fixture.kernel)
        #expect(group()?.members.map(\.id) == [a2])
    }

    @Test func eachPathCountsInTheQuotaAndWaitsOnItsOwn() throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.started(Self.twoConnections + "\nlimits: {dynamic-routes: 3}\n")
        let first = Self.birdRoute(fixture, hops: ["gw-a", "gw-b"])
        let second = Self.birdRoute(fixture, hops: ["gw-a", "gw-b"], prefix: GatewayFixture.prefix("198.22.0.0/16"))
        fixture.kernel.install(first)
        fixture.kernel.install(second)
        gateway.readNotifications(from: fixture.kernel)
        #expect(gateway.router.dynamicRouteCount == 3)
        #expect(gateway.state.learned[second.prefix]?.tunnels == ["a1"], "c1's path in, c2's waits")
        #expect(gateway.state.overQuota.inOrder.map(\.tunnel) == ["a2"])
        let status = gateway.view(probes: { _ in ProbeStatistics() }, counters: nil).status(json: false)
        #expect(status.contains("1 waiting for room") && status.contains("3 path(s)"), "\(status)")
        // The first prefix's c2 path goes: the waiting path takes its room.
        fixture.kernel.install(Self.birdRoute(fixture, hops: ["gw-a"]))
        gateway.readNotifications(from: fixture.kernel)
        #expect(gateway.state.learned[second.prefix]?.tunnels == ["a1", "a2"])
        #expect(gateway.state.overQuota.isEmpty)
    }

    @Test func aLearnedRouteOverlappingAnotherConnectionsRouteIsReportedOnceAndMarked() throws {
        let fixture = GatewayFixture()
        // The fixture's static 198.19.0.0/16 is c1's; BGP through c2 learns a part of it.
        let gateway = try fixture.started(Self.twoConnections)
        let inside = GatewayFixture.prefix("198.19.5.0/24")
        fixture.kernel.install(Self.birdRoute(fixture, hops: ["gw-b"], prefix: inside))
        fixture.kernel.install(Self.birdRoute(fixture, hops: ["gw-a"], prefix: GatewayFixture.prefix("198.19.6.0/24")))
        fixture.kernel.install(Self.birdRoute(fixture, hops: ["gw-b"]))
        gateway.readNotifications(from: fixture.kernel)
        #expect(Array(gateway.state.overlaps.keys) == [inside], "same connection, or apart: no overlap")
        #expect(gateway.overlapsReported == 1)
        // Announced again (a BGP refresh): not reported again.
        fixture.kernel.install(Self.birdRoute(fixture, hops: ["gw-b"], prefix: inside))
        gateway.readNotifications(from: fixture.kernel)
        #expect(gateway.overlapsReported == 1)
        #expect(fixture.log.components(separatedBy: "may not take effect").count == 2, "one warning")
        #expect(fixture.log.contains("\"event\":\"learnedRouteOverlaps\""))
        let view = gateway.view(probes: { _ in ProbeStatistics() }, counters: nil)
        let shown = view.routes(of: inside, json: false)
        #expect(shown.contains("learned-via a2") && shown.contains("may not take effect: overlaps static 198.19.0.0/16"))
        #expect(view.routes(of: inside, json: true).contains("\"overlaps\":\"static 198.19.0.0/16 of connection c1\""))
        // Withdrawn: no longer marked.
        fixture.kernel.uninstall(Self.birdRoute(fixture, hops: ["gw-b"], prefix: inside))
        gateway.readNotifications(from: fixture.kernel)
        #expect(gateway.state.overlaps.isEmpty)
    }

    static let bgpYAML = """
        gateway: {name: gw, ingress: tnd-in, local-asn: 65000}
        linux: {protocol: 77, table: 100, rule-priority: 900}
        tunnels:
          - {name: b1, device: tnd-b1, interface: gw-a, peer: 198.18.1.2, routing: bgp, bgp: {inside-cidr: 169.254.10.0/30, peer-asn: 65100}}
          - {name: b2, device: tnd-b2, interface: gw-b, peer: 198.18.2.2, routing: bgp, bgp: {inside-cidr: 169.254.20.0/30, peer-asn: 65100}}
        connections: [{name: c1, tunnels: [b1, b2]}]
        learning: {table: 254, protocols: [bird]}
        """

    @Test(arguments: ["userspace", "kernel"])
    func eachBGPTunnelsInsideCIDRIsASystemRouteOutOfItsOwnInterface(mode: String) throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.started(
            Self.bgpYAML.replacingOccurrences(of: "ingress: tnd-in", with: "ingress: tnd-in, mode: \(mode)"))
        let gwB = fixture.kernel.interfaceIndex(named: "gw-b")!
        // b2 is the standby of c1, yet its inside /30 goes out of its own interface.
        #expect(fixture.remote["169.254.20.0/30"]?.target == .device(gwB))
        #expect(fixture.remote["169.254.10.0/30"]?.target == .device(fixture.kernel.interfaceIndex(named: "gw-a")!))
        #expect(gateway.router.routes(of: GatewayFixture.prefix("169.254.20.0/30")).map(\.source) == [.system])
        let shown = gateway.view(probes: { _ in ProbeStatistics() }, counters: nil)
            .routes(of: GatewayFixture.prefix("169.254.20.1/32"), json: false)
        #expect(shown.contains("source system") && shown.contains("tunnel b2 derived: inside /30 of tunnel b2"), "\(shown)")
        // The interface is made again with a new index: the route follows it.
        fixture.kernel.deleteLink("gw-b")
        let again = fixture.kernel.addLink("gw-b")
        gateway.tunnelInterfacesChanged()
        #expect(fixture.remote["169.254.20.0/30"]?.target == .device(again))
        gateway.removeEverything()
        #expect(fixture.remote.isEmpty)
    }
}
