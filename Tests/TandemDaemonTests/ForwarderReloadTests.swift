import Foundation
import Synchronization
import TandemDataplane
import TandemLinux
import TandemPacket
import TandemRouting
import Testing

@testable import TandemDaemon

/// A network namespace with the devices of userspace mode: an ingress TUN device with two queues (the kernel routes
/// 198.19.0.0/16 into it) and two egress TUN devices, one per tunnel, all up. IPv6 is off in the namespace so that
/// the kernel sends nothing into the devices but the test's datagrams. Removed (with its devices) when it goes.
final class ForwarderLab {
    static let queueCount = 2
    let namespace: NetworkNamespace
    let ingress: TunDevice
    let egress: [TunDevice]

    init() throws {
        namespace = NetworkNamespace(name: "tandem-fwd-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try Self.run("/usr/sbin/ip", ["netns", "add", namespace.name])
        do {
            try Self.run("/usr/sbin/ip", ["netns", "exec", namespace.name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
            try Self.run(
                "/usr/sbin/ip", ["netns", "exec", namespace.name, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"])
            (ingress, egress) = try namespace.withEntered { () throws(SystemError) -> (TunDevice, [TunDevice]) in
                (
                    try TunDevice(name: "fwd-in", queueCount: Self.queueCount),
                    [
                        try TunDevice(name: "fwd-a", queueCount: Self.queueCount),
                        try TunDevice(name: "fwd-b", queueCount: Self.queueCount),
                    ]
                )
            }
            for device in ["fwd-in", "fwd-a", "fwd-b"] {
                // A long queue: a pipeline thread slowed down by a sanitizer must not make the kernel drop packets.
                try ip(["link", "set", device, "up", "txqueuelen", "10000"])
            }
            try ip(["addr", "add", "198.18.5.1/24", "dev", "fwd-in"])
            try ip(["route", "add", "198.19.0.0/16", "dev", "fwd-in"])
        } catch {
            _ = try? Self.run("/usr/sbin/ip", ["netns", "del", namespace.name])
            throw error
        }
    }

    deinit { _ = try? Self.run("/usr/sbin/ip", ["netns", "del", namespace.name]) }

    func ip(_ arguments: [String]) throws { try Self.run("/usr/sbin/ip", ["-n", namespace.name] + arguments) }

    /// A UDP socket in the namespace.
    func udpSocket() throws -> CInt {
        try namespace.withEntered { socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0) }
    }

    /// Runs a program to its end; throws with its error output if it fails.
    static func run(_ executable: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ForwarderLabError(description: "\(executable) \(arguments.joined(separator: " ")): \(errorText)")
        }
    }
}

struct ForwarderLabError: Error, CustomStringConvertible {
    let description: String
}

/// A reload while packets flow: the control thread hands the pipeline threads a new router (a new plane, with its
/// own policy classifier) again and again, as SIGHUP does, while datagrams stream through the ingress device. The
/// threads free each old plane when they drop its pipeline; none may read one freed under it (ThreadSanitizer and
/// AddressSanitizer would report it; tools/lib/check-sanitizers runs this under ThreadSanitizer), and no packet may
/// be lost to a reload.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root to make a network namespace and TUN devices"))
struct ForwarderReloadTests {
    /// Generation g: 198.19.0.0/16 through connection g % 2 (tunnel fwd-a or fwd-b), and a policy route for UDP
    /// from 198.18.5.0/24 to 198.19.128.0/17 through the other one, so every other packet reads the classifier.
    static func router(generation: Int) throws -> Router {
        var capacity = ForwardingPlane.Capacity()
        capacity.chains = 1 << 10
        capacity.groups = 1 << 6
        capacity.connections = 1 << 4
        let destination = ConnectionID(generation % 2)
        let policy = ConnectionID(1 - generation % 2)
        return try Router(
            RouterConfiguration(
                tunnels: [.init(name: "a"), .init(name: "b")],
                connections: [.init(name: "c0", tunnels: [TunnelID(0)]), .init(name: "c1", tunnels: [TunnelID(1)])],
                routes: [Route(prefix: try RoutePrefix("198.19.0.0/16"), source: .static, connection: destination)],
                policyRoutes: [
                    PolicyRoute(
                        match: .init(
                            source: try RoutePrefix("198.18.5.0/24"), destination: try RoutePrefix("198.19.128.0/17"),
                            protocol: 17),
                        priority: 1, connection: policy)
                ],
                capacity: capacity))
    }

    final class Sender: Sendable {
        let sent = Atomic<Int>(0)
        let stop = Atomic<Bool>(false)
        let done = Atomic<Bool>(false)
        let failures = Atomic<Int>(0)
    }

    @Test func pipelineThreadsTakeEachNewRouterWithoutLosingAPacket() throws {
        let lab = try ForwarderLab()
        let configuration = PipelineConfiguration(tunnelMTUs: [1500, 1500])
        func setup(generation: Int) throws -> ForwardingSetup {
            ForwardingSetup(
                ingress: lab.ingress, plane: try Self.router(generation: generation).plane, pipeline: configuration,
                egress: lab.egress)
        }
        let forwarder = Forwarder(setup: try setup(generation: 0), log: EventLog(level: .warning))
        try forwarder.start()
        defer { forwarder.stop() }

        let descriptor = try lab.udpSocket()
        defer { close(descriptor) }
        let sender = Sender()
        Thread {
            let payload = [UInt8](repeating: 0x5A, count: 64)
            var index = 0
            while !sender.stop.load(ordering: .acquiring) {
                // Half to the destination route, half to the policy route; many ports, so both queues get flows.
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_port = UInt16(1000 + index % 500).bigEndian
                let third: UInt32 = index % 2 == 0 ? 1 : 200
                address.sin_addr.s_addr = (UInt32(198) << 24 | 19 << 16 | third << 8 | UInt32(1 + index % 250)).bigEndian
                let result = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(descriptor, payload, payload.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
                if result == payload.count { sender.sent.add(1, ordering: .relaxed) } else { sender.failures.add(1, ordering: .relaxed) }
                index += 1
                // A steady stream (a few thousand packets a second), not a burst that only fills the kernel's queue.
                usleep(200)
            }
            sender.done.store(true, ordering: .releasing)
        }.start()
        // Also when a reload throws: the sender must not write to the socket after it is closed.
        defer {
            sender.stop.store(true, ordering: .releasing)
            while !sender.done.load(ordering: .acquiring) { usleep(1000) }
        }

        // Reloads while the stream flows. With TANDEM_TEST_UNDER_SANITIZER=1 (tools/lib/check-sanitizers) fewer:
        // a router with a policy classifier takes a second to build in a debug build under ThreadSanitizer.
        let underSanitizer = ProcessInfo.processInfo.environment["TANDEM_TEST_UNDER_SANITIZER"] == "1"
        let reloads = underSanitizer ? 6 : 40
        while sender.sent.load(ordering: .relaxed) == 0 { usleep(1000) }
        for generation in 1...reloads {
            let next = try setup(generation: generation)
            try forwarder.replace(with: next)
            usleep(5000)
        }
        sender.stop.store(true, ordering: .releasing)
        while !sender.done.load(ordering: .acquiring) { usleep(1000) }
        // Every datagram reaches a pipeline (the summary is at most 100 ms old while the threads run).
        let deadline = Date().addingTimeInterval(10)
        while forwarder.summary.pipeline.received.packets < sender.sent.load(ordering: .relaxed) && Date() < deadline {
            usleep(10_000)
        }
        #expect(forwarder.allThreadsRunning)
        forwarder.stop()
        let totals = forwarder.summary
        let sent = sender.sent.load(ordering: .relaxed)
        #expect(sender.failures.load(ordering: .relaxed) == 0)
        #expect(totals.pipeline.received.packets == sent, "every datagram sent reached a pipeline")
        #expect(totals.pipeline.perTunnel.map(\.packets).reduce(0, +) == sent, "every datagram was forwarded")
        #expect(totals.pipeline.perTunnel.allSatisfy { $0.packets > 0 }, "both tunnels carried traffic")
        #expect(sent > 0)
        #expect(totals.pipeline.totalDrops == 0)
        #expect(totals.readErrors == 0 && totals.failedWrites == 0)
        // What the threads say of their queues (IngressQueueGovernor): every datagram read, each queue drained.
        let readings = forwarder.queueReadings
        #expect(readings.count == ForwarderLab.queueCount)
        #expect(readings.map(\.packetsRead).reduce(0, +) == UInt64(sent))
        #expect(readings.allSatisfy { $0.busySince == 0 }, "no queue stands once the stream has ended")
    }
}
