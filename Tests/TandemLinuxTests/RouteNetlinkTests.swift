import Foundation
import Testing
import TandemLinux
import TandemPacket

@Suite(.serialized, .enabled(if: isRoot, "needs root to make network namespaces (tools/test runs as root in CI)"))
struct RouteNetlinkTests {
    @Test func routesGoInAndOutInBatchesAndTheKernelAgrees() throws {
        let lab = try TestNamespace()
        let netlink = try lab.netlink()
        let device = try lab.deviceIndex()
        #expect(device > 0)
        let v4 = (0..<1000).map { index in
            KernelRoute(
                prefix: .v4(IPv4Prefix(normalizing: IPv4Address(rawValue: 0xC613_0000 | UInt32(index) << 6), length: 26)),
                table: 100, protocol: 200, target: .device(device))
        }
        let v6 = (0..<100).map { index in
            KernelRoute(
                prefix: .v6(IPv6Prefix(normalizing: IPv6Address(rawValue: (0x2001_0db8_0001 as UInt128) << 80 | UInt128(index) << 64), length: 64)),
                table: 100, protocol: 200, target: index % 10 == 0 ? .blackhole : .device(device))
        }
        let failures = try netlink.apply((v4 + v6).map { .add($0, replace: false) })
        #expect(failures.isEmpty, "\(failures)")
        // The kernel's own listing agrees, and so does Tandem's dump.
        #expect(try lab.kernelRoutes(table: 100, protocol: 200, family: "-4").count == 1000)
        #expect(try lab.kernelRoutes(table: 100, protocol: 200, family: "-6").count == 100)
        #expect(try lab.kernelRoutes(table: 100, protocol: 200, family: "-4").first == "198.19.0.0/26 dev v0 scope link ")
        let dumped = try netlink.routes(table: 100, protocol: 200)
        #expect(Set(dumped) == Set(v4 + v6))
        #expect(try netlink.routes(table: 100, protocol: 201).isEmpty)

        // Adding again fails per route, with the errno, the operation and the route; replacing works.
        let again = try netlink.apply([.add(v4[0], replace: false), .add(v4[1], replace: true)])
        #expect(again.count == 1)
        #expect(again.first?.description == "adding route 198.19.0.0/26 table 100: File exists")

        // Deleting everything leaves nothing, and deleting twice names what was missing.
        #expect(try netlink.apply((v4 + v6).map { .delete($0) }).isEmpty)
        #expect(try lab.kernelRoutes(table: 100, protocol: 200, family: "-4").isEmpty)
        #expect(try netlink.routes(table: 100).isEmpty)
        let missing = try netlink.apply([.delete(v4[5])])
        #expect(missing.first?.description == "deleting route 198.19.1.64/26 table 100: No such process")
    }

    /// Only a round's last request asks for an ACK: refusals anywhere, the ACKing request's own among them, must
    /// still come back each with its index, and the call must not wait for an ACK that never comes.
    @Test func refusalsAnywhereInARoundComeBackWithTheirIndex() throws {
        let lab = try TestNamespace()
        let netlink = try lab.netlink()
        let device = try lab.deviceIndex()
        let count = 2 * RouteNetlink.changesPerRound + 10
        let routes = (0..<count).map { index in
            KernelRoute(
                prefix: .v4(IPv4Prefix(normalizing: IPv4Address(rawValue: 0xC612_0000 | UInt32(index) << 2), length: 30)),
                table: 100, protocol: 200, target: .device(device))
        }
        // Already there, so adding them again without replace is refused: the first, a round's last (the request
        // that asks for the ACK), the next round's first, and the very last.
        let refused = [0, RouteNetlink.changesPerRound - 1, RouteNetlink.changesPerRound, count - 1]
        #expect(try netlink.apply(refused.map { .add(routes[$0], replace: false) }).isEmpty)
        let refusals = try netlink.refusals(applying: routes.map { .add($0, replace: false) })
        #expect(refusals.map(\.index) == refused)
        #expect(refusals.allSatisfy { $0.error.code == EEXIST })
        #expect(try lab.kernelRoutes(table: 100, protocol: 200, family: "-4").count == count)
        #expect(try netlink.apply(routes.map { .delete($0) }).isEmpty)
    }

    /// With strict checking the kernel dumps only the tables asked for; a table >= 256 goes in RTA_TABLE, and an
    /// IPv4 table that does not exist is empty rather than an error.
    @Test func dumpsAskForTheirTablesOnly() throws {
        let lab = try TestNamespace()
        let netlink = try lab.netlink()
        #expect(netlink.filtersDumps)
        let device = try lab.deviceIndex()
        func route(_ third: UInt32, table: UInt32, protocol proto: UInt8 = 200, v6: Bool = false) -> KernelRoute {
            let prefix: RoutePrefix = v6
                ? .v6(IPv6Prefix(normalizing: IPv6Address(rawValue: (0x2001_0db8_0002 as UInt128) << 80 | UInt128(third) << 64), length: 64))
                : .v4(IPv4Prefix(normalizing: IPv4Address(rawValue: 0xC613_0000 | third << 8), length: 24))
            return KernelRoute(prefix: prefix, table: table, protocol: proto, target: .device(device))
        }
        let wanted = [route(1, table: 100), route(2, table: 1000), route(3, table: 1000, v6: true)]
        let others = [route(4, table: 101), route(5, table: 100, protocol: 201), route(6, table: 101, v6: true)]
        #expect(try netlink.apply((wanted + others).map { .add($0, replace: false) }).isEmpty)
        #expect(Set(try netlink.routes(tables: [100, 1000], protocol: 200)) == Set(wanted))
        #expect(Set(try netlink.routes(table: 100)) == [wanted[0], others[1]])
        #expect(try netlink.routes(table: 4242).isEmpty)
        #expect(try netlink.apply((wanted + others).map { .delete($0) }).isEmpty)
    }

    @Test func aNamespaceThatDoesNotExistIsANamedError() {
        #expect(throws: SystemError.self) {
            try NetworkNamespace(name: "tandem-no-such-namespace").withEntered { () throws(SystemError) in try RouteNetlink() }
        }
    }
}
