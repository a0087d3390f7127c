import Foundation
import TandemConfig
import TandemLinux
import TandemPacket
import Testing

@testable import TandemDaemon

/// The dump at start on its thread (tandem-dump), in a namespace of the test's own: a table of BIRD's routes (and a
/// few of another protocol) comes in chunks, all of it and nothing else, as the kernel lists it to a plain dump.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root to make a network namespace"))
struct StartDumpTests {
    static let bird: UInt8 = 12

    /// Runs `body` in a new namespace with a veth pair up (`v0`), removed after.
    static func withNamespace(_ body: (NetworkNamespace, UInt32) throws -> Void) throws {
        let namespace = NetworkNamespace(name: "tandem-dump-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try ForwarderLab.run("/usr/sbin/ip", ["netns", "add", namespace.name])
        defer { _ = try? ForwarderLab.run("/usr/sbin/ip", ["netns", "del", namespace.name]) }
        for arguments in [["link", "add", "v0", "type", "veth", "peer", "name", "v1"], ["link", "set", "v0", "up"]] {
            try ForwarderLab.run("/usr/sbin/ip", ["-n", namespace.name] + arguments)
        }
        let device = try namespace.withEntered { if_nametoindex("v0") }
        try body(namespace, device)
    }

    /// `count` /30s in a row from `base` (inside 198.18.0.0/15).
    static func routes(_ count: Int, protocol proto: UInt8, device: UInt32, base: UInt32) -> [KernelRoute] {
        (0..<count).map { index in
            KernelRoute(
                prefix: .v4(IPv4Prefix(normalizing: IPv4Address(rawValue: base + UInt32(index) << 2), length: 30)),
                table: 254, protocol: proto, target: .device(device))
        }
    }

    /// Everything `dump` hands over, and how many chunks it took.
    static func drain(_ dump: StartDump) throws -> (routes: [KernelRoute], chunks: Int) {
        var routes: [KernelRoute] = []
        var chunks = 0
        while let chunk = try dump.next() {
            routes += chunk
            chunks += 1
        }
        #expect(try dump.next() == nil)
        return (routes, chunks)
    }

    @Test(arguments: [[bird], [bird, 186]] as [[UInt8]])
    func theTableComesInChunksAllOfItAndNothingElse(protocols: [UInt8]) throws {
        try Self.withNamespace { namespace, device in
            let birds = Self.routes(20_000, protocol: Self.bird, device: device, base: 0xC612_0000)
            let v6 = (0..<500).map { index in
                KernelRoute(
                    prefix: .v6(IPv6Prefix(normalizing: IPv6Address(rawValue: (0x2001_0db8_0002 as UInt128) << 80 | UInt128(index) << 64), length: 64)),
                    table: 254, protocol: Self.bird, target: .device(device))
            }
            let others = Self.routes(50, protocol: 77, device: device, base: 0xC613_C800)
            let netlink = try namespace.withEntered { () throws(SystemError) in try RouteNetlink() }
            #expect(try netlink.apply((birds + v6 + others).map { .add($0, replace: false) }).isEmpty)
            // The thread is made inside the namespace, so its socket is there too.
            let dump = try namespace.withEntered { () throws(SystemError) in
                try StartDump(GatewayConfig.Learning(table: 254, protocols: protocols))
            }
            let (routes, chunks) = try Self.drain(dump)
            #expect(dump.wasConsistent)
            #expect(routes.count == birds.count + v6.count)
            #expect(Set(routes) == Set(birds + v6))
            #expect(Set(routes) == Set(try netlink.routes(table: 254, protocol: Self.bird)))
            #expect(chunks == (birds.count + v6.count + StartDump.chunkSize - 1) / StartDump.chunkSize)
        }
    }

    @Test func aTableOfNoRoutesIsAnEmptyDump() throws {
        try Self.withNamespace { namespace, _ in
            let dump = try namespace.withEntered { () throws(SystemError) in
                try StartDump(GatewayConfig.Learning(table: 254, protocols: [Self.bird]))
            }
            let (routes, chunks) = try Self.drain(dump)
            #expect(routes.isEmpty && chunks == 0)
            #expect(dump.wasConsistent)
        }
    }
}
