import Foundation
import Glibc
import TandemLinux
import TandemPacket
import Testing

/// A probe socket takes answers from its destination only, lets only echo replies through a raw socket, and reads
/// a bounded number of datagrams at a time (issue 13: spoofed or flooded answers must never keep a dead tunnel up
/// or hold the thread that times the probes). In a namespace of the test's own, over its loopback.
@Suite(.serialized, .enabled(if: isRoot, "needs root to make network namespaces (tools/test runs as root in CI)"))
struct ProbeSocketTests {
    /// 198.18.0.1 (the probe's source), .2 (its destination, the "peer") and .3 (a stranger) on v0, lo up.
    static func withAddresses(_ body: (TestNamespace) throws -> Void) throws {
        try TestNamespace.with { lab in
            let name = lab.namespace.name
            try TestNamespace.ip(["-n", name, "link", "set", "lo", "up"])
            for address in ["198.18.0.2/24", "198.18.0.3/24"] {
                try TestNamespace.ip(["-n", name, "addr", "add", address, "dev", "v0"])
            }
            try TestNamespace.ip(["-n", name, "-6", "addr", "add", "2001:db8::2/64", "dev", "v0", "nodad"])
            try body(lab)
        }
    }

    /// A plain UDP socket bound to `address`:`port` inside the namespace.
    static func udpSocket(in lab: TestNamespace, address: String, port: UInt16) throws -> CInt {
        let descriptor = try lab.namespace.withEntered { socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0) }
        var socketAddress = try Self.socketAddress(address, port: port)
        let bound = withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        #expect(bound == 0, "binding \(address):\(port): errno \(errno)")
        return descriptor
    }

    static func socketAddress(_ address: String, port: UInt16) throws -> sockaddr_in {
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = port.bigEndian
        socketAddress.sin_addr.s_addr = try IPv4Address(address).rawValue.bigEndian
        return socketAddress
    }

    /// A UDP probe socket from 198.18.0.1 to the echo port of 198.18.0.2, inside the namespace.
    static func udpProbe(in lab: TestNamespace) throws -> ProbeSocket {
        try lab.namespace.withEntered { () throws(SystemError) in
            try ProbeSocket(
                kind: .udpEcho(port: 7), source: .v4(try! IPv4Address("198.18.0.1")),
                destination: .v4(try! IPv4Address("198.18.0.2")), device: nil)
        }
    }

    /// The port the kernel gave a socket.
    static func port(of descriptor: CInt) -> UInt16 {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        return UInt16(bigEndian: address.sin_port)
    }

    /// Sends a token's 16 bytes from `descriptor` to 198.18.0.1:`port`.
    static func sendToken(_ token: ProbeToken, from descriptor: CInt, toPort port: UInt16) throws {
        var bytes = [UInt8](repeating: 0, count: 16)
        for (offset, word) in [UInt32(0x544E_4450), token.tunnel, token.sequence, token.nonce].enumerated() {
            bytes.replaceSubrange((offset * 4)..<(offset * 4 + 4), with: withUnsafeBytes(of: word.bigEndian) { Array($0) })
        }
        var destination = try socketAddress("198.18.0.1", port: port)
        let sent = withUnsafePointer(to: &destination) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(descriptor, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        #expect(sent == 16)
    }

    /// Whether a datagram waits on `descriptor` (after what was sent had the time to arrive).
    static func isReadable(_ descriptor: CInt) -> Bool {
        usleep(50_000)
        var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) == 1
    }

    @Test func aUDPProbeTakesAnswersFromItsDestinationOnly() throws {
        try Self.withAddresses { lab in
            let peer = try Self.udpSocket(in: lab, address: "198.18.0.2", port: 7)
            let stranger = try Self.udpSocket(in: lab, address: "198.18.0.3", port: 7)
            defer { close(peer); close(stranger) }
            let probe = try Self.udpProbe(in: lab)
            let port = Self.port(of: probe.descriptor)
            // The stranger knows the whole token (the worst case) and sends it from the right port of the wrong host.
            let token = ProbeToken(tunnel: 1, sequence: 5, nonce: 0xABCD)
            try Self.sendToken(token, from: stranger, toPort: port)
            #expect(!Self.isReadable(probe.descriptor), "a datagram from 198.18.0.3 reached the connected socket")
            try Self.sendToken(token, from: peer, toPort: port)
            #expect(Self.isReadable(probe.descriptor))
            #expect(try probe.receive().map(\.token) == [token])
        }
    }

    /// A tunnel whose device is down at start has no route to its peer: the start goes on, the probes fail.
    @Test func aDestinationWithoutARouteFailsTheSendNotTheStart() throws {
        try Self.withAddresses { lab in
            let probe = try lab.namespace.withEntered { () throws(SystemError) in
                try ProbeSocket(
                    kind: .udpEcho(port: 7), source: .v4(try! IPv4Address("198.18.0.1")),
                    destination: .v4(try! IPv4Address("198.19.9.9")), device: nil)
            }
            #expect(throws: SystemError(code: ENETUNREACH, operation: "connecting a probe socket to 198.19.9.9")) {
                _ = try probe.send(ProbeToken(tunnel: 0, sequence: 1, nonce: 1))
            }
        }
    }

    @Test func aFloodIsReadABoundedNumberAtATime() throws {
        try Self.withAddresses { lab in
            let peer = try Self.udpSocket(in: lab, address: "198.18.0.2", port: 7)
            defer { close(peer) }
            let probe = try Self.udpProbe(in: lab)
            let port = Self.port(of: probe.descriptor)
            let flood = ProbeSocket.datagramsPerRead + 10
            for sequence in 0..<flood {
                try Self.sendToken(ProbeToken(tunnel: 1, sequence: UInt32(sequence), nonce: 1), from: peer, toPort: port)
            }
            #expect(Self.isReadable(probe.descriptor))
            #expect(try probe.receive().count == ProbeSocket.datagramsPerRead)
            #expect(try probe.receive().count == 10)
            #expect(try probe.receive().isEmpty)
        }
    }

    @Test(arguments: [("198.18.0.1", "198.18.0.2"), ("2001:db8::1", "2001:db8::2")])
    func anICMPProbeSeesEchoRepliesOnly(source: String, destination: String) throws {
        try Self.withAddresses { lab in
            let (probe, other) = try lab.namespace.withEntered { () throws(SystemError) in
                let probe = try ProbeSocket(
                    kind: .icmpEcho(identifier: 77), source: try! AnyIPAddress(source),
                    destination: try! AnyIPAddress(destination), device: nil)
                // The peer pings the probe's source: an echo request that, unfiltered, a raw socket also receives.
                let other = try ProbeSocket(
                    kind: .icmpEcho(identifier: 78), source: try! AnyIPAddress(destination),
                    destination: try! AnyIPAddress(source), device: nil)
                return (probe, other)
            }
            #expect(try other.send(ProbeToken(tunnel: 9, sequence: 1, nonce: 2)))
            #expect(!Self.isReadable(probe.descriptor), "an echo request reached the probe socket")
            // The probe's own echo request is answered by the kernel at the destination: that reply comes through.
            let token = ProbeToken(tunnel: 1, sequence: 3, nonce: 0x1234_5678)
            #expect(try probe.send(token))
            #expect(Self.isReadable(probe.descriptor))
            #expect(try probe.receive().map(\.token) == [token])
        }
    }

    /// Each answer says how long it waited to be read (the kernel's receive timestamp): the round trip and the
    /// timeout are judged by when it came, not by when a busy control thread read it.
    @Test func anAnswerSaysHowLongItWaitedToBeRead() throws {
        try Self.withAddresses { lab in
            let peer = try Self.udpSocket(in: lab, address: "198.18.0.2", port: 7)
            defer { close(peer) }
            let probe = try Self.udpProbe(in: lab)
            // The kernel turns receive timestamps on for the whole system a moment after the first socket asks
            // (a static key, switched from a work queue); a datagram received before that is stamped when it is
            // read. A probe socket lives for the whole run: only its first answers can meet this.
            usleep(100_000)
            let token = ProbeToken(tunnel: 1, sequence: 8, nonce: 0x77)
            try Self.sendToken(token, from: peer, toPort: Self.port(of: probe.descriptor))
            #expect(Self.isReadable(probe.descriptor))
            usleep(30_000)
            let answers = try probe.receive()
            #expect(answers.map(\.token) == [token])
            let waited = answers.first?.waited ?? 0
            // At least the 30 ms slept; under a second however loaded the machine.
            #expect(waited >= 29_000_000 && waited < 1_000_000_000, "waited \(waited) ns")
        }
    }
}
