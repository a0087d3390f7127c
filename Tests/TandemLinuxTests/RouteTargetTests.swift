import Foundation
import Testing
import TandemLinux
import TandemPacket

extension TestNamespace {
    /// `ip -j ARGS` inside the namespace, decoded: the kernel's own view, as a list of JSON objects.
    func json(_ arguments: [String]) throws -> [[String: Any]] {
        let text = try Self.ip(["-n", namespace.name, "-j"] + arguments)
        guard let list = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] else {
            throw CommandFailure(description: "ip -j \(arguments.joined(separator: " ")): not a JSON list: \(text)")
        }
        return list
    }

    /// A device's index inside the namespace.
    func index(of device: String) throws -> UInt32 { try namespace.withEntered { if_nametoindex(device) } }

    /// Gives v1 198.18.1.1/24 and 2001:db8:1::1/64, so that both devices have gateways on their links.
    func addressSecondDevice() throws {
        try Self.ip(["-n", namespace.name, "addr", "add", "198.18.1.1/24", "dev", "v1"])
        try Self.ip(["-n", namespace.name, "-6", "addr", "add", "2001:db8:1::1/64", "dev", "v1", "nodad"])
    }
}

/// Routes through gateways, multipath routes and their dumps, checked against `ip -j route`.
@Suite(.serialized, .enabled(if: isRoot, "needs root to make network namespaces (tools/test runs as root in CI)"))
struct RouteTargetTests {
    @Test func gatewayRoutesOfBothFamiliesGoInAreReplacedAndComeOut() throws {
        try TestNamespace.with { lab in
            try lab.addressSecondDevice()
            let netlink = try lab.netlink()
            let v0 = try lab.index(of: "v0")
            let v1 = try lab.index(of: "v1")
            let v4 = KernelRoute(
                prefix: try RoutePrefix("198.19.0.0/16"), table: 200, protocol: 201,
                target: .gateway(.v4(try IPv4Address("198.18.0.2")), device: v0))
            let v6 = KernelRoute(
                prefix: try RoutePrefix("2001:db8:100::/48"), table: 200, protocol: 201,
                target: .gateway(.v6(try IPv6Address("2001:db8::2")), device: v0))
            // RFC 5549: an IPv4 route through an IPv6 gateway (RTA_VIA).
            let via = KernelRoute(
                prefix: try RoutePrefix("198.19.5.0/24"), table: 200, protocol: 201,
                target: .gateway(.v6(try IPv6Address("2001:db8::2")), device: v0))
            #expect(v4.description == "198.19.0.0/16 via 198.18.0.2 dev #\(v0) table 200 proto 201")
            #expect(try netlink.apply([v4, v6, via].map { .add($0, replace: false) }).isEmpty)

            let shown4 = try lab.json(["-4", "route", "show", "table", "200", "proto", "201"])
            #expect(shown4.count == 2)
            let first = shown4.first { $0["dst"] as? String == "198.19.0.0/16" }
            #expect(first?["gateway"] as? String == "198.18.0.2" && first?["dev"] as? String == "v0")
            #expect(try TestNamespace.ip(["-n", lab.namespace.name, "route", "show", "table", "200", "198.19.5.0/24"])
                .contains("198.19.5.0/24 via inet6 2001:db8::2 dev v0"))
            let shown6 = try lab.json(["-6", "route", "show", "table", "200", "proto", "201"])
            #expect(shown6.count == 1)
            #expect(shown6.first?["dst"] as? String == "2001:db8:100::/48")
            #expect(shown6.first?["gateway"] as? String == "2001:db8::2" && shown6.first?["dev"] as? String == "v0")
            #expect(Set(try netlink.routes(table: 200, protocol: 201)) == [v4, v6, via])

            // Replacing moves the route to the other gateway and device; there is still one.
            var moved = v4
            moved.target = .gateway(.v4(try IPv4Address("198.18.1.2")), device: v1)
            #expect(try netlink.apply([.add(moved, replace: true)]).isEmpty)
            let replaced = try lab.json(["-4", "route", "show", "table", "200", "198.19.0.0/16"])
            #expect(replaced.count == 1)
            #expect(replaced.first?["gateway"] as? String == "198.18.1.2" && replaced.first?["dev"] as? String == "v1")
            #expect(Set(try netlink.routes(table: 200, protocol: 201)) == [moved, v6, via])

            // A gateway that is not on any link is refused, by route.
            var unreachable = v4
            unreachable.prefix = try RoutePrefix("198.19.9.0/24")
            unreachable.target = .gateway(.v4(try IPv4Address("198.18.9.9")), device: v0)
            let refused = try netlink.apply([.add(unreachable, replace: false)])
            #expect(refused.map(\.operation) == ["adding route 198.19.9.0/24 table 200"])
            #expect(refused.first?.code == ENETUNREACH)

            #expect(try netlink.apply([moved, v6, via].map { .delete($0) }).isEmpty)
            #expect(try lab.json(["route", "show", "table", "200"]).isEmpty)
            #expect(try lab.json(["-6", "route", "show", "table", "200"]).isEmpty)
            #expect(try netlink.apply([.delete(v6)]).first?.description
                == "deleting route 2001:db8:100::/48 table 200: No such process")
        }
    }

    @Test func multipathRoutesOfIpAreReadAndTandemsAreWritten() throws {
        try TestNamespace.with { lab in
            try lab.addressSecondDevice()
            let name = lab.namespace.name
            let netlink = try lab.netlink()
            let v0 = try lab.index(of: "v0")
            let v1 = try lab.index(of: "v1")
            // One made by ip, read by Tandem.
            try TestNamespace.ip([
                "-n", name, "route", "add", "198.19.6.0/24", "table", "200", "proto", "201",
                "nexthop", "via", "198.18.0.2", "dev", "v0", "weight", "3",
                "nexthop", "via", "198.18.1.2", "dev", "v1",
            ])
            let expected = KernelRoute(
                prefix: try RoutePrefix("198.19.6.0/24"), table: 200, protocol: 201,
                target: .multipath([
                    KernelRoute.Hop(device: v0, gateway: .v4(try IPv4Address("198.18.0.2")), weight: 3),
                    KernelRoute.Hop(device: v1, gateway: .v4(try IPv4Address("198.18.1.2")), weight: 1),
                ]))
            #expect(try netlink.routes(table: 200, protocol: 201) == [expected])
            #expect(expected.description == "198.19.6.0/24 table 200 proto 201 nexthop via 198.18.0.2 dev #\(v0) weight 3 nexthop via 198.18.1.2 dev #\(v1) weight 1")

            // Made by Tandem (IPv6, and IPv4 with a path on the link), read by ip.
            let v6 = KernelRoute(
                prefix: try RoutePrefix("2001:db8:200::/48"), table: 200, protocol: 202,
                target: .multipath([
                    KernelRoute.Hop(device: v0, gateway: .v6(try IPv6Address("2001:db8::2")), weight: 1),
                    KernelRoute.Hop(device: v1, gateway: .v6(try IPv6Address("2001:db8:1::2")), weight: 200),
                ]))
            let v4 = KernelRoute(
                prefix: try RoutePrefix("198.19.7.0/24"), table: 200, protocol: 202,
                target: .multipath([
                    KernelRoute.Hop(device: v0, gateway: nil, weight: 256),
                    KernelRoute.Hop(device: v1, gateway: .v4(try IPv4Address("198.18.1.2")), weight: 2),
                ]))
            #expect(try netlink.apply([.add(v6, replace: false), .add(v4, replace: false)]).isEmpty)
            let shown6 = try lab.json(["-6", "route", "show", "table", "200", "proto", "202"])
            let hops6 = shown6.first?["nexthops"] as? [[String: Any]] ?? []
            #expect(hops6.map { "\($0["gateway"] ?? "-") \($0["dev"] ?? "-") \($0["weight"] ?? "-")" }
                == ["2001:db8::2 v0 1", "2001:db8:1::2 v1 200"])
            let shown4 = try lab.json(["-4", "route", "show", "table", "200", "proto", "202"])
            let hops4 = shown4.first?["nexthops"] as? [[String: Any]] ?? []
            #expect(hops4.map { "\($0["gateway"] ?? "-") \($0["dev"] ?? "-") \($0["weight"] ?? "-")" }
                == ["- v0 256", "198.18.1.2 v1 2"])
            #expect(Set(try netlink.routes(table: 200, protocol: 202)) == [v6, v4])

            #expect(try netlink.apply([.delete(v6), .delete(v4), .delete(expected)]).isEmpty)
            #expect(try lab.json(["route", "show", "table", "200"]).isEmpty)
            #expect(try lab.json(["-6", "route", "show", "table", "200"]).isEmpty)
        }
    }

    @Test func theMonitorReadsGatewayRoutes() throws {
        try TestNamespace.with { lab in
            let monitor = try lab.namespace.withEntered { () throws(SystemError) in try RouteMonitor() }
            let name = lab.namespace.name
            try TestNamespace.ip(["-n", name, "route", "add", "198.19.8.0/24", "via", "198.18.0.2", "proto", "bird"])
            let index = try lab.deviceIndex()
            let route = KernelRoute(
                prefix: try RoutePrefix("198.19.8.0/24"), table: 254, protocol: 12,
                target: .gateway(.v4(try IPv4Address("198.18.0.2")), device: index))
            #expect(try monitor.read(table: 254, protocols: [12]) == [.added(route)])
        }
    }
}
