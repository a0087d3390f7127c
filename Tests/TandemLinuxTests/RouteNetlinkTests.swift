import Foundation
import Testing
import TandemLinux
import TandemPacket
import TandemRouting

/// A network namespace with a veth pair (this kernel has no dummy devices), made for a test and removed after it
/// (also when it fails), with everything in it.
/// Addresses only from 198.18.0.0/15 and 2001:db8::/32; nothing leaves the namespace.
final class TestNamespace {
    let namespace: NetworkNamespace
    let device = "v0"

    init() throws {
        namespace = NetworkNamespace(name: "tandem-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try Self.ip(["netns", "add", namespace.name])
        do {
            try Self.ip(["-n", namespace.name, "link", "add", device, "type", "veth", "peer", "name", "v1"])
            try Self.ip(["-n", namespace.name, "link", "set", "v1", "up"])
            try Self.ip(["-n", namespace.name, "link", "set", device, "up"])
            try Self.ip(["-n", namespace.name, "addr", "add", "198.18.0.1/24", "dev", device])
            try Self.ip(["-n", namespace.name, "-6", "addr", "add", "2001:db8::1/64", "dev", device, "nodad"])
        } catch {
            try? Self.ip(["netns", "del", namespace.name])
            throw error
        }
    }

    deinit { try? Self.ip(["netns", "del", namespace.name]) }

    /// Runs `ip` with arguments; returns its output, throws with its error output if it fails.
    @discardableResult
    static func ip(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CommandFailure(description: "ip \(arguments.joined(separator: " ")): \(errorText)")
        }
        return text
    }

    struct CommandFailure: Error, CustomStringConvertible { var description: String }

    /// The device's index inside the namespace.
    func deviceIndex() throws -> UInt32 { try namespace.withEntered { if_nametoindex(device) } }

    /// A netlink socket opened inside the namespace.
    func netlink() throws -> RouteNetlink { try namespace.withEntered { () throws(SystemError) in try RouteNetlink() } }

    /// The kernel's own listing of a table's routes with a protocol: the oracle.
    func kernelRoutes(table: UInt32, protocol proto: UInt8, family: String) throws -> [String] {
        try Self.ip(["-n", namespace.name, family, "route", "show", "table", String(table), "proto", String(proto)])
            .split(separator: "\n").map(String.init)
    }
}

let isRoot = getuid() == 0

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
