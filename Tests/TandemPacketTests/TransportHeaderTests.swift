import TandemPacket
import Testing

@Suite("Transport header views")
struct TransportHeaderTests {
    @Test("TCP fields, options and payload")
    func tcp() throws {
        let bytes = tcpSegment(source: 40000, destination: 443, dataOffset: 6, payload: [1, 2, 3])
        try bytes.withUnsafeBytes { raw in
            let header = try TCPHeader(raw)
            #expect(header.sourcePort == 40000 && header.destinationPort == 443)
            #expect(header.sequenceNumber == 1000 && header.acknowledgmentNumber == 0)
            #expect(header.headerLength == 24)
            #expect(header.flags == 0x02 && header.isSYN)
            #expect(header.window == 65535 && header.checksum == 0 && header.urgentPointer == 0)
            #expect(Array(header.options) == [1, 1, 1, 1])
            #expect(Array(header.payload) == [1, 2, 3])
        }
    }

    @Test("UDP fields and payload")
    func udp() throws {
        try udpDatagram(source: 53, destination: 5353, payload: [7, 7]).withUnsafeBytes { raw in
            let header = try UDPHeader(raw)
            #expect(header.sourcePort == 53 && header.destinationPort == 5353)
            #expect(header.lengthField == 10 && header.checksum == 0)
            #expect(Array(header.payload) == [7, 7])
        }
    }

    @Test("ICMP echo and error messages")
    func icmp() throws {
        try icmpMessage(type: ICMPHeader.echoRequest, identifier: 0x4242, sequence: 9).withUnsafeBytes { raw in
            let header = try ICMPHeader(raw)
            #expect(header.type == 8 && header.code == 0 && header.isEcho)
            #expect(header.identifier == 0x4242 && header.sequenceNumber == 9)
            #expect(InternetChecksum.sum(raw) == 0xFFFF)
        }
        try icmpMessage(type: ICMPHeader.timeExceeded, body: [0x45, 0]).withUnsafeBytes { raw in
            let header = try ICMPHeader(raw)
            #expect(header.type == 11 && !header.isEcho && header.identifier == nil && header.sequenceNumber == nil)
            #expect(Array(header.body) == [0x45, 0])
        }
    }

    @Test("ICMPv6 echo and error messages")
    func icmpv6() throws {
        try icmpMessage(type: ICMPv6Header.echoReply, identifier: 77, sequence: 1).withUnsafeBytes { raw in
            let header = try ICMPv6Header(raw)
            #expect(header.type == 129 && header.isEcho && header.identifier == 77 && header.sequenceNumber == 1)
        }
        try icmpMessage(type: ICMPv6Header.packetTooBig, code: 0).withUnsafeBytes { raw in
            let header = try ICMPv6Header(raw)
            #expect(header.type == 2 && !header.isEcho && header.identifier == nil)
        }
    }

    @Test(
        "each rejection has its reason",
        arguments: [
            (
                "TCP of 19 bytes", "tcp", [UInt8](tcpSegment(source: 1, destination: 2).prefix(19)),
                MalformedReason.transportTruncated
            ),
            ("TCP data offset 4", "tcp", tcpSegment(source: 1, destination: 2, dataOffset: 4), .badTCPDataOffset),
            ("TCP data offset 0", "tcp", tcpSegment(source: 1, destination: 2, dataOffset: 0), .badTCPDataOffset),
            (
                "TCP options cut", "tcp", [UInt8](tcpSegment(source: 1, destination: 2, dataOffset: 15).prefix(59)),
                .badTCPDataOffset
            ),
            ("UDP of 7 bytes", "udp", [UInt8](udpDatagram(source: 1, destination: 2).prefix(7)), .transportTruncated),
            ("ICMP of 7 bytes", "icmp", [UInt8](icmpMessage(type: 8).prefix(7)), .transportTruncated),
            ("ICMPv6 of 4 bytes", "icmpv6", [UInt8](icmpMessage(type: 128).prefix(4)), .transportTruncated),
            ("empty", "udp", [], .transportTruncated),
        ])
    func rejects(_ name: String, kind: String, bytes: [UInt8], reason: MalformedReason) {
        let found: MalformedReason? =
            switch kind {
            case "tcp": rejection(bytes, TCPHeader.init)
            case "udp": rejection(bytes, UDPHeader.init)
            case "icmp": rejection(bytes, ICMPHeader.init)
            default: rejection(bytes, ICMPv6Header.init)
            }
        #expect(found == reason)
    }
}
