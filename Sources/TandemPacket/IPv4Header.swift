/// A checked, read-only view of an IPv4 packet (RFC 791) over bytes someone else owns.
///
/// Making the view checks everything its accessors rely on (version, IHL, total length against the buffer),
/// so the accessors read without further checks and nothing here can trap on any input.
///
/// The view holds the caller's pointer and is valid only while that buffer is: make it inside
/// `withUnsafeBytes` (or the batch loop that owns the buffer) and do not let it escape.
public struct IPv4Header {
    /// The size of a header without options.
    @inlinable public static var minimumLength: Int { 20 }

    /// The packet: the header and the payload, cut at the total length (link-layer padding after it is
    /// not part of the packet).
    public let packet: UnsafeRawBufferPointer

    /// Checks `bytes` and makes a view of the IPv4 packet at their start.
    ///
    /// - Parameter bytes: The packet, from its first header byte; it may run on past the total length.
    /// - Throws: ``MalformedReason``: `truncated`, `badVersion`, `badIHL`, `ihlBeyondBuffer`,
    ///   `totalLengthBelowHeader` or `totalLengthBeyondBuffer`.
    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer) throws(MalformedReason) {
        guard bytes.count >= Self.minimumLength else { throw .truncated }
        let versionAndIHL = bytes.uint8(at: 0)
        guard versionAndIHL >> 4 == 4 else { throw .badVersion }
        let headerLength = Int(versionAndIHL & 0x0F) * 4
        guard headerLength >= Self.minimumLength else { throw .badIHL }
        guard headerLength <= bytes.count else { throw .ihlBeyondBuffer }
        let totalLength = Int(bytes.bigEndianUInt16(at: 2))
        guard totalLength >= headerLength else { throw .totalLengthBelowHeader }
        guard totalLength <= bytes.count else { throw .totalLengthBeyondBuffer }
        packet = bytes.slice(0..<totalLength)
    }

    /// The header length in bytes (IHL × 4), 20 through 60.
    @inlinable
    public var headerLength: Int { Int(packet.uint8(at: 0) & 0x0F) * 4 }
    /// The type-of-service byte: DSCP in the top six bits, ECN in the bottom two.
    public var typeOfService: UInt8 { packet.uint8(at: 1) }
    /// The differentiated services code point (RFC 2474).
    public var dscp: UInt8 { typeOfService >> 2 }
    /// The ECN field (RFC 3168).
    public var ecn: UInt8 { typeOfService & 0x03 }
    /// The total length field: header and payload in bytes.
    public var totalLength: UInt16 { packet.bigEndianUInt16(at: 2) }
    /// The identification field, shared by the fragments of one datagram.
    public var identification: UInt16 { packet.bigEndianUInt16(at: 4) }
    /// The don't-fragment flag.
    public var dontFragment: Bool { packet.uint8(at: 6) & 0x40 != 0 }
    /// The more-fragments flag.
    public var moreFragments: Bool { packet.uint8(at: 6) & 0x20 != 0 }
    /// The fragment offset in units of 8 bytes.
    public var fragmentOffset: UInt16 { packet.bigEndianUInt16(at: 6) & 0x1FFF }
    /// The time to live.
    public var ttl: UInt8 { packet.uint8(at: 8) }
    /// The protocol of the payload.
    @inlinable
    public var `protocol`: IPProtocol { IPProtocol(rawValue: packet.uint8(at: 9)) }
    /// The header checksum field.
    public var headerChecksum: UInt16 { packet.bigEndianUInt16(at: 10) }
    /// The source address.
    @inlinable
    public var source: IPv4Address { IPv4Address(rawValue: packet.bigEndianUInt32(at: 12)) }
    /// The destination address.
    @inlinable
    public var destination: IPv4Address { IPv4Address(rawValue: packet.bigEndianUInt32(at: 16)) }

    /// The header, options included.
    public var header: UnsafeRawBufferPointer { packet.slice(0..<headerLength) }
    /// The options: bytes 20 up to the header length (only their bounds are checked, not their content).
    public var options: UnsafeRawBufferPointer { packet.slice(Self.minimumLength..<headerLength) }
    /// The payload: from the end of the header to the total length.
    public var payload: UnsafeRawBufferPointer { packet.slice(headerLength..<packet.count) }

    /// Whether this is a fragment of a larger datagram (more fragments follow, or it is not the first).
    @inlinable
    public var isFragment: Bool { packet.bigEndianUInt16(at: 6) & 0x3FFF != 0 }
    /// Whether this is the first fragment of a fragmented datagram (the one that carries the transport
    /// header). An unfragmented packet is not a first fragment.
    public var isFirstFragment: Bool { moreFragments && fragmentOffset == 0 }
    /// Whether the payload starts with the transport header: true unless this is a fragment other than the
    /// first.
    public var hasTransportHeader: Bool { fragmentOffset == 0 }

    /// Whether the header checksum is right: the one's complement sum of the header, checksum included,
    /// is all ones (RFC 1071).
    ///
    /// The header is a whole number of 32-bit words, so this adds words without the general sum's tail handling:
    /// every forwarded packet is checked.
    @inlinable
    public var isChecksumValid: Bool {
        var accumulator: UInt64 = 0
        var offset = 0
        let length = headerLength
        while offset < length {
            accumulator &+= UInt64(packet.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            offset &+= 4
        }
        // At most 15 words: no overflow of 64 bits. Fold to 16 bits; the byte order does not change the result.
        accumulator = (accumulator >> 32) &+ (accumulator & 0xFFFF_FFFF)
        accumulator = (accumulator >> 16) &+ (accumulator & 0xFFFF)
        accumulator = (accumulator >> 16) &+ (accumulator & 0xFFFF)
        accumulator = (accumulator >> 16) &+ (accumulator & 0xFFFF)
        return accumulator == 0xFFFF
    }
}
