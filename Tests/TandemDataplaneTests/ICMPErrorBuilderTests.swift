import TandemDataplane
import TandemPacket
import Testing

/// The gateway's own addresses, which the errors come from.
private let builder = ICMPErrorBuilder(ipv4Source: IPv4Address(198, 18, 255, 254), ipv6Source: v6("2001:db8::fffe"))

/// The error `builder` writes about `packet` into an output of `outputSize` bytes, or `nil`.
private func error(_ kind: ICMPErrorKind, about packet: [UInt8], outputSize: Int = 2048) -> [UInt8]? {
    var output = [UInt8](repeating: 0xEE, count: outputSize)
    let length = packet.withUnsafeBytes { raw in
        output.withUnsafeMutableBytes { builder.write(kind, about: raw, into: $0) }
    }
    return length.map { Array(output[..<$0]) }
}

/// The IPv4 error the RFCs describe, built field by field with the reference checksum.
private func expectedIPv4Error(type: UInt8, code: UInt8, rest: UInt32 = 0, tos: UInt8 = 0xC0, quoting quote: [UInt8])
    -> [UInt8]
{
    var icmp: [UInt8] = [type, code, 0, 0]
    icmp.append32(rest)
    icmp += quote
    icmp.set16(referenceChecksum(icmp), at: 2)
    var ip: [UInt8] = [0x45, tos]
    ip.append16(UInt16(20 + icmp.count))
    ip.append32(0)
    ip += [64, 1, 0, 0]
    ip.append(IPv4Address(198, 18, 255, 254))
    ip.append(IPv4Address(198, 18, 0, 1))
    ip.set16(referenceChecksum(ip), at: 10)
    return ip + icmp
}

/// The IPv6 error the RFCs describe, built field by field with the reference checksum over the pseudo-header.
private func expectedIPv6Error(type: UInt8, code: UInt8, rest: UInt32 = 0, quoting quote: [UInt8]) -> [UInt8] {
    var icmp: [UInt8] = [type, code, 0, 0]
    icmp.append32(rest)
    icmp += quote
    var pseudo: [UInt8] = []
    pseudo.append(v6("2001:db8::fffe"))
    pseudo.append(v6("2001:db8::1"))
    pseudo.append32(UInt32(icmp.count))
    pseudo += [0, 0, 0, 58]
    icmp.set16(referenceChecksum(pseudo + icmp), at: 2)
    var ip: [UInt8] = [0x60, 0, 0, 0]
    ip.append16(UInt16(icmp.count))
    ip += [58, 64]
    ip.append(v6("2001:db8::fffe"))
    ip.append(v6("2001:db8::1"))
    return ip + icmp
}

/// Whether both checksums of an IPv4 error are right, by the module's checksum.
private func ipv4ChecksumsAreValid(_ packet: [UInt8]) -> Bool {
    packet.withUnsafeBytes { raw in
        InternetChecksum.sum(UnsafeRawBufferPointer(rebasing: raw[..<20])) == 0xFFFF
            && InternetChecksum.sum(UnsafeRawBufferPointer(rebasing: raw[20...])) == 0xFFFF
    }
}

@Suite("ICMP error builder: IPv4")
struct ICMPErrorBuilderIPv4Tests {
    @Test("time exceeded about a UDP packet, byte for byte (vector computed outside Swift)")
    func goldenTimeExceeded() {
        let offending: [UInt8] = [
            0x45, 0x00, 0x00, 0x20, 0x12, 0x34, 0x00, 0x00, 0x01, 0x11, 0x1B, 0x72, 0xC6, 0x12, 0x00, 0x01,
            0xC6, 0x13, 0x00, 0x01, 0x13, 0x88, 0x00, 0x35, 0x00, 0x0C, 0x00, 0x00, 0x61, 0x62, 0x63, 0x64,
        ]
        let expected: [UInt8] = [
            0x45, 0xC0, 0x00, 0x3C, 0x00, 0x00, 0x00, 0x00, 0x40, 0x01, 0xED, 0xDC, 0xC6, 0x12, 0xFF, 0xFE,
            0xC6, 0x12, 0x00, 0x01, 0x0B, 0x00, 0x1C, 0x70, 0x00, 0x00, 0x00, 0x00, 0x45, 0x00, 0x00, 0x20,
            0x12, 0x34, 0x00, 0x00, 0x01, 0x11, 0x1B, 0x72, 0xC6, 0x12, 0x00, 0x01, 0xC6, 0x13, 0x00, 0x01,
            0x13, 0x88, 0x00, 0x35, 0x00, 0x0C, 0x00, 0x00, 0x61, 0x62, 0x63, 0x64,
        ]
        #expect(error(.timeExceeded, about: offending) == expected)
    }

    @Test(
        "each type and code, about a UDP packet",
        arguments: [
            (ICMPErrorKind.timeExceeded, UInt8(11), UInt8(0), UInt32(0)),
            (.destinationUnreachable, 3, 0, 0),
            (.packetTooBig(mtu: 1400), 3, 4, 1400),  // next-hop MTU in bytes 6-7, bytes 4-5 zero
            (.packetTooBig(mtu: 68), 3, 4, 68),
            (.packetTooBig(mtu: 100_000), 3, 4, 65535),  // the field has 16 bits
        ])
    func typesAndCodes(kind: ICMPErrorKind, type: UInt8, code: UInt8, rest: UInt32) {
        var packet = IPv4Packet()
        packet.payload = udpDatagram(payload: pattern(100))
        let offending = packet.build()
        let written = error(kind, about: offending)
        #expect(written == expectedIPv4Error(type: type, code: code, rest: rest, quoting: offending))
        #expect(written.map(ipv4ChecksumsAreValid) == true)
    }

    @Test("with options: the error's own header has none, the quote keeps them")
    func offendingOptions() {
        var packet = IPv4Packet()
        packet.options = [0x94, 0x04, 0x00, 0x00, 0x07, 0x07, 0x04, 0, 0, 0, 0, 0x00]  // router alert, record route
        packet.payload = tcpSegment(payload: pattern(33))  // odd length: the checksum pads the last byte
        let offending = packet.build()
        let written = error(.destinationUnreachable, about: offending)
        #expect(written == expectedIPv4Error(type: 3, code: 0, quoting: offending))
        #expect(written?[0] == 0x45)
        #expect(written.map(ipv4ChecksumsAreValid) == true)
    }

    // IPTOS_TOS_MASK (0x1E) keeps the low ECN bit, as Linux does.
    @Test(
        "TOS is (offending TOS & 0x1E) | 0xC0, as Linux sets it",
        arguments: [
            (UInt8(0x00), UInt8(0xC0)), (0xB8, 0xD8), (0x03, 0xC2), (0xFF, 0xDE), (0x10, 0xD0), (0xE0, 0xC0),
        ])
    func typeOfService(offending tos: UInt8, expected: UInt8) {
        var packet = IPv4Packet()
        packet.typeOfService = tos
        packet.payload = udpDatagram()
        let offending = packet.build()
        let written = error(.timeExceeded, about: offending)
        #expect(written == expectedIPv4Error(type: 11, code: 0, tos: expected, quoting: offending))
    }

    @Test("a big packet is quoted up to 576 bytes in all")
    func truncation() {
        var packet = IPv4Packet()
        packet.payload = udpDatagram(payload: pattern(1472))
        let offending = packet.build()
        #expect(offending.count == 1500)
        let written = error(.packetTooBig(mtu: 1400), about: offending)
        #expect(written?.count == 576)
        #expect(written == expectedIPv4Error(type: 3, code: 4, rest: 1400, quoting: Array(offending[..<548])))
        #expect(written.map(ipv4ChecksumsAreValid) == true)
        // Exactly 548 bytes fit whole; 549 are cut by one.
        for size in [547, 548, 549] {
            packet.payload = udpDatagram(payload: pattern(size - 28))
            let quoted = error(.timeExceeded, about: packet.build())
            #expect(quoted?.count == 28 + min(size, 548))
        }
    }

    @Test("an output shorter than 576 bytes cuts the quote to fit, as a small route MTU does in Linux")
    func smallOutput() {
        var packet = IPv4Packet()
        packet.payload = udpDatagram(payload: pattern(500))
        let offending = packet.build()
        let written = error(.timeExceeded, about: offending, outputSize: 68)
        #expect(written == expectedIPv4Error(type: 11, code: 0, quoting: Array(offending[..<40])))
    }

    @Test("link-layer padding after the total length is not quoted")
    func padding() {
        var packet = IPv4Packet()
        packet.payload = udpDatagram()
        let offending = packet.build()
        #expect(
            error(.timeExceeded, about: offending + [0, 0, 0, 0])
                == expectedIPv4Error(type: 11, code: 0, quoting: offending))
    }

    @Test("the first fragment gets its error")
    func firstFragment() {
        var packet = IPv4Packet()
        packet.moreFragments = true
        packet.payload = udpDatagram(payload: pattern(64))
        #expect(error(.timeExceeded, about: packet.build()) != nil)
    }

    @Test("ICMP messages that are not errors get errors: echo, timestamp, unknown types")
    func icmpNonErrors() {
        for type: UInt8 in [0, 8, 13, 14, 17, 18, 19, 42, 255] {
            var packet = IPv4Packet()
            packet.proto = .icmp
            packet.payload = icmpMessage(type: type)
            #expect(error(.timeExceeded, about: packet.build()) != nil, "type \(type)")
        }
    }

    @Test("bytes that are not an IPv4 or IPv6 packet get nothing")
    func notAPacket() {
        #expect(error(.timeExceeded, about: []) == nil)
        #expect(error(.timeExceeded, about: [0x45, 0, 0]) == nil)
        #expect(error(.timeExceeded, about: [UInt8](repeating: 0x55, count: 60)) == nil)
    }
}

@Suite("ICMP error builder: IPv4 errors never sent")
struct ICMPErrorBuilderIPv4RefusalTests {
    /// The refusal for `packet`, checked against `write` returning nil.
    private func refusal(_ packet: IPv4Packet, _ kind: ICMPErrorKind = .timeExceeded) throws -> ICMPErrorRefusal? {
        let bytes = packet.build()
        let reason = try bytes.withUnsafeBytes { ICMPErrorBuilder.refusal(of: kind, about: try IPv4Header($0)) }
        #expect((error(kind, about: bytes) == nil) == (reason != nil))
        return reason
    }

    @Test("about an ICMP error: destination unreachable, source quench, redirect, time exceeded, parameter problem")
    func aboutICMPError() throws {
        for type: UInt8 in [3, 4, 5, 11, 12] {
            var packet = IPv4Packet()
            packet.proto = .icmp
            packet.payload = icmpMessage(type: type, body: [0, 0, 0, 0] + pattern(28))
            for kind in [ICMPErrorKind.timeExceeded, .destinationUnreachable, .packetTooBig(mtu: 576)] {
                #expect(try refusal(packet, kind) == .aboutICMPError, "type \(type)")
            }
        }
    }

    @Test("about an ICMP message too short to show its type")
    func icmpWithoutType() throws {
        var packet = IPv4Packet()
        packet.proto = .icmp
        #expect(try refusal(packet) == .aboutICMPError)
    }

    @Test("about a fragment other than the first")
    func notFirstFragment() throws {
        var packet = IPv4Packet()
        packet.fragmentOffset = 185
        packet.moreFragments = true
        packet.payload = pattern(64)
        #expect(try refusal(packet) == .notFirstFragment)
        packet.moreFragments = false
        #expect(try refusal(packet, .packetTooBig(mtu: 576)) == .notFirstFragment)
    }

    @Test("to a multicast destination")
    func multicastDestination() throws {
        for destination in ["224.0.0.5", "239.255.255.255", "232.1.2.3"] {
            var packet = IPv4Packet()
            packet.destination = v4(destination)
            packet.payload = udpDatagram()
            #expect(try refusal(packet) == .multicastDestination, "\(destination)")
            #expect(try refusal(packet, .packetTooBig(mtu: 1280)) == .multicastDestination, "\(destination)")
        }
    }

    @Test("to the limited broadcast address")
    func broadcastDestination() throws {
        var packet = IPv4Packet()
        packet.destination = v4("255.255.255.255")
        packet.payload = udpDatagram()
        #expect(try refusal(packet) == .broadcastDestination)
    }

    @Test("from 0.0.0.0 (and the rest of 0.0.0.0/8, a martian source in Linux)")
    func zeroSource() throws {
        for source in ["0.0.0.0", "0.1.2.3"] {
            var packet = IPv4Packet()
            packet.source = v4(source)
            packet.payload = udpDatagram()
            #expect(try refusal(packet) == .sourceNotUnicast, "\(source)")
        }
    }

    @Test("from a multicast source")
    func multicastSource() throws {
        var packet = IPv4Packet()
        packet.source = v4("224.0.0.1")
        packet.payload = udpDatagram()
        #expect(try refusal(packet) == .sourceNotUnicast)
    }

    @Test("from the limited broadcast address")
    func broadcastSource() throws {
        var packet = IPv4Packet()
        packet.source = v4("255.255.255.255")
        packet.payload = udpDatagram()
        #expect(try refusal(packet) == .sourceNotUnicast)
    }

    @Test("from a loopback source")
    func loopbackSource() throws {
        for source in ["127.0.0.1", "127.255.0.9"] {
            var packet = IPv4Packet()
            packet.source = v4(source)
            packet.payload = udpDatagram()
            #expect(try refusal(packet) == .sourceNotUnicast, "\(source)")
        }
    }

    @Test("the edges of the refused ranges still get errors")
    func edges() throws {
        for (source, destination) in [
            ("1.0.0.0", "223.255.255.255"), ("126.255.255.255", "240.0.0.1"), ("128.0.0.0", "255.255.255.254"),
            ("223.255.255.255", "1.2.3.4"), ("240.0.0.1", "198.19.0.1"),
        ] {
            var packet = IPv4Packet()
            packet.source = v4(source)
            packet.destination = v4(destination)
            packet.payload = udpDatagram()
            #expect(try refusal(packet) == nil, "\(source) -> \(destination)")
        }
    }
}

@Suite("ICMP error builder: IPv6")
struct ICMPErrorBuilderIPv6Tests {
    private static let offending: [UInt8] = [
        0x60, 0x00, 0x00, 0x00, 0x00, 0x14, 0x06, 0x01, 0x20, 0x01, 0x0D, 0xB8, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x20, 0x01, 0x0D, 0xB8, 0x00, 0x01, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x9C, 0x40, 0x01, 0xBB, 0x00, 0x00, 0x03, 0xE8,
        0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00,
    ]

    @Test("time exceeded about a TCP packet, byte for byte (vector computed outside Swift)")
    func goldenTimeExceeded() {
        let header: [UInt8] = [
            0x60, 0x00, 0x00, 0x00, 0x00, 0x44, 0x3A, 0x40, 0x20, 0x01, 0x0D, 0xB8, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFE, 0x20, 0x01, 0x0D, 0xB8, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x00, 0xED, 0x9D, 0x00, 0x00, 0x00, 0x00,
        ]
        #expect(error(.timeExceeded, about: Self.offending) == header + Self.offending)
    }

    @Test("packet too big about a TCP packet, byte for byte (vector computed outside Swift)")
    func goldenPacketTooBig() {
        let header: [UInt8] = [
            0x60, 0x00, 0x00, 0x00, 0x00, 0x44, 0x3A, 0x40, 0x20, 0x01, 0x0D, 0xB8, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFE, 0x20, 0x01, 0x0D, 0xB8, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0xE9, 0x25, 0x00, 0x00, 0x05, 0x78,
        ]
        #expect(error(.packetTooBig(mtu: 1400), about: Self.offending) == header + Self.offending)
    }

    @Test(
        "each type and code, about a TCP packet",
        arguments: [
            (ICMPErrorKind.timeExceeded, UInt8(3), UInt8(0), UInt32(0)),
            (.destinationUnreachable, 1, 0, 0),
            (.packetTooBig(mtu: 1280), 2, 0, 1280),
            (.packetTooBig(mtu: 100_000), 2, 0, 100_000),  // 32 bits
        ])
    func typesAndCodes(kind: ICMPErrorKind, type: UInt8, code: UInt8, rest: UInt32) {
        let offending = IPv6Packet(then: .tcp, tcpSegment(payload: pattern(101))).build()
        let written = error(kind, about: offending)
        #expect(written == expectedIPv6Error(type: type, code: code, rest: rest, quoting: offending))
        #expect(written.map(icmpv6ChecksumIsValid) == true)
    }

    @Test("with extension headers: walked to the upper layer, quoted as they are")
    func extensionHeaders() {
        let headers: [ExtensionHeader] = [
            .hopByHop, .routing, .fragment(offset: 0, more: true), .destinationOptions(length: 1),
        ]
        let offending = IPv6Packet(headers, then: .udp, udpDatagram(payload: pattern(40))).build()
        let written = error(.destinationUnreachable, about: offending)
        #expect(written == expectedIPv6Error(type: 1, code: 0, quoting: offending))
        #expect(written.map(icmpv6ChecksumIsValid) == true)
        // ICMPv6 informational messages behind extension headers get errors too.
        let echo = IPv6Packet([.destinationOptions()], then: .icmpv6, icmpMessage(type: 128)).build()
        #expect(error(.timeExceeded, about: echo) == expectedIPv6Error(type: 3, code: 0, quoting: echo))
    }

    @Test("a big packet is quoted up to 1280 bytes in all")
    func truncation() {
        let offending = IPv6Packet([.hopByHop], then: .udp, udpDatagram(payload: pattern(1444))).build()
        #expect(offending.count == 1500)
        let written = error(.packetTooBig(mtu: 1400), about: offending)
        #expect(written?.count == 1280)
        #expect(written == expectedIPv6Error(type: 2, code: 0, rest: 1400, quoting: Array(offending[..<1232])))
        #expect(written.map(icmpv6ChecksumIsValid) == true)
        for size in [1231, 1232, 1233] {
            let packet = IPv6Packet(then: .udp, udpDatagram(payload: pattern(size - 48))).build()
            #expect(error(.timeExceeded, about: packet)?.count == 48 + min(size, 1232))
        }
    }

    @Test("packet too big is sent about a packet to a multicast group (RFC 4443 2.4(e.2))")
    func packetTooBigToMulticast() {
        var packet = IPv6Packet(then: .udp, udpDatagram(payload: pattern(1400)))
        packet.destination = v6("ff0e::1:3")
        let offending = packet.build()
        let written = error(.packetTooBig(mtu: 1280), about: offending)
        #expect(written == expectedIPv6Error(type: 2, code: 0, rest: 1280, quoting: Array(offending[..<1232])))
    }
}

@Suite("ICMP error builder: IPv6 errors never sent")
struct ICMPErrorBuilderIPv6RefusalTests {
    private func refusal(_ packet: IPv6Packet, _ kind: ICMPErrorKind = .timeExceeded) throws -> ICMPErrorRefusal? {
        let bytes = packet.build()
        let reason = try bytes.withUnsafeBytes { ICMPErrorBuilder.refusal(of: kind, about: try IPv6Header($0)) }
        #expect((error(kind, about: bytes) == nil) == (reason != nil))
        return reason
    }

    @Test("about an ICMPv6 error message: every type 0...127")
    func aboutICMPv6Error() throws {
        for type in UInt8(0)...127 {
            let packet = IPv6Packet(then: .icmpv6, icmpMessage(type: type))
            #expect(try refusal(packet) == .aboutICMPError, "type \(type)")
            #expect(try refusal(packet, .packetTooBig(mtu: 1280)) == .aboutICMPError, "type \(type)")
        }
        for type in UInt8(128)...255 {
            #expect(try refusal(IPv6Packet(then: .icmpv6, icmpMessage(type: type))) == nil, "type \(type)")
        }
    }

    @Test("about an ICMPv6 error behind extension headers, found with the walker")
    func aboutICMPv6ErrorBehindExtensionHeaders() throws {
        let headers: [ExtensionHeader] = [.hopByHop, .destinationOptions(length: 2), .fragment(offset: 0, more: true)]
        #expect(try refusal(IPv6Packet(headers, then: .icmpv6, icmpMessage(type: 1))) == .aboutICMPError)
        #expect(try refusal(IPv6Packet(headers, then: .icmpv6, icmpMessage(type: 129))) == nil)
    }

    @Test("about an ICMPv6 message too short to show its type")
    func icmpv6WithoutType() throws {
        #expect(try refusal(IPv6Packet([.routing], then: .icmpv6, [])) == .aboutICMPError)
    }

    @Test("about a fragment other than the first")
    func notFirstFragment() throws {
        let packet = IPv6Packet([.fragment(offset: 181, more: true)], then: .udp, pattern(64))
        #expect(try refusal(packet) == .notFirstFragment)
        let last = IPv6Packet([.hopByHop, .fragment(offset: 1, more: false)], then: .tcp, pattern(64))
        #expect(try refusal(last, .packetTooBig(mtu: 1280)) == .notFirstFragment)
    }

    @Test("to a multicast destination, except packet too big")
    func multicastDestination() throws {
        for destination in ["ff02::1", "ff0e::1:3", "ff05::2"] {
            var packet = IPv6Packet(then: .udp, udpDatagram())
            packet.destination = v6(destination)
            #expect(try refusal(packet, .timeExceeded) == .multicastDestination)
            #expect(try refusal(packet, .destinationUnreachable) == .multicastDestination)
            #expect(try refusal(packet, .packetTooBig(mtu: 1280)) == nil)
        }
    }

    @Test("from the unspecified address")
    func unspecifiedSource() throws {
        var packet = IPv6Packet(then: .udp, udpDatagram())
        packet.source = v6("::")
        #expect(try refusal(packet) == .sourceNotUnicast)
        #expect(try refusal(packet, .packetTooBig(mtu: 1280)) == .sourceNotUnicast)
    }

    @Test("from a multicast source")
    func multicastSource() throws {
        var packet = IPv6Packet(then: .udp, udpDatagram())
        packet.source = v6("ff02::1")
        #expect(try refusal(packet) == .sourceNotUnicast)
    }

    @Test("from the loopback address")
    func loopbackSource() throws {
        var packet = IPv6Packet(then: .udp, udpDatagram())
        packet.source = v6("::1")
        #expect(try refusal(packet) == .sourceNotUnicast)
    }

    @Test("about a packet whose extension headers cannot be walked")
    func malformedChain() throws {
        // A destination options header that claims 16 bytes more than the packet has.
        var packet = IPv6Packet([.destinationOptions()], then: .udp, [])
        packet.payload[1] = 2
        #expect(try refusal(packet) == .malformed)
    }
}
