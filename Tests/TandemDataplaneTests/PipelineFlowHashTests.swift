import Testing
import TandemPacket
import TandemRouting
@testable import TandemDataplane

/// The pipeline hashes a packet's flow from the header fields it reads itself; the plane, asked about the packet's
/// 5-tuple as `FiveTuple` reads it, must send the packet to the same tunnel, whatever the protocol or the headers.
@Suite struct PipelineFlowHashTests {
    /// A gateway whose 2001:db8:200::/48 is spread over four connections of one tunnel each.
    static func ecmpGateway() throws -> (router: Router, pipeline: Pipeline) {
        var capacity = ForwardingPlane.Capacity()
        capacity.chains = 1 << 12
        capacity.groups = 1 << 8
        capacity.connections = 1 << 4
        let prefix = try RoutePrefix("2001:db8:200::/48")
        let router = try Router(
            RouterConfiguration(
                tunnels: (0..<4).map { .init(name: "t\($0)") },
                connections: (0..<4).map { .init(name: "c\($0)", tunnels: [TunnelID($0)]) },
                routes: (0..<4).map { Route(prefix: prefix, source: .static, connection: ConnectionID($0)) },
                capacity: capacity))
        let pipeline = Pipeline(
            plane: router.plane, configuration: PipelineConfiguration(tunnelMTUs: [1500, 1500, 1500, 1500]))
        return (router, pipeline)
    }

    /// An IPv6 packet from 2001:db8:1::`host` to 2001:db8:200::1, with an optional destination options header.
    static func ipv6(host: UInt8, proto: UInt8, upper: [UInt8], destinationOptions: Bool) -> [UInt8] {
        let options: [UInt8] = destinationOptions ? [proto, 0, 1, 4, 0, 0, 0, 0] : []
        let length = options.count + upper.count
        var bytes: [UInt8] = [0x60, 0, 0, 0, UInt8(length >> 8), UInt8(length & 0xFF), destinationOptions ? 60 : proto, 64]
        bytes += Packets.address6("2001:db8:1::\(host)") + Packets.address6("2001:db8:200::1")
        return bytes + options + upper
    }

    /// TCP and UDP with varied ports, ICMPv6 echoes (the identifier is both ports), behind an extension header or not.
    static func flows() -> [[UInt8]] {
        var packets: [[UInt8]] = []
        for flow in 0..<48 {
            let port = UInt16(20_000 + 37 * flow)
            let ports: [UInt8] = [UInt8(port >> 8), UInt8(port & 0xFF), 0x01, UInt8(flow)]
            let host = UInt8(10 + flow % 5)
            let extensionHeader = flow % 3 == 0
            switch flow % 4 {
            case 0: packets.append(ipv6(host: host, proto: 17, upper: ports + [0, 8, 0, 0], destinationOptions: extensionHeader))
            case 1:
                packets.append(
                    ipv6(host: host, proto: 6, upper: ports + [UInt8](repeating: 0, count: 8) + [0x50, 0x02] + [0, 0, 0, 0, 0, 0],
                        destinationOptions: extensionHeader))
            case 2: packets.append(ipv6(host: host, proto: 58, upper: [128, 0, 0, 0] + ports, destinationOptions: extensionHeader))
            default:
                let fromPort53: [UInt8] = [0x00, 0x35, UInt8(port >> 8), UInt8(port & 0xFF), 0, 8, 0, 0]
                packets.append(ipv6(host: host, proto: 17, upper: fromPort53, destinationOptions: extensionHeader))
            }
        }
        return packets
    }

    @Test func anIPv6PacketGoesWhereThePlaneSendsItsFiveTuple() throws {
        let (router, pipeline) = try Self.ecmpGateway()
        let hasher = FlowHasher(pipeline.configuration.flowHash)
        let packets = Self.flows()
        let batch = PacketBatch(capacity: 256, slotSize: 2048)
        for packet in packets { packet.withUnsafeBytes { _ = batch.append($0, timestamp: 1) } }
        var output = RecordingOutput()
        pipeline.process(batch, into: &output)
        #expect(output.forwarded.count == packets.count)
        var tunnels: Set<Int> = []
        for (packet, forwarded) in zip(packets, output.forwarded) {
            let tuple = try packet.withUnsafeBytes { bytes in try FiveTuple.parse(bytes).get() }
            let decision = router.plane.decide(
                ipv6: tuple.destination, source: tuple.source, protocol: tuple.protocol.rawValue,
                destinationPort: tuple.destinationPort, flowHash: hasher.hash(tuple))
            #expect(forwarded.tunnel == decision.tunnel.index, "\(tuple)")
            tunnels.insert(forwarded.tunnel)
        }
        // Spread over several tunnels: a pipeline that hashed other fields would disagree with the plane somewhere.
        #expect(tunnels.count >= 3)
    }
}
