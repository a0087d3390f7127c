import TandemPacket
import Testing

@Suite("IPv6 header view and extension headers")
struct IPv6HeaderTests {
    @Test("reads every field of the fixed header")
    func fields() throws {
        var builder = IPv6Builder([], then: .udp, udpDatagram(source: 53, destination: 5353))
        builder.trafficClass = 0xB8
        builder.flowLabel = 0xABCDE
        builder.hopLimit = 3
        builder.source = v6("2001:db8::1")
        builder.destination = v6("2001:db8:ffff::2")
        let bytes = builder.build()
        try withIPv6(bytes) { header in
            #expect(header.trafficClass == 0xB8)
            #expect(header.flowLabel == 0xABCDE)
            #expect(header.payloadLength == 8)
            #expect(header.nextHeader == .udp)
            #expect(header.hopLimit == 3)
            #expect(header.source == v6("2001:db8::1"))
            #expect(header.destination == v6("2001:db8:ffff::2"))
            #expect(Array(header.payload) == udpDatagram(source: 53, destination: 5353))
            let upper = try header.upperLayer()
            #expect(upper == IPv6UpperLayer(protocol: .udp, offset: 40, extensionHeaderCount: 0, fragment: nil))
            #expect(upper.hasTransportHeader)
        }
    }

    @Test("link-layer padding after the payload length is not part of the packet")
    func padding() throws {
        try withIPv6(IPv6Builder([], then: .noNextHeader, [9, 9]).build() + [0, 0]) { header in
            #expect(header.packet.count == 42)
            #expect(Array(header.payload) == [9, 9])
        }
    }

    @Test("walks every kind of extension header to the transport header")
    func chainWalk() throws {
        let headers: [ExtensionHeader] = [
            .hopByHop(length: 1), .destinationOptions(), .routing(length: 2), .fragment(offset: 0, more: true),
            .authentication(length: 4), .destinationOptions(length: 0),
        ]
        let sizes = [16, 8, 24, 8, 24, 8]
        let tcp = tcpSegment(source: 40000, destination: 443)
        try withIPv6(IPv6Builder(headers, then: .tcp, tcp).build()) { header in
            let upper = try header.upperLayer()
            #expect(upper.protocol == .tcp)
            #expect(upper.offset == 40 + sizes.reduce(0, +))
            #expect(upper.extensionHeaderCount == 6)
            #expect(upper.fragment == IPv6FragmentInfo(offset: 0, moreFragments: true, identification: 0xABCD_0001))
            #expect(upper.hasTransportHeader)
            #expect(Array(header.packet[upper.offset...]) == tcp)
        }
    }

    @Test(
        "the walk ends at headers it does not look past",
        arguments: [
            IPProtocol.noNextHeader, .esp, .icmpv6, .gre, .ipip, IPProtocol(rawValue: 135), IPProtocol(rawValue: 253),
        ])
    func chainEnds(at proto: IPProtocol) throws {
        try withIPv6(IPv6Builder([.destinationOptions()], then: proto, [1, 2, 3, 4, 5, 6, 7, 8]).build()) { header in
            let upper = try header.upperLayer()
            #expect(upper.protocol == proto && upper.offset == 48 && upper.extensionHeaderCount == 1)
            #expect(upper.hasTransportHeader == (proto != .noNextHeader))
        }
    }

    @Test("a fragment other than the first ends the walk at its fragment header")
    func nonFirstFragment() throws {
        // The destination options after the fragment header are part of the fragment's data: not walked.
        let bytes = IPv6Builder(
            [.routing(), .fragment(offset: 100, more: false, identification: 7), .destinationOptions()], then: .tcp,
            [UInt8](repeating: 0, count: 24)
        ).build()
        try withIPv6(bytes) { header in
            let upper = try header.upperLayer()
            #expect(upper.protocol == .destinationOptions)
            #expect(upper.offset == 40 + 8 + 8)
            #expect(upper.extensionHeaderCount == 2)
            #expect(upper.fragment == IPv6FragmentInfo(offset: 100, moreFragments: false, identification: 7))
            #expect(!upper.hasTransportHeader)
        }
    }

    @Test("eight extension headers are walked")
    func eightHeaders() throws {
        let headers = [ExtensionHeader](repeating: .destinationOptions(), count: IPv6Header.maxExtensionHeaders)
        try withIPv6(IPv6Builder(headers, then: .udp, udpDatagram(source: 1, destination: 2)).build()) { header in
            let upper = try header.upperLayer()
            #expect(upper.extensionHeaderCount == 8 && upper.protocol == .udp)
        }
    }

    @Test("a long chain of options headers is stopped by the bound", arguments: [9, 100, 8000])
    func loop(count: Int) throws {
        // 8000 headers of 8 bytes fill a maximum-size packet: without the bound this would be 8000 steps.
        let headers = [ExtensionHeader](repeating: .destinationOptions(), count: count)
        try withIPv6(IPv6Builder(headers, then: .udp, []).build()) { header in
            #expect(throws: MalformedReason.tooManyExtensionHeaders) { try header.upperLayer() }
        }
        #expect(fiveTuple(IPv6Builder(headers, then: .udp, []).build()) == .failure(.tooManyExtensionHeaders))
    }

    @Test(
        "each fixed-header rejection has its reason",
        arguments: [
            ("empty", [], MalformedReason.truncated),
            ("39 bytes", [UInt8](IPv6Builder().build().prefix(39)), .truncated),
            ("version 4", fixed(0, to: 0x40), .badVersion),
            ("version 7", fixed(0, to: 0x70), .badVersion),
            ("payload length 1 with none", fixed16(4, to: 1), .payloadLengthBeyondBuffer),
            ("payload length 65535", fixed16(4, to: 65535), .payloadLengthBeyondBuffer),
            ("jumbogram", fixed(6, to: 0), .jumbogramUnsupported),
        ])
    func rejects(_ name: String, bytes: [UInt8], reason: MalformedReason) {
        #expect(rejection(bytes, IPv6Header.init) == reason)
        if bytes.isEmpty || bytes[0] >> 4 == 6 { #expect(fiveTuple(bytes) == .failure(reason)) }
    }

    @Test(
        "each extension-header rejection has its reason",
        arguments: [
            ("hop-by-hop after routing", chainPacket([.routing(), .hopByHop()]), MalformedReason.hopByHopNotFirst),
            ("hop-by-hop twice", chainPacket([.hopByHop(), .hopByHop()]), .hopByHopNotFirst),
            ("routing length beyond payload", chainPacket([.routing()], cut: 1), .extensionHeaderTruncated),
            (
                "options length field too large", lengthened(chainPacket([.destinationOptions()]), at: 41),
                .extensionHeaderTruncated
            ),
            ("fragment header cut", chainPacket([.fragment(offset: 0, more: true)], cut: 3), .extensionHeaderTruncated),
            (
                "AH length beyond payload", lengthened(chainPacket([.authentication()]), at: 41),
                .extensionHeaderTruncated
            ),
            ("header of 1 byte", chainPacket([.destinationOptions()], cut: 7), .extensionHeaderTruncated),
            ("nine headers", chainPacket([ExtensionHeader](repeating: .routing(), count: 9)), .tooManyExtensionHeaders),
        ])
    func chainRejects(_ name: String, bytes: [UInt8], reason: MalformedReason) throws {
        try withIPv6(bytes) { header in
            #expect(throws: reason) { try header.upperLayer() }
        }
        #expect(fiveTuple(bytes) == .failure(reason))
    }
}

/// A 40-byte header with no payload, with byte `offset` replaced.
private func fixed(_ offset: Int, to value: UInt8) -> [UInt8] {
    var bytes = IPv6Builder([], then: .noNextHeader, []).build()
    bytes[offset] = value
    return bytes
}

/// A 40-byte header with no payload, with the 16-bit field at `offset` replaced.
private func fixed16(_ offset: Int, to value: UInt16) -> [UInt8] {
    var bytes = IPv6Builder([], then: .noNextHeader, []).build()
    bytes.set16(value, at: offset)
    return bytes
}

/// A packet of `headers` then UDP, with the last `cut` bytes removed (payload length adjusted to match).
private func chainPacket(_ headers: [ExtensionHeader], cut: Int = 0) -> [UInt8] {
    var bytes = IPv6Builder(headers, then: .udp, []).build()
    bytes.removeLast(cut)
    bytes.set16(UInt16(bytes.count - 40), at: 4)
    return bytes
}

/// `bytes` with the length byte at `offset` raised by one unit, so the header claims more than is there.
private func lengthened(_ bytes: [UInt8], at offset: Int) -> [UInt8] {
    var bytes = bytes
    bytes[offset] += 1
    return bytes
}
