import TandemPacket
import TandemRouting
@testable import TandemDataplane

/// Hand-made packets and a small gateway for pipeline tests.
enum Packets {
    /// An IPv4 UDP packet with a correct header checksum (the UDP checksum is 0: allowed in IPv4).
    static func ipv4UDP(
        from source: String = "198.18.1.10", to destination: String, ttl: UInt8 = 64, dontFragment: Bool = false,
        payload: Int = 8, protocol proto: UInt8 = 17
    ) -> [UInt8] {
        let total = 20 + 8 + payload
        var bytes: [UInt8] = [0x45, 0, UInt8(total >> 8), UInt8(total & 0xFF), 0x12, 0x34, dontFragment ? 0x40 : 0, 0, ttl, proto, 0, 0]
        bytes += address4(source) + address4(destination)
        bytes += [0x9C, 0x40, 0x00, 0x35, UInt8((8 + payload) >> 8), UInt8((8 + payload) & 0xFF), 0, 0]
        bytes += (0..<payload).map { UInt8(truncatingIfNeeded: $0) }
        let checksum = bytes.withUnsafeBytes { InternetChecksum.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<20])) }
        bytes[10] = UInt8(checksum >> 8)
        bytes[11] = UInt8(checksum & 0xFF)
        return bytes
    }

    /// An IPv6 UDP packet (checksum left 0: the pipeline does not check transport checksums).
    static func ipv6UDP(from source: String = "2001:db8:1::10", to destination: String, hopLimit: UInt8 = 64, payload: Int = 8) -> [UInt8] {
        let length = 8 + payload
        var bytes: [UInt8] = [0x60, 0, 0, 0, UInt8(length >> 8), UInt8(length & 0xFF), 17, hopLimit]
        bytes += address6(source) + address6(destination)
        bytes += [0x9C, 0x40, 0x00, 0x35, UInt8(length >> 8), UInt8(length & 0xFF), 0, 0]
        bytes += (0..<payload).map { UInt8(truncatingIfNeeded: $0) }
        return bytes
    }

    static func address4(_ text: String) -> [UInt8] {
        let raw = try! IPv4Address(text).rawValue
        return (0..<4).map { UInt8(truncatingIfNeeded: raw >> (24 - 8 * $0)) }
    }

    static func address6(_ text: String) -> [UInt8] {
        let raw = try! IPv6Address(text).rawValue
        return (0..<16).map { UInt8(truncatingIfNeeded: raw >> (120 - 8 * $0)) }
    }
}

/// Everything a pipeline put out, in order.
struct RecordingOutput: PipelineOutput {
    enum Item: Equatable {
        case forwarded([UInt8], tunnel: Int)
        case reply([UInt8])
        case dropped([UInt8], DropReason)
    }
    var items: [Item] = []

    mutating func forward(_ packet: UnsafeRawBufferPointer, tunnel: TunnelID, slot: Int?, timestamp: UInt64) {
        items.append(.forwarded(Array(packet), tunnel: tunnel.index))
    }
    mutating func reply(_ packet: UnsafeRawBufferPointer, timestamp: UInt64) { items.append(.reply(Array(packet))) }
    mutating func drop(_ packet: UnsafeRawBufferPointer, reason: DropReason, timestamp: UInt64) {
        items.append(.dropped(Array(packet), reason))
    }

    var forwarded: [(bytes: [UInt8], tunnel: Int)] {
        items.compactMap { if case .forwarded(let bytes, let tunnel) = $0 { (bytes, tunnel) } else { nil } }
    }
    var replies: [[UInt8]] { items.compactMap { if case .reply(let bytes) = $0 { bytes } else { nil } } }
    var drops: [DropReason] { items.compactMap { if case .dropped(_, let reason) = $0 { reason } else { nil } } }
}

/// A gateway: connection 0 (tunnels 0 active, 1 standby) for 198.19.0.0/16 and 2001:db8:100::/48, connection 1
/// (tunnel 2) for 198.19.128.0/17 with a small MTU. ICMP errors come from 198.18.0.254 / 2001:db8::fe.
struct TestGateway {
    let router: Router
    let pipeline: Pipeline

    init(mtus: [Int] = [1500, 1500, 600], rateLimit: ICMPRateLimit = ICMPRateLimit(), policy: [PolicyRoute] = []) throws {
        var capacity = ForwardingPlane.Capacity()
        capacity.chains = 1 << 12
        capacity.groups = 1 << 8
        capacity.connections = 1 << 4
        router = try Router(
            RouterConfiguration(
                tunnels: [.init(name: "a1"), .init(name: "a2"), .init(name: "b1")],
                connections: [
                    .init(name: "c0", tunnels: [TunnelID(0), TunnelID(1)]), .init(name: "c1", tunnels: [TunnelID(2)]),
                ],
                routes: [
                    Route(prefix: try RoutePrefix("198.19.0.0/16"), source: .static, connection: ConnectionID(0)),
                    Route(prefix: try RoutePrefix("198.19.128.0/17"), source: .static, connection: ConnectionID(1)),
                    Route(prefix: try RoutePrefix("2001:db8:100::/48"), source: .static, connection: ConnectionID(0)),
                ],
                policyRoutes: policy, capacity: capacity))
        pipeline = Pipeline(
            plane: router.plane,
            configuration: PipelineConfiguration(
                tunnelMTUs: mtus, icmpSourceV4: try IPv4Address("198.18.0.254"),
                icmpSourceV6: try IPv6Address("2001:db8::fe"), icmpRateLimit: rateLimit))
    }

    /// Runs packets through the pipeline as one batch (all at time `now`).
    func run(_ packets: [[UInt8]], now: UInt64 = 1_000_000_000) -> RecordingOutput {
        let batch = PacketBatch(capacity: 256, slotSize: 65_535)
        for packet in packets { packet.withUnsafeBytes { _ = batch.append($0, timestamp: now) } }
        var output = RecordingOutput()
        pipeline.process(batch, into: &output)
        return output
    }
}
