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

    @Test func aNamespaceThatDoesNotExistIsANamedError() {
        #expect(throws: SystemError.self) {
            try NetworkNamespace(name: "tandem-no-such-namespace").withEntered { () throws(SystemError) in try RouteNetlink() }
        }
    }
}
