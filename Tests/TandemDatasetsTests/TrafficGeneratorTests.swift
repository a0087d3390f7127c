import TandemDatasets
import TandemPacket
import Testing

@Suite("Traffic generator")
struct TrafficGeneratorTests {
    /// A small hand-made table: prefixes of several lengths, host routes included.
    static let table = RouteTableData(
        ipv4: ["192.0.2.0/24", "198.51.100.128/25", "203.0.113.7/32", "100.64.0.0/10"].map { try! IPv4Prefix($0) },
        ipv6: ["2001:db8:ffff::/48", "2001:db8:aaaa:bbbb::/64", "2001:db8::53/128", "2400::/12"].map {
            try! IPv6Prefix($0)
        },
        origin: .synthetic(seed: 0, reason: "hand-made test table"))

    typealias Packet = TrafficGenerator.GeneratedPacket

    /// Generates `count` packets into a buffer that starts at an odd address (every write is unaligned) and
    /// hands each to `body` with what the generator says about it.
    func generate(
        _ profile: TrafficProfile, count: Int, table: RouteTableData = Self.table,
        _ body: (UnsafeRawBufferPointer, Packet) throws -> Void
    ) rethrows {
        var generator = TrafficGenerator(profile: profile, destinations: table)
        let storage = UnsafeMutableRawBufferPointer.allocate(
            byteCount: TrafficGenerator.maximumPacketLength + 1, alignment: 16)
        defer { storage.deallocate() }
        let buffer = UnsafeMutableRawBufferPointer(rebasing: storage[1...])
        for _ in 0..<count {
            let packet = generator.writeDescribedPacket(into: buffer)
            #expect(packet.length <= TrafficGenerator.maximumPacketLength)
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<packet.length]), packet)
        }
    }

    /// The one's complement sum of `pseudoHeader` followed by `transport`, computed apart from the generator.
    func checksumSum(_ pseudoHeader: [UInt8], _ transport: UnsafeRawBufferPointer) -> UInt16 {
        (pseudoHeader + Array(transport)).withUnsafeBytes { InternetChecksum.sum($0) }
    }

    func bigEndianBytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }

    func ipv6Bytes(_ address: IPv6Address) -> [UInt8] {
        bigEndianBytes(UInt64(truncatingIfNeeded: address.rawValue >> 64))
            + bigEndianBytes(UInt64(truncatingIfNeeded: address.rawValue))
    }

    /// Checks everything about a packet the generator calls valid, with TandemPacket's views and checksums
    /// computed here; returns its 5-tuple.
    func checkValid(_ bytes: UnsafeRawBufferPointer, profile: TrafficProfile) throws -> FiveTuple {
        let transport: UnsafeRawBufferPointer
        let pseudoHeader: [UInt8]
        let proto: IPProtocol
        switch bytes[0] >> 4 {
        case 4:
            let header = try IPv4Header(bytes)
            #expect(header.packet.count == bytes.count)
            #expect(header.headerLength == 20)
            #expect(InternetChecksum.sum(UnsafeRawBufferPointer(rebasing: bytes[0..<20])) == 0xFFFF)
            #expect(header.ttl == 64)
            #expect(!header.isFragment)
            #expect(profile.ipv4Sources.contains(header.source))
            #expect(Self.table.ipv4.contains { $0.contains(header.destination) })
            transport = header.payload
            proto = header.protocol
            pseudoHeader =
                bigEndianBytes(header.source.rawValue) + bigEndianBytes(header.destination.rawValue)
                + [0, proto.rawValue] + bigEndianBytes(UInt16(transport.count))
        case 6:
            let header = try IPv6Header(bytes)
            #expect(header.packet.count == bytes.count)
            let upper = try header.upperLayer()
            #expect(upper.extensionHeaderCount == 0)
            #expect(header.hopLimit == 64)
            #expect(profile.ipv6Sources.contains(header.source))
            #expect(Self.table.ipv6.contains { $0.contains(header.destination) })
            transport = header.payload
            proto = header.nextHeader
            pseudoHeader =
                ipv6Bytes(header.source) + ipv6Bytes(header.destination) + bigEndianBytes(UInt32(transport.count))
                + [0, 0, 0, proto.rawValue]
        default:
            Issue.record("version \(bytes[0] >> 4)")
            throw MalformedReason.badVersion
        }
        let payload: UnsafeRawBufferPointer
        switch proto {
        case .tcp:
            let tcp = try TCPHeader(transport)
            #expect(tcp.headerLength == 20)
            #expect(tcp.flags & 0x10 != 0, "ACK")
            #expect(checksumSum(pseudoHeader, transport) == 0xFFFF)
            payload = tcp.payload
        case .udp:
            let udp = try UDPHeader(transport)
            #expect(Int(udp.lengthField) == transport.count)
            #expect(udp.checksum != 0)
            #expect(checksumSum(pseudoHeader, transport) == 0xFFFF)
            payload = udp.payload
        case .icmp:
            let icmp = try ICMPHeader(transport)
            #expect(icmp.type == ICMPHeader.echoRequest && icmp.code == 0)
            #expect(checksumSum([], transport) == 0xFFFF)
            payload = icmp.body
        case .icmpv6:
            let icmp = try ICMPv6Header(transport)
            #expect(icmp.type == ICMPv6Header.echoRequest && icmp.code == 0)
            #expect(checksumSum(pseudoHeader, transport) == 0xFFFF)
            payload = icmp.body
        default:
            Issue.record("protocol \(proto)")
            throw MalformedReason.transportTruncated
        }
        #expect(payload.indices.allSatisfy { payload[$0] == UInt8(truncatingIfNeeded: $0) }, "payload pattern")
        return try FiveTuple.parse(bytes).get()
    }

    /// The shortest packet of each family and protocol.
    static func minimumLength(_ tuple: FiveTuple) -> Int {
        (tuple.family == .ipv4 ? 20 : 40) + (tuple.protocol == .tcp ? 20 : 8)
    }

    @Test("Same profile and seed, same packets byte for byte; another seed, other packets")
    func determinism() {
        let profile = TrafficProfile(
            flows: 3_000, sizes: .imix, ipv6Share: 0.5, malformedShare: 0.1, seed: 42, startTime: 7)
        func run(_ profile: TrafficProfile) -> ([UInt8], [Packet]) {
            var bytes: [UInt8] = []
            var packets: [Packet] = []
            generate(profile, count: 20_000) { packet, info in
                bytes += packet
                packets.append(info)
            }
            return (bytes, packets)
        }
        let first = run(profile)
        let second = run(profile)
        #expect(first.0 == second.0)
        #expect(first.1 == second.1)
        var other = profile
        other.seed = 43
        #expect(run(other).0 != first.0)
    }

    @Test(
        "Every valid packet passes the header views and its checksums verify",
        arguments: [TrafficProfile.Sizes.fixed(64), .fixed(0), .fixed(1500), .fixed(333), .imix])
    func validPackets(sizes: TrafficProfile.Sizes) throws {
        let profile = TrafficProfile(flows: 2_000, sizes: sizes, ipv6Share: 0.5, tcpShare: 1, udpShare: 1, icmpShare: 1)
        try generate(profile, count: 12_000) { bytes, packet in
            #expect(packet.malformation == nil)
            let tuple = try checkValid(bytes, profile: profile)
            #expect(tuple.family == packet.family)
            let minimum = Self.minimumLength(tuple)
            switch sizes {
            case .fixed(let length): #expect(bytes.count == max(length, minimum))
            case .imix: #expect([40, 576, 1500].map { max($0, minimum) }.contains(bytes.count))
            }
        }
    }

    @Test("Sizes below the headers give each protocol's minimum")
    func minimumSizes() throws {
        let profile = TrafficProfile(
            flows: 600, sizes: .fixed(0), ipv6Share: 0.5, tcpShare: 1, udpShare: 1, icmpShare: 1)
        var lengths: [String: Set<Int>] = [:]
        try generate(profile, count: 600) { bytes, _ in
            let tuple = try FiveTuple.parse(bytes).get()
            lengths["\(tuple.family) \(tuple.protocol)", default: []].insert(bytes.count)
        }
        #expect(
            lengths == [
                "IPv4 tcp": [40], "IPv4 udp": [28], "IPv4 icmp": [28], "IPv6 tcp": [60], "IPv6 udp": [48],
                "IPv6 icmpv6": [48],
            ])
    }

    @Test("TCP sequence numbers grow by the data sent; echo sequence numbers count up")
    func perFlowCounters() throws {
        let profile = TrafficProfile(flows: 300, sizes: .imix, ipv6Share: 0.5, tcpShare: 1, udpShare: 0, icmpShare: 1)
        var nextTCP: [FiveTuple: UInt32] = [:]
        var nextEcho: [FiveTuple: UInt16] = [:]
        try generate(profile, count: 3_000) { bytes, _ in
            let tuple = try FiveTuple.parse(bytes).get()
            let transport = UnsafeRawBufferPointer(
                rebasing: bytes[(tuple.family == .ipv4 ? 20 : 40)...])
            if tuple.protocol == .tcp {
                let tcp = try TCPHeader(transport)
                if let expected = nextTCP[tuple] { #expect(tcp.sequenceNumber == expected) }
                nextTCP[tuple] = tcp.sequenceNumber &+ UInt32(tcp.payload.count)
            } else {
                let sequence =
                    tuple.family == .ipv4
                    ? try ICMPHeader(transport).sequenceNumber : try ICMPv6Header(transport).sequenceNumber
                let number = try #require(sequence, "an echo request")
                #expect(number == nextEcho[tuple] ?? 1)
                nextEcho[tuple] = number &+ 1
            }
        }
        #expect(nextTCP.count + nextEcho.count == 300)
    }

    @Test("IPv6, protocol and malformed shares over 100,000 packets")
    func shares() throws {
        let profile = TrafficProfile(malformedShare: 0.1)  // 10,000 flows, 20 % IPv6, 60/35/5
        var ipv6 = 0
        var malformed = 0
        var valid = 0
        var protocols: [IPProtocol: Int] = [:]
        let count = 100_000
        try generate(profile, count: count) { bytes, packet in
            if packet.family == .ipv6 { ipv6 += 1 }
            guard packet.malformation == nil else {
                malformed += 1
                return
            }
            valid += 1
            let proto = try FiveTuple.parse(bytes).get().protocol
            protocols[proto == .icmpv6 ? .icmp : proto, default: 0] += 1
        }
        func share(_ part: Int, of whole: Int) -> Double { Double(part) / Double(whole) }
        #expect(abs(share(ipv6, of: count) - 0.2) < 0.01)
        #expect(abs(share(malformed, of: count) - 0.1) < 0.01)
        #expect(abs(share(protocols[.tcp, default: 0], of: valid) - 0.6) < 0.01)
        #expect(abs(share(protocols[.udp, default: 0], of: valid) - 0.35) < 0.01)
        #expect(abs(share(protocols[.icmp, default: 0], of: valid) - 0.05) < 0.01)
    }

    @Test("IMIX: 40, 576 and 1500 bytes in the ratio 7:4:1")
    func imixRatio() {
        var counts: [Int: Int] = [:]
        let count = 100_000
        generate(TrafficProfile(sizes: .imix, ipv6Share: 0), count: count) { bytes, _ in
            counts[bytes.count, default: 0] += 1
        }
        #expect(Set(counts.keys) == [40, 576, 1500])
        for (length, weight) in [(40, 7.0), (576, 4.0), (1500, 1.0)] {
            #expect(abs(Double(counts[length, default: 0]) / Double(count) - weight / 12) < 0.01, "\(length)")
        }
    }

    @Test(
        "Distinct 5-tuples equal the flow count; each round visits every flow once, in a new order",
        arguments: [1, 7, 1_000])
    func flowCount(flows: Int) throws {
        let profile = TrafficProfile(flows: flows, ipv6Share: 0.3)
        var tuples = Set<FiveTuple>()
        var order: [Int] = []
        try generate(profile, count: 3 * flows) { bytes, packet in
            let tuple = try FiveTuple.parse(bytes).get()
            if order.count < flows { tuples.insert(tuple) }
            order.append(packet.flow)
        }
        #expect(tuples.count == flows, "the first round has every flow")
        for round in 0..<3 {
            #expect(Set(order[round * flows..<(round + 1) * flows]) == Set(0..<flows))
        }
        if flows >= 7 {
            #expect(Array(order[0..<flows]) != Array(0..<flows), "not round robin")
            #expect(order[0..<flows] != order[flows..<2 * flows], "a new order per round")
        }
    }

    @Test("Destinations lie in the table's prefixes and reach all of them; sources in the sources")
    func addresses() throws {
        let sources = (try IPv4Prefix("198.19.7.0/30"), try IPv6Prefix("2001:db8:7::/126"))
        let profile = TrafficProfile(flows: 2_000, ipv6Share: 0.5, sources: sources)
        var prefixes4 = Set<IPv4Prefix>()
        var prefixes6 = Set<IPv6Prefix>()
        try generate(profile, count: 2_000) { bytes, _ in
            let tuple = try FiveTuple.parse(bytes).get()
            if let source = tuple.sourceIPv4, let destination = tuple.destinationIPv4 {
                // Not the network or broadcast address of the /30.
                #expect([IPv4Address(198, 19, 7, 1), IPv4Address(198, 19, 7, 2)].contains(source))
                prefixes4.formUnion(Self.table.ipv4.filter { $0.contains(destination) })
            } else {
                #expect(sources.1.contains(tuple.source) && tuple.source != sources.1.address)
                prefixes6.formUnion(Self.table.ipv6.filter { $0.contains(tuple.destination) })
            }
        }
        #expect(prefixes4 == Set(Self.table.ipv4))
        #expect(prefixes6 == Set(Self.table.ipv6))
    }

    @Test("Each malformed kind is refused by the header views with the expected reason")
    func malformedKinds() throws {
        let profile = TrafficProfile(flows: 500, sizes: .imix, ipv6Share: 0.5, malformedShare: 1)
        var seen: [TrafficGenerator.Malformation: Int] = [:]
        var kinds: [IPFamily: [TrafficGenerator.Malformation]] = [:]
        try generate(profile, count: 4_000) { bytes, packet in
            let kind = try #require(packet.malformation)
            seen[kind, default: 0] += 1
            kinds[packet.family, default: []].append(kind)
            let parsed = FiveTuple.parse(bytes)
            if let reason = kind.expectedReason {
                #expect(parsed == .failure(reason), "\(kind)")
            } else {
                #expect((try? parsed.get()) != nil, "\(kind): the views do not check the header checksum")
            }
            // The family's own view, as the pipeline would use it after reading the version nibble.
            switch (packet.family, kind) {
            case (.ipv4, .ipv4BadHeaderChecksum):
                let header = try IPv4Header(bytes)
                #expect(!header.isChecksumValid)
                #expect(InternetChecksum.sum(UnsafeRawBufferPointer(rebasing: bytes[0..<20])) != 0xFFFF)
            case (.ipv4, _):
                #expect(throws: kind.expectedReason!) { try IPv4Header(bytes) }
            case (.ipv6, .ipv6TooManyExtensionHeaders):
                let header = try IPv6Header(bytes)
                #expect(throws: MalformedReason.tooManyExtensionHeaders) { try header.upperLayer() }
            case (.ipv6, _):
                #expect(throws: kind.expectedReason!) { try IPv6Header(bytes) }
            }
            switch kind {
            case .truncated: #expect(bytes.count < (packet.family == .ipv4 ? 20 : 40))
            case .ipv4BadIHL, .ipv4TotalLengthBeyondBuffer, .ipv4BadHeaderChecksum:
                #expect(packet.family == .ipv4)
            case .ipv6PayloadLengthBeyondBuffer, .ipv6TooManyExtensionHeaders: #expect(packet.family == .ipv6)
            case .badVersion: #expect(bytes[0] >> 4 == 5)
            }
        }
        #expect(Set(seen.keys) == Set(TrafficGenerator.Malformation.allCases))
        #expect(
            Array(kinds[.ipv4, default: []].prefix(5))
                == [.truncated, .ipv4BadIHL, .ipv4TotalLengthBeyondBuffer, .ipv4BadHeaderChecksum, .badVersion])
        #expect(
            Array(kinds[.ipv6, default: []].prefix(4))
                == [.truncated, .ipv6PayloadLengthBeyondBuffer, .ipv6TooManyExtensionHeaders, .badVersion])
    }

    @Test("Malformed packets are drawn per packet at the profile's share, not by flow")
    func malformedSpread() {
        var malformedFlows = Set<Int>()
        var malformed = 0
        generate(TrafficProfile(flows: 100, malformedShare: 0.25), count: 10_000) { _, packet in
            if packet.malformation != nil {
                malformed += 1
                malformedFlows.insert(packet.flow)
            }
        }
        #expect(abs(Double(malformed) / 10_000 - 0.25) < 0.02)
        #expect(malformedFlows.count == 100)
    }

    @Test("Timestamps are start + i / packetsPerSecond")
    func timestamps() {
        let start: UInt64 = 1_700_000_000_000_000_000
        var index: UInt64 = 0
        generate(TrafficProfile(flows: 10, startTime: start), count: 1_000) { _, packet in
            #expect(packet.timestamp == start + index * 1_000)
            index += 1
        }
        index = 0
        generate(TrafficProfile(flows: 10, startTime: start, packetsPerSecond: 3), count: 10) { _, packet in
            #expect(packet.timestamp == start + (index * 1_000_000_000 + 1) / 3)
            index += 1
        }
    }

    @Test("writePacket writes what writeDescribedPacket does")
    func plainWrite() {
        let profile = TrafficProfile(flows: 50, sizes: .imix, malformedShare: 0.2)
        var plain = TrafficGenerator(profile: profile, destinations: Self.table)
        var described = TrafficGenerator(profile: profile, destinations: Self.table)
        var first = [UInt8](repeating: 0, count: TrafficGenerator.maximumPacketLength)
        var second = first
        for _ in 0..<500 {
            let a = first.withUnsafeMutableBytes { plain.writePacket(into: $0) }
            let b = second.withUnsafeMutableBytes { described.writeDescribedPacket(into: $0) }
            #expect(a.length == b.length && a.timestamp == b.timestamp)
            #expect(first[0..<a.length] == second[0..<b.length])
        }
        #expect(plain.packetsWritten == 500)
    }

    @Test("Profiles that cannot be generated are refused with the setting and what to do")
    func validation() {
        let ipv4Only = RouteTableData(ipv4: Self.table.ipv4, ipv6: [], origin: .file(path: "v4.txt"))
        let ipv6Only = RouteTableData(ipv4: [], ipv6: Self.table.ipv6, origin: .file(path: "v6.txt"))
        let cases: [(TrafficProfile, RouteTableData, String)] = [
            (TrafficProfile(flows: 0), Self.table, "flows"),
            (TrafficProfile(sizes: .fixed(1501)), Self.table, "sizes"),
            (TrafficProfile(sizes: .fixed(-1)), Self.table, "sizes"),
            (TrafficProfile(ipv6Share: 1.5), Self.table, "ipv6Share"),
            (TrafficProfile(malformedShare: .nan), Self.table, "malformedShare"),
            (TrafficProfile(udpShare: -1), Self.table, "udpShare"),
            (TrafficProfile(tcpShare: 0, udpShare: 0, icmpShare: 0), Self.table, "tcpShare, udpShare, icmpShare"),
            (TrafficProfile(packetsPerSecond: 0), Self.table, "packetsPerSecond"),
            (TrafficProfile(ipv6Share: 0.2), ipv4Only, "ipv6Share"),
            (TrafficProfile(ipv6Share: 0.5), ipv6Only, "ipv6Share"),
        ]
        for (profile, table, setting) in cases {
            #expect(throws: TrafficProfileError.self) { try profile.validate(destinations: table) }
            do {
                try profile.validate(destinations: table)
            } catch {
                #expect(error.setting == setting)
                #expect(error.description.hasPrefix("traffic profile: \(setting): "))
            }
        }
        #expect(throws: Never.self) { try TrafficProfile(ipv6Share: 0).validate(destinations: ipv4Only) }
        #expect(throws: Never.self) { try TrafficProfile(ipv6Share: 1).validate(destinations: ipv6Only) }
        do {
            try TrafficProfile().validate(destinations: ipv4Only)
        } catch {
            #expect(error.message.contains("v4.txt") && error.message.contains("set the IPv6 share to 0"))
        }
    }
}
