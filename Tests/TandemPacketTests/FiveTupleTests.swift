import TandemPacket
import Testing

@Suite("5-tuple")
struct FiveTupleTests {
    let a4 = IPv4Address(198, 18, 0, 1)
    let b4 = IPv4Address(198, 19, 0, 2)
    let a6 = IPv6Address(rawValue: 0x2001_0db8_0000_0000_0000_0000_0000_000a)
    let b6 = IPv6Address(rawValue: 0x2001_0db8_0000_0000_0000_0000_0000_000b)

    func ipv4(_ proto: IPProtocol, _ payload: [UInt8], configure: (inout IPv4Builder) -> Void = { _ in }) -> [UInt8] {
        var builder = IPv4Builder()
        builder.proto = proto
        builder.source = a4
        builder.destination = b4
        builder.payload = payload
        configure(&builder)
        return builder.build()
    }

    func ipv6(_ proto: IPProtocol, _ upper: [UInt8]) -> [UInt8] { ipv6([], proto, upper) }

    func ipv6(_ headers: [ExtensionHeader], _ proto: IPProtocol, _ upper: [UInt8]) -> [UInt8] {
        var builder = IPv6Builder(headers, then: proto, upper)
        builder.source = a6
        builder.destination = b6
        return builder.build()
    }

    func tuple4(_ proto: IPProtocol, _ sourcePort: UInt16, _ destinationPort: UInt16) -> FiveTuple {
        FiveTuple(
            family: .ipv4, source: IPv6Address(ipv4Mapped: a4), destination: IPv6Address(ipv4Mapped: b4),
            protocol: proto,
            sourcePort: sourcePort, destinationPort: destinationPort)
    }

    func tuple6(_ proto: IPProtocol, _ sourcePort: UInt16, _ destinationPort: UInt16) -> FiveTuple {
        FiveTuple(
            family: .ipv6, source: a6, destination: b6, protocol: proto, sourcePort: sourcePort,
            destinationPort: destinationPort)
    }

    @Test("IPv4 TCP and UDP use their ports")
    func ipv4Ports() throws {
        let tcp = try fiveTuple(ipv4(.tcp, tcpSegment(source: 40000, destination: 443))).get()
        #expect(tcp == tuple4(.tcp, 40000, 443))
        #expect(tcp.sourceIPv4 == a4 && tcp.destinationIPv4 == b4)
        #expect(tcp.description == "tcp 198.18.0.1:40000 -> 198.19.0.2:443")
        #expect(try fiveTuple(ipv4(.udp, udpDatagram(source: 53, destination: 5353))).get() == tuple4(.udp, 53, 5353))
        // Options move the transport header; the ports follow it.
        let withOptions = ipv4(.udp, udpDatagram(source: 1, destination: 2)) { $0.options = [1, 1, 1, 0] }
        #expect(try fiveTuple(withOptions).get() == tuple4(.udp, 1, 2))
        // SCTP, DCCP and UDP-Lite have ports in the same place.
        #expect(try fiveTuple(ipv4(.sctp, udpDatagram(source: 5, destination: 6))).get() == tuple4(.sctp, 5, 6))
    }

    @Test("the ports need only their 4 bytes")
    func ipv4ShortTransport() throws {
        #expect(try fiveTuple(ipv4(.tcp, [0x9C, 0x40, 0x01, 0xBB])).get() == tuple4(.tcp, 40000, 443))
        #expect(fiveTuple(ipv4(.tcp, [0x9C, 0x40, 0x01])) == .failure(.transportTruncated))
        #expect(fiveTuple(ipv4(.udp, [])) == .failure(.transportTruncated))
    }

    @Test("ICMP echo uses the identifier as both ports; other ICMP and other protocols use 0")
    func ipv4ICMP() throws {
        let request = try fiveTuple(ipv4(.icmp, icmpMessage(type: 8, identifier: 0x1234, sequence: 1))).get()
        #expect(request == tuple4(.icmp, 0x1234, 0x1234))
        let reply = try fiveTuple(ipv4(.icmp, icmpMessage(type: 0, identifier: 0x1234, sequence: 1))).get()
        #expect(reply == tuple4(.icmp, 0x1234, 0x1234))
        let unreachable = try fiveTuple(ipv4(.icmp, icmpMessage(type: 3, code: 1, identifier: 0x1234))).get()
        #expect(unreachable == tuple4(.icmp, 0, 0))
        #expect(fiveTuple(ipv4(.icmp, [8, 0, 0, 0, 0x12, 0x34, 0])) == .failure(.transportTruncated))
        #expect(try fiveTuple(ipv4(.gre, [0, 0, 0x08, 0x00])).get() == tuple4(.gre, 0, 0))
        // ICMPv6 inside IPv4 is not ICMP: no identifier.
        #expect(try fiveTuple(ipv4(.icmpv6, icmpMessage(type: 128, identifier: 5))).get() == tuple4(.icmpv6, 0, 0))
    }

    @Test("every IPv4 fragment has ports 0, so that all fragments of a datagram hash alike")
    func ipv4Fragments() throws {
        let first = ipv4(.udp, udpDatagram(source: 53, destination: 5353, payload: [1, 2, 3, 4, 5, 6, 7, 8])) {
            $0.moreFragments = true
        }
        #expect(try fiveTuple(first).get() == tuple4(.udp, 0, 0))
        let middle = ipv4(.udp, [1, 2]) {
            $0.moreFragments = true
            $0.fragmentOffset = 2
        }
        #expect(try fiveTuple(middle).get() == tuple4(.udp, 0, 0))
        let last = ipv4(.udp, []) { $0.fragmentOffset = 3 }
        #expect(try fiveTuple(last).get() == tuple4(.udp, 0, 0))
        // Don't-fragment alone is not a fragment.
        let whole = ipv4(.udp, udpDatagram(source: 1, destination: 2)) { $0.dontFragment = true }
        #expect(try fiveTuple(whole).get() == tuple4(.udp, 1, 2))
    }

    @Test("IPv6 TCP, UDP and ICMPv6 behind extension headers")
    func ipv6Ports() throws {
        let tcp = try fiveTuple(
            ipv6([.hopByHop(), .destinationOptions()], .tcp, tcpSegment(source: 1, destination: 2))
        ).get()
        #expect(tcp == tuple6(.tcp, 1, 2))
        #expect(tcp.sourceIPv4 == nil)
        #expect(tcp.description == "tcp [2001:db8::a]:1 -> [2001:db8::b]:2")
        #expect(try fiveTuple(ipv6(.udp, udpDatagram(source: 53, destination: 5353))).get() == tuple6(.udp, 53, 5353))
        let echo = try fiveTuple(ipv6([.routing()], .icmpv6, icmpMessage(type: 128, identifier: 99))).get()
        #expect(echo == tuple6(.icmpv6, 99, 99))
        let reply = try fiveTuple(ipv6(.icmpv6, icmpMessage(type: 129, identifier: 99))).get()
        #expect(reply == tuple6(.icmpv6, 99, 99))
        let neighbor = try fiveTuple(ipv6(.icmpv6, icmpMessage(type: 135, identifier: 99))).get()
        #expect(neighbor == tuple6(.icmpv6, 0, 0))
        // ICMP (for IPv4) inside IPv6 is not ICMPv6: no identifier.
        #expect(try fiveTuple(ipv6(.icmp, icmpMessage(type: 8, identifier: 5))).get() == tuple6(.icmp, 0, 0))
        #expect(try fiveTuple(ipv6(.esp, [0, 0, 0, 1, 0, 0, 0, 1])).get() == tuple6(.esp, 0, 0))
        #expect(try fiveTuple(ipv6(.noNextHeader, [])).get() == tuple6(.noNextHeader, 0, 0))
        #expect(fiveTuple(ipv6([.destinationOptions()], .tcp, [0, 1, 0])) == .failure(.transportTruncated))
        #expect(fiveTuple(ipv6(.icmpv6, [128, 0, 0, 0, 0, 99])) == .failure(.transportTruncated))
    }

    @Test("IPv6 fragments have ports 0; an atomic fragment keeps them")
    func ipv6Fragments() throws {
        let udp = udpDatagram(source: 53, destination: 5353, payload: [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(try fiveTuple(ipv6([.fragment(offset: 0, more: true)], .udp, udp)).get() == tuple6(.udp, 0, 0))
        #expect(try fiveTuple(ipv6([.fragment(offset: 2, more: true)], .udp, [1])).get() == tuple6(.udp, 0, 0))
        #expect(try fiveTuple(ipv6([.fragment(offset: 3, more: false)], .udp, [])).get() == tuple6(.udp, 0, 0))
        // A non-first fragment's data is not a transport header, even if it is too short to be one.
        #expect(try fiveTuple(ipv6([.fragment(offset: 3, more: false)], .tcp, [1])).get() == tuple6(.tcp, 0, 0))
        #expect(try fiveTuple(ipv6([.fragment(offset: 0, more: false)], .udp, udp)).get() == tuple6(.udp, 53, 5353))
    }

    @Test("the version nibble picks the family")
    func dispatch() {
        #expect(fiveTuple([]) == .failure(.truncated))
        #expect(fiveTuple([0x45]) == .failure(.truncated))
        #expect(fiveTuple([0x60]) == .failure(.truncated))
        for version in [0, 1, 2, 3, 5, 7, 8, 15] as [UInt8] {
            #expect(fiveTuple([version << 4] + [UInt8](repeating: 0, count: 60)) == .failure(.badVersion))
        }
    }

    @Test("init(ipv4:) and init(ipv6:) agree with parse")
    func initializers() throws {
        let v4 = ipv4(.udp, udpDatagram(source: 7, destination: 8))
        try withIPv4(v4) { header throws in #expect(try FiveTuple(ipv4: header) == tuple4(.udp, 7, 8)) }
        let v6 = ipv6(.udp, udpDatagram(source: 7, destination: 8))
        try withIPv6(v6) { header throws in #expect(try FiveTuple(ipv6: header) == tuple6(.udp, 7, 8)) }
    }
}
