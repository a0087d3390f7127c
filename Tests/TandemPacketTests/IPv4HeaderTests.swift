import TandemPacket
import Testing

@Suite("IPv4 header view")
struct IPv4HeaderTests {
    @Test("reads every field")
    func fields() throws {
        var builder = IPv4Builder()
        builder.typeOfService = 0xB9  // DSCP 46 (EF), ECN 1
        builder.identification = 0xBEEF
        builder.dontFragment = true
        builder.ttl = 17
        builder.proto = .tcp
        builder.source = v4("198.18.0.1")
        builder.destination = v4("198.19.255.254")
        builder.options = [0x94, 0x04, 0x00, 0x00]  // router alert
        builder.payload = tcpSegment(source: 1, destination: 2)
        let bytes = builder.build()
        try withIPv4(bytes) { header in
            #expect(header.headerLength == 24)
            #expect(header.typeOfService == 0xB9 && header.dscp == 46 && header.ecn == 1)
            #expect(header.totalLength == UInt16(bytes.count))
            #expect(header.identification == 0xBEEF)
            #expect(header.dontFragment && !header.moreFragments && header.fragmentOffset == 0)
            #expect(!header.isFragment && !header.isFirstFragment && header.hasTransportHeader)
            #expect(header.ttl == 17)
            #expect(header.protocol == .tcp)
            #expect(header.headerChecksum == bytes.get16(at: 10))
            #expect(header.source == v4("198.18.0.1"))
            #expect(header.destination == v4("198.19.255.254"))
            #expect(Array(header.options) == [0x94, 0x04, 0x00, 0x00])
            #expect(header.header.count == 24)
            #expect(Array(header.payload) == tcpSegment(source: 1, destination: 2))
            #expect(header.isChecksumValid)
        }
    }

    @Test("fragment flags and offsets")
    func fragments() throws {
        var builder = IPv4Builder()
        builder.moreFragments = true
        builder.payload = [UInt8](repeating: 7, count: 16)
        try withIPv4(builder.build()) { header in
            #expect(header.isFragment && header.isFirstFragment && header.hasTransportHeader)
        }
        builder.fragmentOffset = 185
        try withIPv4(builder.build()) { header in
            #expect(header.fragmentOffset == 185)
            #expect(header.isFragment && !header.isFirstFragment && !header.hasTransportHeader)
        }
        builder.moreFragments = false
        try withIPv4(builder.build()) { header in
            #expect(header.isFragment && !header.isFirstFragment && !header.hasTransportHeader)
        }
    }

    @Test("link-layer padding after the total length is not part of the packet")
    func padding() throws {
        var builder = IPv4Builder()
        builder.payload = [1, 2, 3]
        try withIPv4(builder.build() + [0, 0, 0, 0]) { header in
            #expect(header.packet.count == 23)
            #expect(Array(header.payload) == [1, 2, 3])
        }
    }

    @Test("a damaged checksum is detected")
    func checksum() throws {
        var bytes = IPv4Builder().build()
        bytes[10] ^= 0x01
        try withIPv4(bytes) { header in #expect(!header.isChecksumValid) }
    }

    @Test(
        "each rejection has its reason",
        arguments: [
            ("empty", [], MalformedReason.truncated),
            ("19 bytes", [UInt8](IPv4Builder().build().prefix(19)), .truncated),
            ("version 6", setting(0, to: 0x65), .badVersion),
            ("version 0", setting(0, to: 0x05), .badVersion),
            ("IHL 4", setting(0, to: 0x44), .badIHL),
            ("IHL 0", setting(0, to: 0x40), .badIHL),
            ("IHL 15 in 28 bytes", setting(0, to: 0x4F, payload: 8), .ihlBeyondBuffer),
            ("total length 19", setting16(2, to: 19), .totalLengthBelowHeader),
            ("total length 0", setting16(2, to: 0), .totalLengthBelowHeader),
            ("total length 27 with IHL 7", setting16(2, to: 27, options: 8), .totalLengthBelowHeader),
            ("total length 21 in 20 bytes", setting16(2, to: 21), .totalLengthBeyondBuffer),
            ("total length 65535 in 20 bytes", setting16(2, to: 65535), .totalLengthBeyondBuffer),
        ])
    func rejects(_ name: String, bytes: [UInt8], reason: MalformedReason) {
        #expect(rejection(bytes, IPv4Header.init) == reason)
        // The 5-tuple parser dispatches on the version nibble, so it sees the same problem when that says 4.
        if bytes.isEmpty || bytes[0] >> 4 == 4 { #expect(fiveTuple(bytes) == .failure(reason)) }
    }
}

/// A 20-byte header (plus `payload` bytes) with byte `offset` replaced.
private func setting(_ offset: Int, to value: UInt8, payload: Int = 0) -> [UInt8] {
    var builder = IPv4Builder()
    builder.payload = [UInt8](repeating: 0, count: payload)
    var bytes = builder.build()
    bytes[offset] = value
    return bytes
}

/// A header (with `options` bytes of options) with the 16-bit field at `offset` replaced.
private func setting16(_ offset: Int, to value: UInt16, options: Int = 0) -> [UInt8] {
    var builder = IPv4Builder()
    builder.options = [UInt8](repeating: 1, count: options)
    var bytes = builder.build()
    bytes.set16(value, at: offset)
    return bytes
}
