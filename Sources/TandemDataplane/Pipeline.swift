// The forwarding pipeline: a batch of raw IP packets in, each one forwarded through a tunnel, answered with an
// ICMP error, or dropped with a reason. What a router does, in the kernel's order (ip_rcv, ip_route_input,
// ip_forward): validate, route (policy routes, LPM, group, flow hash, tunnel), then TTL, then MTU, then
// decrement the TTL with the RFC 1624 checksum update, then out.

import TandemPacket
import TandemRouting

/// Where the pipeline's results go. Generic, so each call is direct (no existential per packet).
public protocol PipelineOutput {
    /// A packet leaves through a tunnel's egress. The bytes are valid only during the call.
    ///
    /// `slot` is the batch slot the packet was read into (whatever the input keeps per slot, such as a TUN
    /// device's offload header, belongs to it), or nil for a packet the pipeline made (a fragment).
    mutating func forward(_ packet: UnsafeRawBufferPointer, tunnel: TunnelID, slot: Int?, timestamp: UInt64)
    /// An ICMP error the gateway sends back toward the offending packet's source.
    mutating func reply(_ packet: UnsafeRawBufferPointer, timestamp: UInt64)
    /// A packet was dropped (an ICMP error may also have been sent about it).
    mutating func drop(_ packet: UnsafeRawBufferPointer, reason: DropReason, timestamp: UInt64)
}

/// How a pipeline forwards, beyond what the forwarding plane decides.
public struct PipelineConfiguration: Sendable {
    /// The flow hash that picks a group's member.
    public var flowHash: FlowHashPolicy
    /// The MTU of each tunnel's egress (index = tunnel index).
    public var tunnelMTUs: [Int]
    /// The gateway's addresses that ICMP errors come from; without one, no error of that family is sent.
    public var icmpSourceV4: IPv4Address?
    public var icmpSourceV6: IPv6Address?
    /// The ICMP error rate limit, per destination and global, like the kernel's.
    public var icmpRateLimit: ICMPRateLimit

    public init(
        flowHash: FlowHashPolicy = FlowHashPolicy(), tunnelMTUs: [Int], icmpSourceV4: IPv4Address? = nil,
        icmpSourceV6: IPv6Address? = nil, icmpRateLimit: ICMPRateLimit = ICMPRateLimit()
    ) {
        self.flowHash = flowHash
        self.tunnelMTUs = tunnelMTUs
        self.icmpSourceV4 = icmpSourceV4
        self.icmpSourceV6 = icmpSourceV6
        self.icmpRateLimit = icmpRateLimit
    }
}

/// One pipeline: one thread's worth of forwarding over a shared ``ForwardingPlane``.
///
/// Allocates its scratch space once; ``process(_:into:)`` allocates nothing.
public final class Pipeline {
    public let plane: ForwardingPlane
    public let configuration: PipelineConfiguration
    /// Distinct flows seen (an estimate), when made with `countFlows`.
    public var flows: FlowSketch?

    /// What the pipeline has counted so far.
    public var counters: PipelineCounters { slots.snapshot }
    let slots: CounterSlots
    let hasher: FlowHasher
    var limiter: ICMPRateLimiter
    let errorBuilder: ICMPErrorBuilder
    let capacity: Int

    // Per batch: the packets of each family, their keys and decisions.
    let keys4: UnsafeMutableBufferPointer<PacketKey<IPv4Address>>
    let keys6: UnsafeMutableBufferPointer<PacketKey<IPv6Address>>
    let slots4: UnsafeMutableBufferPointer<Int>
    let slots6: UnsafeMutableBufferPointer<Int>
    let decisions: UnsafeMutableBufferPointer<ForwardingDecision>
    /// Each packet's length without link-layer padding (the IP total length).
    let lengths: UnsafeMutableBufferPointer<Int>
    /// Room for one ICMP error (the largest is 1280 bytes) and for one fragment.
    let errorBuffer: UnsafeMutableRawBufferPointer
    let fragmentBuffer: UnsafeMutableRawBufferPointer

    /// Makes a pipeline for batches of up to `batchCapacity` packets.
    public init(
        plane: ForwardingPlane, configuration: PipelineConfiguration, batchCapacity: Int = 256, countFlows: Bool = false
    ) {
        flows = countFlows ? FlowSketch() : nil
        self.plane = plane
        self.configuration = configuration
        slots = CounterSlots(tunnels: configuration.tunnelMTUs.count)
        hasher = FlowHasher(configuration.flowHash)
        limiter = ICMPRateLimiter(configuration.icmpRateLimit)
        // A family without a source address sends no errors (see sendError); the builder needs both.
        errorBuilder = ICMPErrorBuilder(
            ipv4Source: configuration.icmpSourceV4 ?? IPv4Address(rawValue: 0),
            ipv6Source: configuration.icmpSourceV6 ?? IPv6Address(rawValue: 0))
        capacity = batchCapacity
        keys4 = .allocate(capacity: batchCapacity)
        keys6 = .allocate(capacity: batchCapacity)
        slots4 = .allocate(capacity: batchCapacity)
        slots6 = .allocate(capacity: batchCapacity)
        decisions = .allocate(capacity: batchCapacity)
        lengths = .allocate(capacity: batchCapacity)
        errorBuffer = .allocate(byteCount: 2048, alignment: 16)
        fragmentBuffer = .allocate(byteCount: 65_536, alignment: 16)
    }

    deinit {
        slots.deallocate()
        keys4.deallocate()
        keys6.deallocate()
        slots4.deallocate()
        slots6.deallocate()
        decisions.deallocate()
        lengths.deallocate()
        errorBuffer.deallocate()
        fragmentBuffer.deallocate()
    }

    /// Forwards, answers or drops every packet of `batch`, in order per family, and counts each.
    public func process<Output: PipelineOutput>(_ batch: PacketBatch, into output: inout Output) {
        precondition(batch.count <= capacity, "the batch is larger than the pipeline's capacity")
        var count4 = 0
        var count6 = 0
        // 1. Validate and read what the decision needs.
        for index in 0..<batch.count {
            let bytes = UnsafeRawBufferPointer(batch.packet(index))
            slots.addTraffic(CounterSlots.received, bytes: bytes.count)
            switch validate(bytes, slot: index) {
            case .ipv4(let key):
                keys4[count4] = key
                slots4[count4] = index
                count4 &+= 1
            case .ipv6(let key):
                keys6[count6] = key
                slots6[count6] = index
                count6 &+= 1
            case .dropped(let reason):
                drop(bytes, reason: reason, timestamp: batch.timestamp(of: index), into: &output)
            }
        }
        // 2. Decide each family as one batch (the LPM lookups overlap), then 3. finish each packet.
        if count4 > 0 {
            plane.decide(ipv4: UnsafeBufferPointer(rebasing: keys4[0..<count4]), into: decisions)
            for i in 0..<count4 { finish(batch, slot: slots4[i], decision: decisions[i], ipv4: true, into: &output) }
        }
        if count6 > 0 {
            plane.decide(ipv6: UnsafeBufferPointer(rebasing: keys6[0..<count6]), into: decisions)
            for i in 0..<count6 { finish(batch, slot: slots6[i], decision: decisions[i], ipv4: false, into: &output) }
        }
    }

    enum Validation {
        case ipv4(PacketKey<IPv4Address>)
        case ipv6(PacketKey<IPv6Address>)
        case dropped(DropReason)
    }

    /// Checks a packet and makes its key: headers, the IPv4 checksum, the 5-tuple, the flow hash.
    @inline(__always)
    func validate(_ bytes: UnsafeRawBufferPointer, slot: Int) -> Validation {
        guard let first = bytes.first else { return .dropped(.malformed(.truncated)) }
        do throws(MalformedReason) {
            switch first >> 4 {
            case 4:
                let header = try IPv4Header(bytes)
                guard header.isChecksumValid else { return .dropped(.badChecksum) }
                let ports = try FiveTuple.ports(ipv4: header)
                let proto = header.protocol.rawValue
                lengths[slot] = header.packet.count
                let hash = hasher.hashIPv4(
                    source: header.source.rawValue, destination: header.destination.rawValue, protocol: proto,
                    sourcePort: ports.source, destinationPort: ports.destination)
                if flows != nil {
                    flows!.add(
                        ipv4: header.source.rawValue, header.destination.rawValue, proto, ports.source, ports.destination)
                }
                return .ipv4(
                    PacketKey(
                        destination: header.destination, source: header.source, protocol: proto,
                        destinationPort: ports.destination, flowHash: hash))
            case 6:
                let header = try IPv6Header(bytes)
                // The protocol and ports alone, as for IPv4: the whole tuple would read both addresses again.
                let transport = try FiveTuple.transport(ipv6: header)
                let source = header.source
                let destination = header.destination
                let proto = transport.protocol.rawValue
                lengths[slot] = header.packet.count
                // The family's own hash, as for IPv4: the same value as hash(tuple), without its branch on the
                // family and its call with the whole tuple.
                let hash = hasher.hashIPv6(
                    source: source.rawValue, destination: destination.rawValue, protocol: proto,
                    sourcePort: transport.source, destinationPort: transport.destination)
                if flows != nil {
                    flows!.add(ipv6: source.rawValue, destination.rawValue, proto, transport.source, transport.destination)
                }
                return .ipv6(
                    PacketKey(
                        destination: destination, source: source, protocol: proto,
                        destinationPort: transport.destination, flowHash: hash))
            default:
                return .dropped(.malformed(.badVersion))
            }
        } catch {
            return .dropped(.malformed(error))
        }
    }

    /// Applies a decision: TTL, MTU, decrement, out; or the ICMP error and the drop.
    @inline(__always)
    func finish<Output: PipelineOutput>(
        _ batch: PacketBatch, slot: Int, decision: ForwardingDecision, ipv4: Bool, into output: inout Output
    ) {
        let packet = UnsafeMutableRawBufferPointer(rebasing: batch.packet(slot)[0..<lengths[slot]])
        let timestamp = batch.timestamp(of: slot)
        switch decision.outcome {
        case .noRoute:
            sendError(.destinationUnreachable, about: UnsafeRawBufferPointer(packet), ipv4: ipv4, at: timestamp, into: &output)
            drop(UnsafeRawBufferPointer(packet), reason: .noRoute, timestamp: timestamp, into: &output)
            return
        case .connectionDown:
            drop(UnsafeRawBufferPointer(packet), reason: .connectionDown, timestamp: timestamp, into: &output)
            return
        case .forward:
            break
        }
        let hopLimit = packet.load(fromByteOffset: ipv4 ? 8 : 7, as: UInt8.self)
        if hopLimit <= 1 {
            sendError(.timeExceeded, about: UnsafeRawBufferPointer(packet), ipv4: ipv4, at: timestamp, into: &output)
            drop(UnsafeRawBufferPointer(packet), reason: .ttlExceeded, timestamp: timestamp, into: &output)
            return
        }
        let tunnel = decision.tunnel
        guard tunnel.index < slots.tunnels else {
            // The plane names a tunnel this pipeline was not configured with: a configuration mismatch, never
            // a reason to write past the counters.
            drop(UnsafeRawBufferPointer(packet), reason: .connectionDown, timestamp: timestamp, into: &output)
            return
        }
        let mtu = configuration.tunnelMTUs[tunnel.index]
        let segmentSize = batch.segmentSize(of: slot)
        // A segmentation-offload packet leaves as segments: each of them must fit (the kernel's
        // skb_gso_validate_network_len), not the whole.
        let wireLength = segmentSize == 0 ? packet.count : Self.segmentLength(of: packet, ipv4: ipv4, payload: segmentSize)
        if wireLength > mtu {
            let dontFragment = !ipv4 || packet.load(fromByteOffset: 6, as: UInt8.self) & 0x40 != 0
            if segmentSize != 0 && !dontFragment {
                // A super-packet is not fragmented here (the kernel would cut it before fragmenting). One without DF
                // (UDP segmentation) is rare; it is dropped as too big, without an error its sender did not ask for.
                drop(UnsafeRawBufferPointer(packet), reason: .tooBig, timestamp: timestamp, into: &output)
                return
            }
            if dontFragment {
                sendError(
                    .packetTooBig(mtu: UInt32(mtu)), about: UnsafeRawBufferPointer(packet), ipv4: ipv4, at: timestamp, into: &output)
                drop(UnsafeRawBufferPointer(packet), reason: .tooBig, timestamp: timestamp, into: &output)
                return
            }
            _ = IPv4Header.decrementTTL(packet)
            forwardFragments(
                of: UnsafeRawBufferPointer(packet), mtu: mtu, decision: decision, at: timestamp, into: &output)
            return
        }
        if ipv4 { _ = IPv4Header.decrementTTL(packet) } else { _ = IPv6Header.decrementHopLimit(packet) }
        slots.addTraffic(slots.perTunnel &+ 2 &* tunnel.index, bytes: packet.count)
        slots.addTraffic(slots.perOrigin &+ 2 &* PipelineCounters.originIndex(decision.origin), bytes: packet.count)
        output.forward(UnsafeRawBufferPointer(packet), tunnel: tunnel, slot: slot, timestamp: timestamp)
    }

    /// The length of one segment of a segmentation-offload packet: its IP and transport headers and `payload` bytes.
    static func segmentLength(of packet: UnsafeMutableRawBufferPointer, ipv4: Bool, payload: UInt16) -> Int {
        // Validated on the way in: the IP header is whole. IPv6 extension headers do not occur in offload packets
        // that Linux builds; a TCP header's length is in its data offset, a UDP header is 8 bytes.
        let ipHeader = ipv4 ? Int(packet[0] & 0x0F) &* 4 : 40
        let proto = packet[ipv4 ? 9 : 6]
        var transportHeader = 8
        if proto == IPProtocol.tcp.rawValue, packet.count >= ipHeader + 20 {
            transportHeader = Int(packet[ipHeader + 12] >> 4) &* 4
        }
        return ipHeader + transportHeader + Int(payload)
    }

    @inline(__always)
    func drop<Output: PipelineOutput>(
        _ packet: UnsafeRawBufferPointer, reason: DropReason, timestamp: UInt64, into output: inout Output
    ) {
        slots.add(slots.drops &+ DropCounter.index(reason))
        output.drop(packet, reason: reason, timestamp: timestamp)
    }
}
