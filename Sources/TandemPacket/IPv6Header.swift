/// A checked, read-only view of an IPv6 packet (RFC 8200) over bytes someone else owns.
///
/// Making the view checks the fixed header and the payload length; ``upperLayer()`` walks the extension
/// headers. Nothing here can trap on any input.
///
/// The view holds the caller's pointer and is valid only while that buffer is: make it inside
/// `withUnsafeBytes` (or the batch loop that owns the buffer) and do not let it escape.
public struct IPv6Header {
    /// The size of the fixed header.
    @inlinable public static var fixedHeaderLength: Int { 40 }

    /// The packet: the fixed header and the payload, cut at the payload length (link-layer padding after it
    /// is not part of the packet).
    public let packet: UnsafeRawBufferPointer

    /// Checks `bytes` and makes a view of the IPv6 packet at their start.
    ///
    /// - Parameter bytes: The packet, from its first header byte; it may run on past the payload length.
    /// - Throws: ``MalformedReason``: `truncated`, `badVersion`, `jumbogramUnsupported` or
    ///   `payloadLengthBeyondBuffer`.
    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer) throws(MalformedReason) {
        guard bytes.count >= Self.fixedHeaderLength else { throw .truncated }
        guard bytes.uint8(at: 0) >> 4 == 6 else { throw .badVersion }
        let payloadLength = Int(bytes.bigEndianUInt16(at: 4))
        // A zero payload length in front of hop-by-hop options is how a jumbogram announces itself; without
        // its jumbo option the packet would be malformed anyway (hop-by-hop needs 8 bytes).
        if payloadLength == 0 && bytes.uint8(at: 6) == 0 {  // hop-by-hop options
            throw .jumbogramUnsupported
        }
        guard Self.fixedHeaderLength + payloadLength <= bytes.count else { throw .payloadLengthBeyondBuffer }
        packet = bytes.slice(0..<Self.fixedHeaderLength + payloadLength)
    }

    /// The traffic class: DSCP in the top six bits, ECN in the bottom two.
    public var trafficClass: UInt8 { UInt8(truncatingIfNeeded: packet.bigEndianUInt32(at: 0) >> 20) }
    /// The 20-bit flow label.
    public var flowLabel: UInt32 { packet.bigEndianUInt32(at: 0) & 0xF_FFFF }
    /// The payload length field: everything after the fixed header, extension headers included.
    public var payloadLength: UInt16 { packet.bigEndianUInt16(at: 4) }
    /// The next header field of the fixed header.
    @inlinable
    public var nextHeader: IPProtocol { IPProtocol(rawValue: packet.uint8(at: 6)) }
    /// The hop limit.
    public var hopLimit: UInt8 { packet.uint8(at: 7) }
    /// The source address.
    @inlinable
    public var source: IPv6Address { IPv6Address(rawValue: packet.bigEndianUInt128(at: 8)) }
    /// The destination address.
    @inlinable
    public var destination: IPv6Address { IPv6Address(rawValue: packet.bigEndianUInt128(at: 24)) }
    /// The payload: extension headers and upper-layer data.
    public var payload: UnsafeRawBufferPointer { packet.slice(Self.fixedHeaderLength..<packet.count) }
}
