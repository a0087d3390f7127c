import Foundation
import Testing
import TandemLinux
import TandemPacket

/// Nexthop objects and groups, and routes through them, checked against `ip -j nexthop` and `ip -j route`.
@Suite(.serialized, .enabled(if: isRoot, "needs root to make network namespaces (tools/test runs as root in CI)"))
struct NexthopObjectTests {
    /// `ip -j nexthop show` as "id: what" lines, sorted: device, gateway, group and bucket count, protocol.
    static func shown(_ lab: TestNamespace, _ arguments: [String] = []) throws -> [String] {
        try lab.json(["nexthop", "show"] + arguments).map { entry in
            var parts = ["\(entry["id"] ?? "?"):"]
            if let gateway = entry["gateway"] { parts.append("via \(gateway)") }
            if let device = entry["dev"] { parts.append("dev \(device)") }
            if entry["blackhole"] != nil { parts.append("blackhole") }
            if let group = entry["group"] as? [[String: Any]] {
                parts.append("group " + group.map { "\($0["id"] ?? "?")x\($0["weight"] ?? 1)" }.joined(separator: "/"))
            }
            if let type = entry["type"] { parts.append("type \(type)") }
            if let arguments = entry["resilient_args"] as? [String: Any] { parts.append("buckets \(arguments["buckets"] ?? "?")") }
            if let proto = entry["protocol"] { parts.append("proto \(proto)") }
            return parts.joined(separator: " ")
        }.sorted()
    }

    @Test func objectsAndGroupsGoInAreReplacedAndComeOut() throws {
        try TestNamespace.with { lab in
            try lab.addressSecondDevice()
            // A blackhole object lives on the loopback device, which is down in a new namespace (ENETDOWN).
            try TestNamespace.ip(["-n", lab.namespace.name, "link", "set", "lo", "up"])
            let netlink = try lab.netlink()
            let v0 = try lab.index(of: "v0")
            let v1 = try lab.index(of: "v1")
            let a = NexthopObject(id: 1001, protocol: 201, kind: .device(v0, gateway: .v4(try IPv4Address("198.18.0.2")), family: .ipv4))
            let b = NexthopObject(id: 1002, protocol: 201, kind: .device(v1, gateway: .v4(try IPv4Address("198.18.1.2")), family: .ipv4))
            let onLink = NexthopObject(id: 1003, protocol: 201, kind: .device(v0, gateway: nil, family: .ipv4))
            let six = NexthopObject(id: 1004, protocol: 201, kind: .device(v0, gateway: .v6(try IPv6Address("2001:db8::2")), family: .ipv6))
            let drop = NexthopObject(id: 1005, protocol: 201, kind: .blackhole(family: .ipv4))
            let mpath = NexthopObject(
                id: 2001, protocol: 201,
                kind: .group([.init(id: 1001, weight: 1), .init(id: 1002, weight: 3)], resilientBuckets: nil))
            let resilient = NexthopObject(
                id: 2002, protocol: 201,
                kind: .group([.init(id: 1001, weight: 1), .init(id: 1002, weight: 1)], resilientBuckets: 32))
            let other = NexthopObject(id: 3001, protocol: 202, kind: .device(v1, gateway: nil, family: .ipv4))
            let all = [a, b, onLink, six, drop, mpath, resilient, other]
            #expect(a.description == "id 1001 via 198.18.0.2 dev #\(v0) proto 201")
            #expect(resilient.description == "id 2002 group 1001/1002 type resilient buckets 32 proto 201")
            let added = try netlink.apply(nexthops: all.map { .add($0, replace: false) })
            #expect(added.isEmpty, "\(added)")
            #expect(try Self.shown(lab) == [
                "1001: via 198.18.0.2 dev v0 proto 201",
                "1002: via 198.18.1.2 dev v1 proto 201",
                "1003: dev v0 proto 201",
                "1004: via 2001:db8::2 dev v0 proto 201",
                "1005: blackhole proto 201",
                "2001: group 1001x1/1002x3 proto 201",
                "2002: group 1001x1/1002x1 type resilient buckets 32 proto 201",
                "3001: dev v1 proto 202",
            ])
            #expect(Set(try netlink.nexthops()) == Set(all))
            #expect(Set(try netlink.nexthops(protocol: 201)) == Set(all.filter { $0.protocol == 201 }))
            #expect(try netlink.nexthops(protocol: 202) == [other])

            // Routes through the groups, the blackhole and the IPv6 object: the kernel shows the id, Tandem reads it.
            let routes = [
                KernelRoute(prefix: try RoutePrefix("198.19.1.0/24"), table: 200, protocol: 201, target: .nexthopObject(2001)),
                KernelRoute(prefix: try RoutePrefix("198.19.2.0/24"), table: 200, protocol: 201, target: .nexthopObject(2002)),
                KernelRoute(prefix: try RoutePrefix("198.19.3.0/24"), table: 200, protocol: 201, target: .nexthopObject(1005)),
                KernelRoute(prefix: try RoutePrefix("2001:db8:300::/48"), table: 200, protocol: 201, target: .nexthopObject(1004)),
            ]
            #expect(routes[0].description == "198.19.1.0/24 nhid 2001 table 200 proto 201")
            #expect(try netlink.apply(routes.map { .add($0, replace: false) }).isEmpty)
            let shownRoutes = try lab.json(["-4", "route", "show", "table", "200"]) + lab.json(["-6", "route", "show", "table", "200"])
            #expect(shownRoutes.map { "\($0["dst"] ?? "?") nhid \($0["nhid"] ?? "-")" }.sorted() == [
                "198.19.1.0/24 nhid 2001", "198.19.2.0/24 nhid 2002", "198.19.3.0/24 nhid 1005", "2001:db8:300::/48 nhid 1004",
            ])
            #expect(Set(try netlink.routes(table: 200, protocol: 201)) == Set(routes))

            // A failover is one message: the group's members change, its routes stay and follow.
            let failedOver = NexthopObject(id: 2001, protocol: 201, kind: .group([.init(id: 1002)], resilientBuckets: nil))
            #expect(try netlink.apply(nexthops: [.add(failedOver, replace: true)]).isEmpty)
            #expect(try Self.shown(lab, ["id", "2001"]) == ["2001: group 1002x1 proto 201"])
            let followed = try lab.json(["route", "show", "table", "200", "198.19.1.0/24"])
            #expect(followed.first?["nhid"] as? Int == 2001 && followed.first?["gateway"] as? String == "198.18.1.2")

            // A resilient group's members may change on replace, its bucket count may not.
            let fewer = NexthopObject(id: 2002, protocol: 201, kind: .group([.init(id: 1001)], resilientBuckets: 32))
            #expect(try netlink.apply(nexthops: [.add(fewer, replace: true)]).isEmpty)
            #expect(try Self.shown(lab, ["id", "2002"]) == ["2002: group 1001x1 type resilient buckets 32 proto 201"])
            var resized = fewer
            resized.kind = .group([.init(id: 1001)], resilientBuckets: 64)
            #expect(try netlink.apply(nexthops: [.add(resized, replace: true)]).map(\.description)
                == ["replacing nexthop 2002: Invalid argument"])
            #expect(try Self.shown(lab, ["id", "2002"]) == ["2002: group 1001x1 type resilient buckets 32 proto 201"])

            // Refusals name the nexthop and the errno: a missing member, an id taken, an id that is not there.
            let dangling = NexthopObject(id: 2003, protocol: 201, kind: .group([.init(id: 1001), .init(id: 9999)], resilientBuckets: nil))
            let refused = try netlink.apply(nexthops: [.add(dangling, replace: false), .add(a, replace: false), .delete(id: 4242)])
            #expect(refused.map(\.description) == [
                "adding nexthop 2003: Invalid argument",
                "adding nexthop 1001: File exists",
                "deleting nexthop 4242: No such file or directory",
            ])
            #expect(try lab.json(["nexthop", "show"]).count == all.count)

            // Deleting an object deletes the routes through it; the others stay.
            #expect(try netlink.apply(nexthops: [.delete(id: 2001)]).isEmpty)
            #expect(Set(try netlink.routes(table: 200, protocol: 201)) == Set(routes.dropFirst()))
            #expect(try lab.json(["route", "show", "table", "200", "198.19.1.0/24"]).isEmpty)

            // Groups before their members, then the rest: nothing is left.
            #expect(try netlink.apply(nexthops: [2002, 1001, 1002, 1003, 1004, 1005, 3001].map { .delete(id: $0) }).isEmpty)
            #expect(try lab.json(["nexthop", "show"]).isEmpty)
            #expect(try netlink.nexthops().isEmpty)
            #expect(try lab.json(["route", "show", "table", "200"]).isEmpty)
            #expect(try lab.json(["-6", "route", "show", "table", "200"]).isEmpty)
        }
    }
}
