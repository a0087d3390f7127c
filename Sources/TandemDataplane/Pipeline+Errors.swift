// The pipeline's answers to packets it cannot forward as they are: ICMP errors (rate limited like the kernel's)
// and IPv4 fragmentation.

import TandemPacket
import TandemRouting

extension Pipeline {
    /// Sends an ICMP error about `packet` back toward its source, unless the rules forbid one (about an ICMP
    /// error, a non-first fragment, a multicast or broadcast packet...), the family has no source address, or
    /// the rate limit says no. Uses the packet's own time, so a replay limits exactly as it did before.
    @inline(__always)
    func sendError<Output: PipelineOutput>(
        _ kind: ICMPErrorKind, about packet: UnsafeRawBufferPointer, ipv4: Bool, at timestamp: UInt64,
        into output: inout Output
    ) {
        guard ipv4 ? configuration.icmpSourceV4 != nil : configuration.icmpSourceV6 != nil else { return }
        guard let length = errorBuilder.write(kind, about: packet, into: errorBuffer) else { return }
        let allowed: Bool
        // The error goes to the offending packet's source (its header was checked when the packet came in).
        if ipv4 {
            allowed = limiter.allow(kind, destination: IPv4Address(rawValue: packet.bigEndianUInt32(at: 12)), now: timestamp)
        } else {
            allowed = limiter.allow(kind, destination: IPv6Address(rawValue: packet.bigEndianUInt128(at: 8)), now: timestamp)
        }
        guard allowed else {
            slots.add(slots.icmpRateLimited)
            return
        }
        slots.add(slots.icmpSent)
        output.reply(UnsafeRawBufferPointer(rebasing: errorBuffer[0..<length]), timestamp: timestamp)
    }

    /// Forwards an IPv4 packet without DF that is larger than the egress MTU as fragments (its TTL already
    /// decremented). A packet that cannot be fragmented to this MTU (an MTU below 68, or options too long) is
    /// dropped as too big.
    func forwardFragments<Output: PipelineOutput>(
        of packet: UnsafeRawBufferPointer, mtu: Int, decision: ForwardingDecision, at timestamp: UInt64,
        into output: inout Output
    ) {
        // The header was checked when the packet came in; only the TTL and checksum changed since.
        guard let header = try? IPv4Header(packet), let fragmenter = try? IPv4Fragmenter(header, mtu: mtu) else {
            drop(packet, reason: .tooBig, timestamp: timestamp, into: &output)
            return
        }
        slots.add(slots.fragmented)
        slots.add(slots.fragmentsMade, fragmenter.count)
        for index in 0..<fragmenter.count {
            let length = fragmenter.writeFragment(at: index, into: fragmentBuffer)
            let fragment = UnsafeRawBufferPointer(rebasing: fragmentBuffer[0..<length])
            slots.addTraffic(slots.perTunnel &+ 2 &* decision.tunnel.index, bytes: length)
            slots.addTraffic(slots.perOrigin &+ 2 &* PipelineCounters.originIndex(decision.origin), bytes: length)
            output.forward(fragment, tunnel: decision.tunnel, slot: nil, timestamp: timestamp)
        }
    }
}
