import Testing
import TandemPacket
import TandemRouting
@testable import TandemDataplane

/// The pipeline does what a Linux router does, packet by packet, byte by byte.
@Suite struct PipelineTests {
    static func headerChecksumIsValid(_ bytes: [UInt8]) -> Bool {
        let length = Int(bytes[0] & 0x0F) * 4
        return bytes.withUnsafeBytes { InternetChecksum.sum(UnsafeRawBufferPointer(rebasing: $0[..<length])) == 0xFFFF }
    }

    @Test func forwardsIPv4WithTheTTLDecrementedAndTheChecksumUpdated() throws {
        let gateway = try TestGateway()
        let packet = Packets.ipv4UDP(to: "198.19.1.1", ttl: 64)
        let output = gateway.run([packet])
        let forwarded = try #require(output.forwarded.first)
        #expect(forwarded.tunnel == 0)
        var expected = packet
        expected[8] = 63
        expected[10] = 0
        expected[11] = 0
        let checksum = expected.withUnsafeBytes { InternetChecksum.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<20])) }
        expected[10] = UInt8(checksum >> 8)
        expected[11] = UInt8(checksum & 0xFF)
        #expect(forwarded.bytes == expected, "RFC 1624 update equals a full recomputation")
        #expect(gateway.pipeline.counters.perTunnel[0].packets == 1)
        #expect(gateway.pipeline.counters.perOrigin[PipelineCounters.originIndex(.destination(.static))].packets == 1)
    }

    @Test func forwardsIPv6WithTheHopLimitDecremented() throws {
        let gateway = try TestGateway()
        let packet = Packets.ipv6UDP(to: "2001:db8:100::1", hopLimit: 2)
        let forwarded = try #require(gateway.run([packet]).forwarded.first)
        var expected = packet
        expected[7] = 1
        #expect(forwarded.bytes == expected)
    }

    @Test func linkLayerPaddingIsNotForwarded() throws {
        let gateway = try TestGateway()
        let packet = Packets.ipv4UDP(to: "198.19.1.1", payload: 2)
        let forwarded = try #require(gateway.run([packet + [0, 0, 0, 0, 0, 0]]).forwarded.first)
        #expect(forwarded.bytes.count == packet.count)
    }

    @Test func ttlOfOneGetsTimeExceededFromTheGateway() throws {
        let gateway = try TestGateway()
        let packet = Packets.ipv4UDP(to: "198.19.1.1", ttl: 1)
        let output = gateway.run([packet])
        #expect(output.forwarded.isEmpty)
        #expect(output.drops == [.ttlExceeded])
        let reply = try #require(output.replies.first)
        #expect(reply[9] == 1 && reply[20] == 11 && reply[21] == 0, "ICMP time exceeded in transit")
        #expect(Array(reply[12..<16]) == Packets.address4("198.18.0.254"))
        #expect(Array(reply[16..<20]) == Packets.address4("198.18.1.10"))
        #expect(Array(reply[28...]) == packet, "the whole offending packet is quoted as it arrived")
        #expect(Self.headerChecksumIsValid(reply))
        #expect(reply.withUnsafeBytes { InternetChecksum.sum(UnsafeRawBufferPointer(rebasing: $0[20...])) == 0xFFFF })
    }

    @Test func hopLimitOfOneGetsICMPv6TimeExceeded() throws {
        let gateway = try TestGateway()
        let output = gateway.run([Packets.ipv6UDP(to: "2001:db8:100::1", hopLimit: 1)])
        #expect(output.drops == [.ttlExceeded])
        let reply = try #require(output.replies.first)
        #expect(reply[6] == 58 && reply[40] == 3 && reply[41] == 0)
        #expect(Array(reply[24..<40]) == Packets.address6("2001:db8:1::10"))
    }

    @Test func noRouteGetsDestinationUnreachableBeforeTheTTLIsLookedAt() throws {
        let gateway = try TestGateway()
        // Like Linux: the route lookup fails first (ip_route_input), so even a TTL of 1 gets net unreachable.
        let output = gateway.run([Packets.ipv4UDP(to: "203.0.113.9", ttl: 1), Packets.ipv6UDP(to: "2001:db8:999::1")])
        #expect(output.drops == [.noRoute, .noRoute])
        #expect(output.replies.count == 2)
        #expect(output.replies[0][20] == 3 && output.replies[0][21] == 0, "net unreachable")
        #expect(output.replies[1][40] == 1 && output.replies[1][41] == 0, "no route to destination")
    }

    @Test func tooBigWithDFGetsFragmentationNeededWithTheMTU() throws {
        let gateway = try TestGateway()
        let output = gateway.run([Packets.ipv4UDP(to: "198.19.200.1", dontFragment: true, payload: 1000)])
        #expect(output.drops == [.tooBig])
        let reply = try #require(output.replies.first)
        #expect(reply[20] == 3 && reply[21] == 4)
        #expect(Int(reply[26]) << 8 | Int(reply[27]) == 600)
    }

    @Test func tooBigIPv6GetsPacketTooBig() throws {
        let gateway = try TestGateway(mtus: [1280, 1280, 600])
        let output = gateway.run([Packets.ipv6UDP(to: "2001:db8:100::1", payload: 1400)])
        #expect(output.drops == [.tooBig])
        let reply = try #require(output.replies.first)
        #expect(reply[40] == 2 && reply[41] == 0)
        #expect(reply[44..<48].reduce(0) { $0 << 8 | Int($1) } == 1280)
        #expect(reply.count <= 1280)
    }

    @Test func tooBigWithoutDFIsFragmented() throws {
        let gateway = try TestGateway()
        let packet = Packets.ipv4UDP(to: "198.19.200.1", ttl: 10, payload: 1500)
        let output = gateway.run([packet])
        let fragments = output.forwarded
        #expect(fragments.count == 3)
        var payload: [UInt8] = []
        for (index, fragment) in fragments.enumerated() {
            #expect(fragment.tunnel == 2 && fragment.bytes.count <= 600)
            #expect(fragment.bytes[8] == 9, "TTL decremented in every fragment")
            #expect(Self.headerChecksumIsValid(fragment.bytes))
            let offset = (Int(fragment.bytes[6] & 0x1F) << 8 | Int(fragment.bytes[7])) * 8
            #expect(offset == payload.count)
            #expect((fragment.bytes[6] & 0x20 != 0) == (index < fragments.count - 1), "MF on all but the last")
            payload += fragment.bytes[20...]
        }
        #expect(payload == Array(packet[20...]))
        #expect(gateway.pipeline.counters.fragmented == 1 && gateway.pipeline.counters.fragmentsMade == 3)
    }

    @Test func icmpErrorsAreRateLimitedPerSourceLikeTheKernel() throws {
        let gateway = try TestGateway()
        // Ten unroutable packets from one host at once: the per-host burst of 6 passes, 4 are suppressed.
        var output = gateway.run(Array(repeating: Packets.ipv4UDP(to: "203.0.113.9"), count: 10))
        #expect(output.replies.count == 6)
        #expect(gateway.pipeline.counters.icmpRateLimited == 4)
        #expect(output.drops.count == 10, "every packet is still dropped and counted")
        // Another host has its own bucket; the first gets one more token a second later.
        output = gateway.run([Packets.ipv4UDP(from: "198.18.1.11", to: "203.0.113.9")])
        #expect(output.replies.count == 1)
        output = gateway.run(Array(repeating: Packets.ipv4UDP(to: "203.0.113.9"), count: 2), now: 2_000_000_000)
        #expect(output.replies.count == 1)
    }

    @Test func noICMPErrorAboutAnICMPErrorOrAMulticastPacket() throws {
        let gateway = try TestGateway()
        // An ICMP time exceeded (type 11) with no route: dropped, never answered.
        var icmpError = Packets.ipv4UDP(to: "203.0.113.9", protocol: 1)
        icmpError[20] = 11
        let multicast = Packets.ipv4UDP(to: "239.1.2.3", ttl: 1)
        let output = gateway.run([icmpError, multicast])
        #expect(output.drops == [.noRoute, .noRoute])
        #expect(output.replies.isEmpty)
    }

    @Test func malformedPacketsAreCountedByReasonAndDropped() throws {
        let gateway = try TestGateway()
        let good = Packets.ipv4UDP(to: "198.19.1.1")
        var badChecksum = good
        badChecksum[11] ^= 0xFF
        var badIHL = good
        badIHL[0] = 0x44
        var longTotal = good
        longTotal[3] = 200
        var version = good
        version[0] = 0x55
        // Total length 22: the UDP header's ports do not fit.
        var truncatedFixed = Array(Packets.ipv4UDP(to: "198.19.1.1", payload: 0)[0..<22])
        truncatedFixed[3] = 22
        let v6 = Packets.ipv6UDP(to: "2001:db8:100::1")
        var v6Long = v6
        v6Long[5] = 200
        let output = gateway.run([Array(good[0..<10]), badChecksum, badIHL, longTotal, version, v6Long, [], fixChecksum(truncatedFixed)])
        #expect(output.forwarded.isEmpty)
        #expect(output.drops == [
            .malformed(.truncated), .badChecksum, .malformed(.badIHL), .malformed(.totalLengthBeyondBuffer),
            .malformed(.badVersion), .malformed(.payloadLengthBeyondBuffer), .malformed(.truncated),
            .malformed(.transportTruncated),
        ])
        #expect(gateway.pipeline.counters.drops(.badChecksum) == 1)
        #expect(output.replies.isEmpty, "no ICMP error about a malformed packet")
    }

    func fixChecksum(_ packet: [UInt8]) -> [UInt8] {
        var bytes = packet
        bytes[10] = 0
        bytes[11] = 0
        let checksum = bytes.withUnsafeBytes { InternetChecksum.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<20])) }
        bytes[10] = UInt8(checksum >> 8)
        bytes[11] = UInt8(checksum & 0xFF)
        return bytes
    }

    @Test func aConnectionWithBothTunnelsDownDrops() throws {
        let gateway = try TestGateway()
        try gateway.router.selectTunnel(TunnelID(1), for: ConnectionID(0))
        #expect(try #require(gateway.run([Packets.ipv4UDP(to: "198.19.1.1")]).forwarded.first).tunnel == 1)
        try gateway.router.selectTunnel(nil, for: ConnectionID(0))
        let output = gateway.run([Packets.ipv4UDP(to: "198.19.1.1")])
        // The /16 has no live candidate and leaves the FIB: nothing else covers it, so it is unroutable now.
        #expect(output.drops == [.noRoute])
    }

    @Test func policyRoutesForwardBeforeDestinationRoutes() throws {
        let gateway = try TestGateway(policy: [
            PolicyRoute(
                match: .init(source: try RoutePrefix("198.18.1.0/24"), destination: try RoutePrefix("198.19.0.0/16")),
                priority: 1, connection: ConnectionID(1)),
        ])
        let output = gateway.run([Packets.ipv4UDP(to: "198.19.1.1"), Packets.ipv4UDP(from: "198.18.2.1", to: "198.19.1.1")])
        #expect(output.forwarded.map(\.tunnel) == [2, 0])
        #expect(gateway.pipeline.counters.perOrigin[0].packets == 1)
    }
}
