// Building the ICMP and ICMPv6 errors a router sends, the way Linux's `__icmp_send` (net/ipv4/icmp.c) and
// `icmp6_send` (net/ipv6/icmp.c) build them.

import TandemPacket

/// Writes the ICMP error a router sends about a packet it does not forward (time exceeded, destination
/// unreachable, fragmentation needed / packet too big) into a caller-owned buffer.
///
/// The error goes from the gateway's own address of the offending packet's family to the offending packet's
/// source, and quotes as much of the offending packet, from its IP header on, as fits in 576 bytes (IPv4,
/// RFC 1812 4.3.2.3, Linux `icmp_send`) or 1280 bytes (IPv6, RFC 4443 2.4(c)). Pass the packet as it arrived,
/// before its TTL was decremented, as Linux quotes it.
///
/// No error is written (the methods return `nil`) when RFC 1812 4.3.2.7 / RFC 4443 2.4(e) forbid one; see
/// ``ICMPErrorRefusal`` for the rules and `refusal(of:about:)` to learn which one applied.
/// Rate limiting is separate: ask an ``ICMPRateLimiter`` before writing.
///
/// Nothing here allocates; the builder only reads the offending packet and writes `output`.
public struct ICMPErrorBuilder: Hashable, Sendable {
    /// The largest IPv4 error: 576 bytes, as RFC 1812 4.3.2.3 says and Linux sends.
    public static let ipv4MaximumLength = 576
    /// The largest IPv6 error: the IPv6 minimum MTU, 1280 bytes (RFC 4443 2.4(c)).
    public static let ipv6MaximumLength = 1280
    /// The smallest output buffer for an IPv4 error: the IPv4 minimum MTU (RFC 791), 68 bytes.
    public static let ipv4MinimumOutputLength = 68
    /// The smallest output buffer for an IPv6 error: the IPv6 minimum MTU, which every link carries.
    public static let ipv6MinimumOutputLength = 1280
    /// The TTL / hop limit of the errors: 64, Linux's default (`ip_default_ttl`, `hop_limit`).
    public static let hopLimit: UInt8 = 64

    /// The address IPv4 errors are sent from.
    public var ipv4Source: IPv4Address
    /// The address IPv6 errors are sent from.
    public var ipv6Source: IPv6Address

    /// Makes a builder that sends from the gateway's own addresses.
    ///
    /// - Parameters:
    ///   - ipv4Source: The source of IPv4 errors.
    ///   - ipv6Source: The source of IPv6 errors.
    public init(ipv4Source: IPv4Address, ipv6Source: IPv6Address) {
        self.ipv4Source = ipv4Source
        self.ipv6Source = ipv6Source
    }

    /// Writes the error about the IPv4 or IPv6 packet at the start of `packet`.
    ///
    /// - Parameters:
    ///   - error: The error to send.
    ///   - packet: The offending packet as it arrived, from its IP header; link-layer padding after its length
    ///     is not quoted. Bytes that are not a valid IPv4 or IPv6 packet get no error.
    ///   - output: Where the error packet goes, from its IP header. At least ``ipv4MinimumOutputLength`` bytes
    ///     for IPv4 and ``ipv6MinimumOutputLength`` for IPv6; a buffer shorter than the maximum length cuts the
    ///     quote to fit, as Linux cuts it to the route's MTU.
    /// - Returns: The length of the error packet, or `nil` if no error may be sent about `packet`.
    public func write(
        _ error: ICMPErrorKind, about packet: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
    )
        -> Int?
    {
        guard let first = packet.first else { return nil }
        switch first >> 4 {
        case 4:
            guard let header = try? IPv4Header(packet) else { return nil }
            return write(error, about: header, into: output)
        case 6:
            guard let header = try? IPv6Header(packet) else { return nil }
            return write(error, about: header, into: output)
        default:
            return nil
        }
    }

    /// Writes the ICMP error about an IPv4 packet.
    ///
    /// The IP header: version 4, IHL 5, TOS `(offending TOS & 0x1E) | 0xC0` (Linux: `RT_TOS(iph->tos) |
    /// IPTOS_PREC_INTERNETCONTROL`, so 0xC0 unless the offending packet set the old TOS bits), identification 0,
    /// DF clear, TTL 64, protocol 1. The ICMP header: type and code of `error`, the next-hop MTU in bytes 6-7
    /// for fragmentation needed (capped at 65535), zero otherwise.
    ///
    /// - Parameters:
    ///   - error: The error to send.
    ///   - packet: The offending packet as it arrived.
    ///   - output: Where the error goes; at least ``ipv4MinimumOutputLength`` bytes.
    /// - Returns: The length of the error packet, or `nil` if no error may be sent about `packet`.
    /// - Precondition: `output` holds at least ``ipv4MinimumOutputLength`` bytes.
    public func write(_ error: ICMPErrorKind, about packet: IPv4Header, into output: UnsafeMutableRawBufferPointer)
        -> Int?
    {
        precondition(output.count >= Self.ipv4MinimumOutputLength, "an ICMP error needs at least 68 bytes of output")
        guard Self.refusal(of: error, about: packet) == nil else { return nil }
        let headersLength = IPv4Header.minimumLength + ICMPHeader.length
        let quoted = min(packet.packet.count, min(Self.ipv4MaximumLength, output.count) - headersLength)
        let total = headersLength + quoted

        output.storeByte(0x45, at: 0)
        output.storeByte((packet.typeOfService & 0x1E) | 0xC0, at: 1)
        output.storeBigEndian(UInt16(total), at: 2)
        output.storeBigEndian(UInt32(0), at: 4)  // identification 0, no flags, offset 0
        output.storeByte(Self.hopLimit, at: 8)
        output.storeByte(IPProtocol.icmp.rawValue, at: 9)
        output.storeBigEndian(UInt16(0), at: 10)
        output.storeBigEndian(ipv4Source.rawValue, at: 12)
        output.storeBigEndian(packet.source.rawValue, at: 16)

        let icmp = IPv4Header.minimumLength
        let (type, code) = error.ipv4TypeAndCode
        output.storeByte(type, at: icmp)
        output.storeByte(code, at: icmp + 1)
        output.storeBigEndian(UInt16(0), at: icmp + 2)
        var rest: UInt32 = 0
        if case .packetTooBig(let mtu) = error { rest = min(mtu, UInt32(UInt16.max)) }
        output.storeBigEndian(rest, at: icmp + 4)
        output.copy(UnsafeRawBufferPointer(rebasing: packet.packet[0..<quoted]), to: headersLength)

        output.storeBigEndian(InternetChecksum.checksum(output.readOnly(icmp..<total)), at: icmp + 2)
        output.storeBigEndian(InternetChecksum.checksum(output.readOnly(0..<icmp)), at: 10)
        return total
    }

    /// Writes the ICMPv6 error about an IPv6 packet.
    ///
    /// The IPv6 header: traffic class 0, flow label 0, next header 58, hop limit 64. The ICMPv6 header: type
    /// and code of `error`, the MTU in bytes 4-7 for packet too big, zero otherwise; the checksum covers the
    /// pseudo-header (RFC 8200 8.1).
    ///
    /// - Parameters:
    ///   - error: The error to send.
    ///   - packet: The offending packet as it arrived.
    ///   - output: Where the error goes; at least ``ipv6MinimumOutputLength`` bytes.
    /// - Returns: The length of the error packet, or `nil` if no error may be sent about `packet`.
    /// - Precondition: `output` holds at least ``ipv6MinimumOutputLength`` bytes.
    public func write(_ error: ICMPErrorKind, about packet: IPv6Header, into output: UnsafeMutableRawBufferPointer)
        -> Int?
    {
        precondition(
            output.count >= Self.ipv6MinimumOutputLength, "an ICMPv6 error needs at least 1280 bytes of output")
        guard Self.refusal(of: error, about: packet) == nil else { return nil }
        let headersLength = IPv6Header.fixedHeaderLength + ICMPv6Header.length
        let quoted = min(packet.packet.count, min(Self.ipv6MaximumLength, output.count) - headersLength)
        let total = headersLength + quoted
        let icmpLength = total - IPv6Header.fixedHeaderLength

        output.storeBigEndian(UInt32(0x6000_0000), at: 0)  // version 6, traffic class 0, flow label 0
        output.storeBigEndian(UInt16(icmpLength), at: 4)
        output.storeByte(IPProtocol.icmpv6.rawValue, at: 6)
        output.storeByte(Self.hopLimit, at: 7)
        output.storeBigEndian(ipv6Source.rawValue, at: 8)
        output.storeBigEndian(packet.source.rawValue, at: 24)

        let icmp = IPv6Header.fixedHeaderLength
        let (type, code) = error.ipv6TypeAndCode
        output.storeByte(type, at: icmp)
        output.storeByte(code, at: icmp + 1)
        output.storeBigEndian(UInt16(0), at: icmp + 2)
        var rest: UInt32 = 0
        if case .packetTooBig(let mtu) = error { rest = mtu }
        output.storeBigEndian(rest, at: icmp + 4)
        output.copy(UnsafeRawBufferPointer(rebasing: packet.packet[0..<quoted]), to: headersLength)

        // The pseudo-header: both addresses (bytes 8..<40 of the header just written), the upper-layer length
        // (below 65536, so one word) and the next header.
        var sum = InternetChecksum.sum(output.readOnly(8..<icmp))
        sum = InternetChecksum.add(sum, UInt16(icmpLength))
        sum = InternetChecksum.add(sum, UInt16(IPProtocol.icmpv6.rawValue))
        sum = InternetChecksum.add(sum, InternetChecksum.sum(output.readOnly(icmp..<total)))
        output.storeBigEndian(~sum, at: icmp + 2)
        return total
    }

    /// Why no error may be sent about an IPv4 packet, or `nil` if one may.
    ///
    /// The rules, in Linux's order: a fragment other than the first (offset not 0); a packet to 255.255.255.255
    /// or to a multicast address (224.0.0.0/4); a packet from an address that is not a single host (0.0.0.0/8,
    /// which Linux drops as a martian, 127.0.0.0/8, 224.0.0.0/4, 255.255.255.255); an ICMP error message
    /// (types 3, 4, 5, 11, 12) or an ICMP message too short to show its type. None depends on `error`.
    ///
    /// - Parameters:
    ///   - error: The error that would be sent.
    ///   - packet: The offending packet.
    /// - Returns: The rule that forbids the error, or `nil`.
    public static func refusal(of error: ICMPErrorKind, about packet: IPv4Header) -> ICMPErrorRefusal? {
        if packet.fragmentOffset != 0 { return .notFirstFragment }
        let destination = packet.destination.rawValue
        if destination == 0xFFFF_FFFF { return .broadcastDestination }
        if destination >> 28 == 0xE { return .multicastDestination }
        let source = packet.source.rawValue
        if source >> 24 == 0 || source >> 24 == 127 || source >> 28 == 0xE || source == 0xFFFF_FFFF {
            return .sourceNotUnicast
        }
        if packet.protocol == .icmp {
            // Linux gives up when the type cannot be read, and so do we.
            guard let type = packet.payload.first, !ICMPv4Types.isError(type) else { return .aboutICMPError }
        }
        return nil
    }

    /// Why no error may be sent about an IPv6 packet, or `nil` if one may.
    ///
    /// The rules: an extension header chain that cannot be walked; a fragment other than the first (fragment
    /// header offset not 0); a packet to a multicast address (ff00::/8), except for packet too big; a packet
    /// from ::, ::1 or a multicast address; an ICMPv6 error message (types 0...127, found after the extension
    /// headers) or an ICMPv6 message too short to show its type.
    ///
    /// Linux differs in one place: its `is_ineligible` lets errors about non-first fragments through. Tandem
    /// refuses them as it does for IPv4; the first fragment of the same packet still gets its error.
    ///
    /// - Parameters:
    ///   - error: The error that would be sent.
    ///   - packet: The offending packet.
    /// - Returns: The rule that forbids the error, or `nil`.
    public static func refusal(of error: ICMPErrorKind, about packet: IPv6Header) -> ICMPErrorRefusal? {
        guard let upper = try? packet.upperLayer() else { return .malformed }
        if let fragment = upper.fragment, !fragment.isFirst { return .notFirstFragment }
        if packet.destination.rawValue >> 120 == 0xFF && !error.isPathMTUError { return .multicastDestination }
        let source = packet.source.rawValue
        if source == 0 || source == 1 || source >> 120 == 0xFF { return .sourceNotUnicast }
        if upper.protocol == .icmpv6 {
            guard upper.offset < packet.packet.count, packet.packet[upper.offset] & 0x80 != 0 else {
                return .aboutICMPError
            }
        }
        return nil
    }
}
