// Decrementing the IPv4 TTL and the IPv6 hop limit in place, as a router does before forwarding.

/// What happened to a packet's TTL or hop limit.
public enum HopLimitResult: Hashable, Sendable {
    /// It was decremented to the given value; the packet may be forwarded.
    case decremented(to: UInt8)
    /// It was 0 or 1, so the packet must not be forwarded (send ICMP time exceeded). The packet is left
    /// unchanged, so that the ICMP error can quote it as it arrived.
    case expired
    /// The buffer is shorter than the fixed header; nothing was changed.
    case truncated
}

extension IPv4Header {
    /// Decrements the TTL of the IPv4 packet at the start of `packet` and updates the header checksum
    /// incrementally (RFC 1624), without summing the header again.
    ///
    /// The packet should have been checked with ``init(_:)`` first; this only makes sure the 20 bytes it
    /// touches are there. A TTL of 0 or 1 expires (RFC 1812 5.3.1: a router never forwards a TTL of 0).
    ///
    /// - Parameter packet: The packet's bytes, writable; valid only during the call.
    /// - Returns: The new TTL, `expired` or `truncated`.
    public static func decrementTTL(_ packet: UnsafeMutableRawBufferPointer) -> HopLimitResult {
        guard packet.count >= minimumLength else { return .truncated }
        let ttl = packet.load(fromByteOffset: 8, as: UInt8.self)
        guard ttl > 1 else { return .expired }
        // The TTL is the high byte of the word it shares with the protocol; that word is the m of RFC 1624.
        let oldWord = packet.bigEndianUInt16(at: 8)
        let newWord = oldWord &- 0x0100
        let checksum = packet.bigEndianUInt16(at: 10)
        packet.storeBigEndian(newWord, at: 8)
        packet.storeBigEndian(InternetChecksum.update(checksum, oldValue: oldWord, newValue: newWord), at: 10)
        return .decremented(to: ttl - 1)
    }
}

extension IPv6Header {
    /// Decrements the hop limit of the IPv6 packet at the start of `packet`. IPv6 has no header checksum,
    /// so nothing else changes.
    ///
    /// The packet should have been checked with ``init(_:)`` first; this only makes sure the 40 bytes of the
    /// fixed header are there. A hop limit of 0 or 1 expires (RFC 8200 section 3).
    ///
    /// - Parameter packet: The packet's bytes, writable; valid only during the call.
    /// - Returns: The new hop limit, `expired` or `truncated`.
    public static func decrementHopLimit(_ packet: UnsafeMutableRawBufferPointer) -> HopLimitResult {
        guard packet.count >= fixedHeaderLength else { return .truncated }
        let hopLimit = packet.load(fromByteOffset: 7, as: UInt8.self)
        guard hopLimit > 1 else { return .expired }
        packet.storeBytes(of: hopLimit - 1, toByteOffset: 7, as: UInt8.self)
        return .decremented(to: hopLimit - 1)
    }
}
