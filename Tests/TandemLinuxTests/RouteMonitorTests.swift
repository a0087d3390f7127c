import Foundation
import Testing
import TandemLinux
import TandemPacket

/// Routes another program (here `ip`, standing in for BIRD) puts in the kernel are reported, filtered by table
/// and protocol.
@Suite(.serialized, .enabled(if: isRoot, "needs root to make network namespaces (tools/test runs as root in CI)"))
struct RouteMonitorTests {
    @Test func routesOfTheWatchedTableAndProtocolAreReported() throws {
        try TestNamespace.with { lab in
            let monitor = try lab.namespace.withEntered { () throws(SystemError) in try RouteMonitor() }
            let name = lab.namespace.name
            #expect(try monitor.read(table: 254, protocols: [12]).isEmpty, "nothing yet, and no blocking")
            // proto 12 is bird; one route elsewhere (another protocol, another table) must not be reported.
            try TestNamespace.ip(["-n", name, "route", "add", "198.19.8.0/24", "dev", "v0", "proto", "bird"])
            try TestNamespace.ip(["-n", name, "route", "add", "198.19.9.0/24", "dev", "v0", "proto", "static"])
            try TestNamespace.ip(["-n", name, "route", "add", "198.19.10.0/24", "dev", "v0", "proto", "bird", "table", "7"])
            try TestNamespace.ip(["-n", name, "-6", "route", "add", "2001:db8:8::/48", "dev", "v0", "proto", "bird"])
            try TestNamespace.ip(["-n", name, "route", "del", "198.19.8.0/24", "dev", "v0", "proto", "bird"])
            let index = try lab.deviceIndex()
            let seen = try monitor.read(table: 254, protocols: [12])
            #expect(seen == [
                .added(KernelRoute(prefix: try RoutePrefix("198.19.8.0/24"), table: 254, protocol: 12, target: .device(index))),
                .added(KernelRoute(prefix: try RoutePrefix("2001:db8:8::/48"), table: 254, protocol: 12, target: .device(index))),
                .removed(KernelRoute(prefix: try RoutePrefix("198.19.8.0/24"), table: 254, protocol: 12, target: .device(index))),
            ])
        }
    }

    /// The kernel sets ENOBUFS once per congestion: while the queue never empties (a reader taking a batch at a
    /// time while BIRD loads a table), later drops are silent. The drop counter reports them.
    @Test func everyDropIsReportedNotOnlyTheFirstOfACongestion() throws {
        try TestNamespace.with { lab in
            let monitor = try lab.namespace.withEntered { () throws(SystemError) in
                try RouteMonitor(receiveBuffer: 4096)
            }
            try monitor.filter(table: 254, protocols: [12])
            let name = lab.namespace.name
            func addRoutes(_ range: Range<Int>) throws {
                let lines = range.map { "route add 198.19.\($0 / 256).\($0 % 256)/32 dev v0 proto bird" }
                let file = NSTemporaryDirectory() + "tandem-routes-\(getpid()).batch"
                try (lines.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
                defer { try? FileManager.default.removeItem(atPath: file) }
                try TestNamespace.ip(["-n", name, "-batch", file])
            }
            try addRoutes(0..<200)
            #expect(throws: SystemError.self, "the first overflow: the socket's error") {
                try monitor.read(table: 254, protocols: [12], atMost: 1)
            }
            // A few read, the queue still not empty: the congestion goes on, and so do the drops.
            let first = try monitor.read(table: 254, protocols: [12], atMost: 1)
            #expect(!first.isEmpty)
            try addRoutes(200..<400)
            let error = #expect(throws: SystemError.self, "later drops of the same congestion") {
                try monitor.read(table: 254, protocols: [12], atMost: 1)
            }
            #expect(error?.code == ENOBUFS)
        }
    }

    @Test func theKernelFilterKeepsOtherTablesAndProtocolsOutOfTheQueue() throws {
        try TestNamespace.with { lab in
            let monitor = try lab.namespace.withEntered { () throws(SystemError) in try RouteMonitor() }
            try monitor.filter(table: 254, protocols: [12])
            let name = lab.namespace.name
            // Without the filter, read(table: 7, ...) would report this route (see the test above).
            try TestNamespace.ip(["-n", name, "route", "add", "198.19.10.0/24", "dev", "v0", "proto", "bird", "table", "7"])
            #expect(try monitor.read(table: 7, protocols: [12]).isEmpty, "table 7 is filtered out in the kernel")
            try TestNamespace.ip(["-n", name, "route", "add", "198.19.9.0/24", "dev", "v0", "proto", "static"])
            try TestNamespace.ip(["-n", name, "route", "add", "198.19.8.0/24", "dev", "v0", "proto", "bird"])
            let index = try lab.deviceIndex()
            #expect(
                try monitor.read(table: 254, protocols: [4, 12]) == [
                    .added(KernelRoute(prefix: try RoutePrefix("198.19.8.0/24"), table: 254, protocol: 12, target: .device(index)))
                ], "proto static is filtered out in the kernel")
        }
    }
}
