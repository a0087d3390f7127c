// Fuzz target 2: `Pipeline.process` end to end on a small router, every output checked.
//
// The router: tunnels with MTUs 68, 576 and 1280 (the IPv4 minimum, the IPv4 datagram every host takes, the
// IPv6 minimum); a quarter of each family's space to each connection, a quarter spread over both by ECMP, a
// quarter without a route, and a policy route for UDP to port 53. The input is a batch of packets, each
// `[segment size: 2 bytes][length: 2 bytes][bytes]`, the last one taking what is left.
//
// Every packet must come out exactly once (forwarded whole from its slot, forwarded as fragments, or dropped),
// and what comes out must be right: a forwarded packet is the packet in with the TTL / hop limit one less and the
// header checksum still right, within the tunnel's MTU (unless it is an offload packet); fragments reassemble
// to the packet in; an ICMP error parses, has right checksums, goes to the offending packet's source, fits 576 /
// 1280 bytes and quotes the start of that packet as it arrived.

import FuzzSupport
import TandemDataplane
import TandemPacket
import TandemRouting

/// The router every input runs through: built once, only read by the pipeline. (`nonisolated(unsafe)`: libFuzzer
/// calls the target from one thread.)
nonisolated(unsafe) private let router: Router = {
    func prefix(_ text: String) -> RoutePrefix {
        guard let prefix = try? RoutePrefix(text) else { fatalError("bad prefix literal \(text)") }
        return prefix
    }
    var capacity = ForwardingPlane.Capacity()
    capacity.chains = 1 << 8
    capacity.groups = 1 << 4
    capacity.connections = 1 << 4
    let c0 = ConnectionID(0)
    let c1 = ConnectionID(1)
    let configuration = RouterConfiguration(
        tunnels: [.init(name: "t68"), .init(name: "t576"), .init(name: "t1280")],
        connections: [
            .init(name: "pair", tunnels: [TunnelID(0), TunnelID(1)]), .init(name: "single", tunnels: [TunnelID(2)]),
        ],
        bucketsPerGroup: 64,
        routes: [
            Route(prefix: prefix("0.0.0.0/2"), source: .static, connection: c0),
            Route(prefix: prefix("64.0.0.0/2"), source: .static, connection: c1),
            Route(prefix: prefix("128.0.0.0/2"), source: .static, connection: c0),
            Route(prefix: prefix("128.0.0.0/2"), source: .static, connection: c1, weight: 50),
            Route(prefix: prefix("::/2"), source: .static, connection: c0),
            Route(prefix: prefix("4000::/2"), source: .static, connection: c1),
            Route(prefix: prefix("8000::/2"), source: .static, connection: c0),
            Route(prefix: prefix("8000::/2"), source: .static, connection: c1, weight: 50),
        ],
        policyRoutes: [
            PolicyRoute(
                match: .init(
                    source: prefix("0.0.0.0/0"), destination: prefix("0.0.0.0/0"), protocol: 17,
                    destinationPorts: 53...53),
                priority: 1, connection: c1)
        ],
        capacity: capacity)
    do {
        return try Router(configuration)
    } catch {
        fatalError("the fuzz router does not build: \(error)")
    }
}()

private let mtus = [68, 576, 1280]
private let batchCapacity = 16
/// Reused across inputs (a batch is 16 slots of 64 KiB); emptied at the start of each.
private let batch = PacketBatch(capacity: batchCapacity, slotSize: 65_535)

/// Everything the pipeline put out, in order, copied, with the slot of the packet it came from: each packet goes in
/// with a time of its own (``firstTimestamp`` + its slot), and what the pipeline makes of it (fragments, an ICMP
/// error, the drop) carries that time.
private struct Recording: PipelineOutput {
    enum Item {
        case forwarded([UInt8], tunnel: Int, slot: Int?, from: Int)
        case reply([UInt8], from: Int)
        case dropped(from: Int)
    }
    var items: [Item] = []

    mutating func forward(_ packet: UnsafeRawBufferPointer, tunnel: TunnelID, slot: Int?, timestamp: UInt64) {
        items.append(.forwarded(Array(packet), tunnel: tunnel.index, slot: slot, from: Self.slot(of: timestamp)))
    }
    mutating func reply(_ packet: UnsafeRawBufferPointer, timestamp: UInt64) {
        items.append(.reply(Array(packet), from: Self.slot(of: timestamp)))
    }
    mutating func drop(_ packet: UnsafeRawBufferPointer, reason: DropReason, timestamp: UInt64) {
        items.append(.dropped(from: Self.slot(of: timestamp)))
    }

    static func slot(of timestamp: UInt64) -> Int { Int(timestamp - firstTimestamp) }
}

/// The time of the packet in slot 0; slot n comes n nanoseconds later (the rate limiter cannot tell).
private let firstTimestamp: UInt64 = 1_000_000_000

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    batch.removeAll()
    var originals: [[UInt8]] = []
    var segmentSizes: [UInt16] = []
    while !input.isEmpty && !batch.isFull {
        let segmentSize = input.uint16()
        let length = Int(input.uint16())
        let bytes = originals.count == batchCapacity - 1 ? input.takeRest() : input.take(length)
        guard let slot = batch.nextSlot() else { break }
        slot.copyMemory(from: bytes)
        batch.commit(
            length: bytes.count, timestamp: firstTimestamp + UInt64(originals.count), segmentSize: segmentSize)
        originals.append(Array(bytes))
        segmentSizes.append(segmentSize)
    }
    // A new pipeline per input: its rate limiter and counters start empty, so an input always does the same.
    let pipeline = Pipeline(
        plane: router.plane,
        configuration: PipelineConfiguration(
            tunnelMTUs: mtus, icmpSourceV4: IPv4Address(198, 18, 0, 254),
            icmpSourceV6: IPv6Address(rawValue: 0x2001_0db8_0000_0000_0000_0000_0000_00fe)),
        batchCapacity: batchCapacity)
    var output = Recording()
    pipeline.process(batch, into: &output)
    check(output.items, originals: originals, segmentSizes: segmentSizes, counters: pipeline.counters)
    return 0
}

/// Checks what the pipeline put out against the packets that went in: each packet has exactly one outcome
/// (forwarded whole from its own slot, forwarded as fragments, or dropped), and every output is right.
private func check(
    _ items: [Recording.Item], originals: [[UInt8]], segmentSizes: [UInt16], counters: PipelineCounters
) {
    var outcomes = [Int](repeating: 0, count: originals.count)
    var fragments = [[(bytes: [UInt8], tunnel: Int)]](repeating: [], count: originals.count)
    for item in items {
        switch item {
        case .forwarded(let bytes, let tunnel, let slot?, let from):
            fuzzCheck(slot == from, "the packet of slot \(from) forwarded from slot \(slot)")
            checkForwarded(bytes, tunnel: tunnel, original: originals[slot], segmentSize: segmentSizes[slot])
            outcomes[slot] += 1
        case .forwarded(let bytes, let tunnel, nil, let from):
            if fragments[from].isEmpty { outcomes[from] += 1 }
            fragments[from].append((bytes, tunnel))
        case .reply(let bytes, let from):
            checkReply(bytes, original: originals[from])
        case .dropped(let from):
            outcomes[from] += 1
        }
    }
    for (slot, made) in fragments.enumerated() where !made.isEmpty {
        checkFragments(made, original: originals[slot])
    }
    fuzzCheck(outcomes.allSatisfy { $0 == 1 }, "outcomes per packet: \(outcomes)")
    fuzzCheck(counters.received.packets == originals.count, "received counter")
    fuzzCheck(counters.fragmented == fragments.count(where: { !$0.isEmpty }), "fragmented counter")
    fuzzCheck(counters.fragmentsMade == fragments.reduce(0) { $0 + $1.count }, "fragments counter")
}

/// A packet forwarded whole: the original with the TTL or hop limit one less, within the tunnel's MTU.
private func checkForwarded(_ bytes: [UInt8], tunnel: Int, original: [UInt8], segmentSize: UInt16) {
    fuzzCheck(tunnel < mtus.count, "tunnel \(tunnel) is not configured")
    fuzzCheck(bytes.count <= original.count, "forwarded longer than it came in")
    bytes.withUnsafeBytes { raw in
        if raw.first.map({ $0 >> 4 }) == 4 {
            guard let header = try? IPv4Header(raw) else { fatalError("fuzz check failed: forwarded IPv4 does not parse") }
            fuzzCheck(header.packet.count == bytes.count, "forwarded IPv4 carries padding")
            fuzzCheck(PacketChecks.ipv4HeaderChecksumIsValid(header), "forwarded IPv4 header checksum")
            fuzzCheck(header.ttl == original[8] &- 1 && original[8] > 1, "TTL \(original[8]) forwarded as \(header.ttl)")
            for index in bytes.indices where ![8, 10, 11].contains(index) {
                fuzzCheck(bytes[index] == original[index], "forwarding changed IPv4 byte \(index)")
            }
        } else {
            guard let header = try? IPv6Header(raw) else { fatalError("fuzz check failed: forwarded IPv6 does not parse") }
            fuzzCheck(header.packet.count == bytes.count, "forwarded IPv6 carries padding")
            fuzzCheck(header.hopLimit == original[7] &- 1 && original[7] > 1, "hop limit")
            for index in bytes.indices where index != 7 {
                fuzzCheck(bytes[index] == original[index], "forwarding changed IPv6 byte \(index)")
            }
        }
    }
    if segmentSize == 0 {
        fuzzCheck(bytes.count <= mtus[tunnel], "\(bytes.count) bytes forwarded into MTU \(mtus[tunnel])")
    }
}

/// The fields every fragment of a packet shares with it (the header views only live inside `withUnsafeBytes`).
private struct FragmentIdentity: Equatable {
    var identification: UInt16
    var source: IPv4Address
    var destination: IPv4Address
    var proto: IPProtocol

    init(_ header: IPv4Header) {
        identification = header.identification
        source = header.source
        destination = header.destination
        proto = header.protocol
    }
}

/// The fragments of one packet: each a right IPv4 header within the MTU, together the packet's data.
private func checkFragments(_ fragments: [(bytes: [UInt8], tunnel: Int)], original: [UInt8]) {
    var data: [UInt8] = []
    var identity: FragmentIdentity?
    var firstOffset = 0
    var firstTTL: UInt8 = 0
    for (index, fragment) in fragments.enumerated() {
        fuzzCheck(fragment.tunnel == fragments[0].tunnel, "fragments of one packet on two tunnels")
        fuzzCheck(fragment.bytes.count <= mtus[fragment.tunnel], "fragment above the MTU")
        fragment.bytes.withUnsafeBytes { raw in
            guard let header = try? IPv4Header(raw) else { fatalError("fuzz check failed: fragment does not parse") }
            fuzzCheck(header.packet.count == raw.count, "fragment length")
            fuzzCheck(PacketChecks.ipv4HeaderChecksumIsValid(header), "fragment header checksum")
            fuzzCheck(!header.dontFragment, "fragment with DF")
            if index == 0 {
                identity = FragmentIdentity(header)
                firstOffset = Int(header.fragmentOffset) * 8
                firstTTL = header.ttl
            }
            fuzzCheck(FragmentIdentity(header) == identity, "fragments of one packet with different headers")
            fuzzCheck(header.ttl == firstTTL, "fragments with different TTLs")
            let relative = Int(header.fragmentOffset) * 8 - firstOffset
            fuzzCheck(relative == data.count, "fragment at \(relative) after \(data.count) bytes")
            if index < fragments.count - 1 { fuzzCheck(header.moreFragments, "MF clear before the last fragment") }
            data += header.payload
        }
    }
    // The packet they came from: the same header fields and offset, its TTL one more (the pipeline decrements
    // before it fragments), its data the fragments' data.
    original.withUnsafeBytes { raw in
        guard let packet = try? IPv4Header(raw) else { fatalError("fuzz check failed: fragments of no IPv4 packet") }
        fuzzCheck(FragmentIdentity(packet) == identity, "fragments with other header fields than their packet")
        fuzzCheck(Int(packet.fragmentOffset) * 8 == firstOffset, "fragments at another offset than their packet")
        fuzzCheck(packet.ttl == firstTTL &+ 1, "fragments with TTL \(firstTTL) of a packet with \(packet.ttl)")
        fuzzCheck(packet.payload.elementsEqual(data), "fragments that do not reassemble to their packet")
        fuzzCheck(packet.packet.count > mtus[fragments[0].tunnel], "a packet that fits, fragmented")
    }
}

/// An ICMP error: right checksums, within its size, to the source of its packet, quoting its start as it came in.
private func checkReply(_ bytes: [UInt8], original: [UInt8]) {
    bytes.withUnsafeBytes { raw in
        if raw.first.map({ $0 >> 4 }) == 4 {
            guard let header = try? IPv4Header(raw) else { fatalError("fuzz check failed: ICMP error does not parse") }
            fuzzCheck(header.packet.count == raw.count && raw.count <= 576, "ICMP error of \(raw.count) bytes")
            fuzzCheck(header.protocol == .icmp, "ICMP error protocol")
            fuzzCheck(PacketChecks.ipv4HeaderChecksumIsValid(header), "ICMP error header checksum")
            fuzzCheck(PacketChecks.icmpChecksumIsValid(header), "ICMP checksum")
            let quote = Array(header.payload.dropFirst(8))
            fuzzCheck(original.count >= 20 && original[12..<16].elementsEqual(bytes[16..<20]), "ICMP error to another")
            fuzzCheck(original.starts(with: quote), "the ICMP error does not quote its packet as it came in")
        } else {
            guard let header = try? IPv6Header(raw) else { fatalError("fuzz check failed: ICMPv6 error does not parse") }
            fuzzCheck(header.packet.count == raw.count && raw.count <= 1280, "ICMPv6 error of \(raw.count) bytes")
            fuzzCheck(header.nextHeader == .icmpv6, "ICMPv6 error next header")
            fuzzCheck(PacketChecks.icmpv6ChecksumIsValid(header), "ICMPv6 checksum")
            let quote = Array(header.payload.dropFirst(8))
            fuzzCheck(original.count >= 40 && original[8..<24].elementsEqual(bytes[24..<40]), "ICMPv6 error to another")
            fuzzCheck(original.starts(with: quote), "the ICMPv6 error does not quote its packet as it came in")
        }
    }
}
