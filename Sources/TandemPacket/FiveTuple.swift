// The 5-tuple of a packet, the input of the ECMP flow hash.

/// Source and destination address, protocol, source and destination port of a packet.
///
/// Both families share one representation so that the hash and the flow tables are written once: an IPv4
/// address is kept as its IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) and ``family`` tells the two apart.
///
/// The ports follow Linux's flow dissector, so that Tandem spreads flows the way the kernel would:
/// - TCP, UDP, UDP-Lite, SCTP and DCCP: the ports of the transport header;
/// - ICMP and ICMPv6 echo request and reply: the echo identifier as both ports, so that a ping session
///   stays on one path and a symmetric hash maps the request and the reply alike;
/// - fragments: 0, for every fragment including the first, so that all the fragments of one datagram hash
///   alike and take the same path (only the first carries the ports; hashing them would send it elsewhere).
///   An IPv6 "atomic fragment" (offset 0, no more fragments) is a whole packet and keeps its ports;
/// - any other protocol, and other ICMP types: 0.
///
/// Reading it allocates nothing: no arrays, no existentials.
public struct FiveTuple: Hashable, Sendable, CustomStringConvertible {
    /// The family of the packet.
    public var family: IPFamily
    /// The source address; an IPv4 address in its IPv4-mapped form.
    public var source: IPv6Address
    /// The destination address; an IPv4 address in its IPv4-mapped form.
    public var destination: IPv6Address
    /// The transport protocol (for IPv6, the one after the extension headers).
    public var `protocol`: IPProtocol
    /// The source port, the echo identifier, or 0 (see the type's documentation).
    public var sourcePort: UInt16
    /// The destination port, the echo identifier, or 0 (see the type's documentation).
    public var destinationPort: UInt16

    /// Makes a 5-tuple from its parts.
    ///
    /// - Parameters:
    ///   - family: The family.
    ///   - source: The source address (IPv4-mapped for IPv4).
    ///   - destination: The destination address (IPv4-mapped for IPv4).
    ///   - protocol: The transport protocol.
    ///   - sourcePort: The source port.
    ///   - destinationPort: The destination port.
    public init(
        family: IPFamily, source: IPv6Address, destination: IPv6Address, protocol: IPProtocol,
        sourcePort: UInt16, destinationPort: UInt16
    ) {
        self.family = family
        self.source = source
        self.destination = destination
        self.protocol = `protocol`
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
    }

    /// Reads the 5-tuple of a checked IPv4 packet.
    ///
    /// - Parameter packet: The packet's header view.
    /// - Throws: ``MalformedReason/transportTruncated`` if the ports (4 bytes) or the ICMP header (8 bytes)
    ///   do not fit in the payload.
    public init(ipv4 packet: IPv4Header) throws(MalformedReason) {
        let ports = try Self.ports(ipv4: packet)
        self.init(
            family: .ipv4, source: IPv6Address(ipv4Mapped: packet.source),
            destination: IPv6Address(ipv4Mapped: packet.destination), protocol: packet.protocol,
            sourcePort: ports.source, destinationPort: ports.destination)
    }

    /// The ports of a checked IPv4 packet exactly as ``init(ipv4:)`` reads them, without making the tuple: the
    /// packet pipeline hashes the IPv4 fields directly.
    ///
    /// - Parameter packet: The packet's header view.
    /// - Returns: The source and destination port (see the type's documentation for ICMP and fragments).
    /// - Throws: ``MalformedReason/transportTruncated`` as ``init(ipv4:)`` does.
    @inlinable
    public static func ports(ipv4 packet: IPv4Header) throws(MalformedReason) -> (source: UInt16, destination: UInt16) {
        guard !packet.isFragment else { return (0, 0) }
        // A protocol with ports (TCP or UDP, nearly every packet): the caller's module inlines this much.
        let transport = packet.packet.slice(packet.headerLength..<packet.packet.count)
        if let ports = leadingPorts(of: packet.protocol, in: transport) { return ports }
        return try portsOfOtherProtocols(ipv4: packet)
    }

    /// ``ports(ipv4:)`` for every other unfragmented packet, by the rules in the type's documentation.
    @usableFromInline
    static func portsOfOtherProtocols(ipv4 packet: IPv4Header) throws(MalformedReason) -> (source: UInt16, destination: UInt16) {
        let ports = try Self.ports(
            of: packet.protocol, in: packet.payload, icmp: .icmp, echo: (ICMPHeader.echoRequest, ICMPHeader.echoReply))
        return (ports.0, ports.1)
    }

    /// Reads the 5-tuple of a checked IPv6 packet, walking its extension headers.
    ///
    /// - Parameter packet: The packet's header view.
    /// - Throws: ``MalformedReason``: the extension header reasons of ``IPv6Header/upperLayer()``, or
    ///   `transportTruncated` if the ports (4 bytes) or the ICMPv6 header (8 bytes) do not fit.
    public init(ipv6 packet: IPv6Header) throws(MalformedReason) {
        let transport = try Self.transport(ipv6: packet)
        self.init(
            family: .ipv6, source: packet.source, destination: packet.destination, protocol: transport.protocol,
            sourcePort: transport.source, destinationPort: transport.destination)
    }

    /// The protocol and the ports of a checked IPv6 packet exactly as ``init(ipv6:)`` reads them, without making
    /// the tuple: the packet pipeline hashes the header's fields directly, as it does IPv4's (``ports(ipv4:)``).
    ///
    /// - Parameter packet: The packet's header view.
    /// - Returns: The protocol after the extension headers, the source and the destination port.
    /// - Throws: ``MalformedReason`` as ``init(ipv6:)`` does.
    @inlinable
    public static func transport(ipv6 packet: IPv6Header) throws(MalformedReason)
        -> (protocol: IPProtocol, source: UInt16, destination: UInt16)
    {
        // A protocol with ports straight after the fixed header (TCP or UDP, nearly every packet): no extension
        // headers to walk, and the caller's module inlines this much.
        let next = packet.nextHeader
        let transport = packet.packet.slice(IPv6Header.fixedHeaderLength..<packet.packet.count)
        if let ports = leadingPorts(of: next, in: transport) { return (next, ports.source, ports.destination) }
        return try transportBehindExtensionHeaders(ipv6: packet)
    }

    /// ``transport(ipv6:)`` for every other packet: the extension headers walked, fragments and ICMPv6 as the type
    /// says.
    @usableFromInline
    static func transportBehindExtensionHeaders(ipv6 packet: IPv6Header) throws(MalformedReason)
        -> (protocol: IPProtocol, source: UInt16, destination: UInt16)
    {
        let upper = try packet.upperLayer()
        if let fragment = upper.fragment, fragment.offset != 0 || fragment.moreFragments { return (upper.protocol, 0, 0) }
        let ports = try Self.ports(
            of: upper.protocol, in: packet.packet.slice(upper.offset..<packet.packet.count), icmp: .icmpv6,
            echo: (ICMPv6Header.echoRequest, ICMPv6Header.echoReply))
        return (upper.protocol, ports.0, ports.1)
    }

    /// Checks a packet of either family and reads its 5-tuple; the version nibble picks the family.
    ///
    /// - Parameter bytes: The packet, from its first IP header byte.
    /// - Returns: The 5-tuple, or the reason the packet is malformed.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Result<FiveTuple, MalformedReason> {
        guard !bytes.isEmpty else { return .failure(.truncated) }
        do throws(MalformedReason) {
            switch bytes.uint8(at: 0) >> 4 {
            case 4: return .success(try FiveTuple(ipv4: IPv4Header(bytes)))
            case 6: return .success(try FiveTuple(ipv6: IPv6Header(bytes)))
            default: return .failure(.badVersion)
            }
        } catch {
            return .failure(error)
        }
    }

    /// The IPv4 source address, for an IPv4 tuple.
    public var sourceIPv4: IPv4Address? { family == .ipv4 ? source.ipv4Mapped : nil }
    /// The IPv4 destination address, for an IPv4 tuple.
    public var destinationIPv4: IPv4Address? { family == .ipv4 ? destination.ipv4Mapped : nil }

    /// E.g. `tcp 198.18.0.1:40000 -> 198.18.1.1:443` or `udp [2001:db8::1]:53 -> [2001:db8::2]:5353`.
    public var description: String {
        func endpoint(_ address: IPv6Address, _ port: UInt16) -> String {
            if family == .ipv4, let ipv4 = address.ipv4Mapped { return "\(ipv4):\(port)" }
            return "[\(address)]:\(port)"
        }
        return "\(self.protocol) \(endpoint(source, sourcePort)) -> \(endpoint(destination, destinationPort))"
    }

    /// The ports of a transport header, per the rules in the type's documentation.
    ///
    /// - Parameters:
    ///   - proto: The transport protocol.
    ///   - transport: The bytes from the start of the transport header.
    ///   - icmp: The ICMP protocol of the family (ICMP in IPv4, ICMPv6 in IPv6).
    ///   - echo: The family's echo request and reply types.
    /// - Returns: The source and destination port.
    /// - Throws: ``MalformedReason/transportTruncated`` if what is read does not fit.
    @inline(__always)
    static func ports(
        of proto: IPProtocol, in transport: UnsafeRawBufferPointer, icmp: IPProtocol, echo: (UInt8, UInt8)
    ) throws(MalformedReason) -> (UInt16, UInt16) {
        if proto.hasPorts {
            guard let ports = leadingPorts(of: proto, in: transport) else { throw .transportTruncated }
            return (ports.source, ports.destination)
        }
        if proto == icmp {
            guard transport.count >= 8 else { throw .transportTruncated }
            let type = transport.uint8(at: 0)
            guard type == echo.0 || type == echo.1 else { return (0, 0) }
            let identifier = transport.bigEndianUInt16(at: 4)
            return (identifier, identifier)
        }
        return (0, 0)
    }

    /// The first rule of ``ports(of:in:icmp:echo:)``: the two ports that start the transport header of a protocol that
    /// has them (``IPProtocol/hasPorts``), or nil for another protocol or fewer than 4 bytes. Inlinable: nearly every
    /// packet is TCP or UDP, and the pipeline reads its ports through this without a call.
    @inlinable
    static func leadingPorts(of proto: IPProtocol, in transport: UnsafeRawBufferPointer)
        -> (source: UInt16, destination: UInt16)?
    {
        guard proto.hasPorts, transport.count >= 4 else { return nil }
        return (transport.bigEndianUInt16(at: 0), transport.bigEndianUInt16(at: 2))
    }
}
