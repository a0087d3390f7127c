/// Checked, read-only views of transport headers: TCP, UDP, ICMP and ICMPv6.
///
/// Each view is made from the IP payload that starts with its header (``IPv4Header/payload``, or the IPv6
/// packet from ``IPv6UpperLayer/offset``). Like the IP views they hold the caller's pointer and are valid
/// only while that buffer is.
///
/// A router reads little of the transport header: the 5-tuple needs the ports (``FiveTuple`` reads them
/// itself and needs only 4 bytes). These views check the whole fixed header, for the code that needs more.

/// A TCP header (RFC 9293).
public struct TCPHeader {
    /// The size of a header without options.
    public static let minimumLength = 20

    /// The segment: header, options and data.
    public let segment: UnsafeRawBufferPointer

    /// Checks `bytes` and makes a view of the TCP segment at their start.
    ///
    /// - Parameter bytes: The segment.
    /// - Throws: ``MalformedReason``: `transportTruncated` if the 20-byte header does not fit,
    ///   `badTCPDataOffset` if the data offset is below 5 or the options do not fit.
    public init(_ bytes: UnsafeRawBufferPointer) throws(MalformedReason) {
        guard bytes.count >= Self.minimumLength else { throw .transportTruncated }
        let headerLength = Int(bytes.uint8(at: 12) >> 4) * 4
        guard headerLength >= Self.minimumLength, headerLength <= bytes.count else { throw .badTCPDataOffset }
        segment = bytes
    }

    /// The source port.
    public var sourcePort: UInt16 { segment.bigEndianUInt16(at: 0) }
    /// The destination port.
    public var destinationPort: UInt16 { segment.bigEndianUInt16(at: 2) }
    /// The sequence number.
    public var sequenceNumber: UInt32 { segment.bigEndianUInt32(at: 4) }
    /// The acknowledgment number.
    public var acknowledgmentNumber: UInt32 { segment.bigEndianUInt32(at: 8) }
    /// The header length in bytes (data offset × 4), 20 through 60.
    public var headerLength: Int { Int(segment.uint8(at: 12) >> 4) * 4 }
    /// The eight classic flags: CWR, ECE, URG, ACK, PSH, RST, SYN, FIN from the top bit down.
    public var flags: UInt8 { segment.uint8(at: 13) }
    /// The SYN flag.
    public var isSYN: Bool { flags & 0x02 != 0 }
    /// The receive window.
    public var window: UInt16 { segment.bigEndianUInt16(at: 14) }
    /// The checksum field.
    public var checksum: UInt16 { segment.bigEndianUInt16(at: 16) }
    /// The urgent pointer.
    public var urgentPointer: UInt16 { segment.bigEndianUInt16(at: 18) }
    /// The options (bounds checked, content not).
    public var options: UnsafeRawBufferPointer { segment.slice(Self.minimumLength..<headerLength) }
    /// The data after the header.
    public var payload: UnsafeRawBufferPointer { segment.slice(headerLength..<segment.count) }
}

/// A UDP header (RFC 768).
///
/// The length field is reported, not checked: a router forwards the datagram whatever it says.
public struct UDPHeader {
    /// The size of the header.
    public static let length = 8

    /// The datagram: header and data.
    public let datagram: UnsafeRawBufferPointer

    /// Checks `bytes` and makes a view of the UDP datagram at their start.
    ///
    /// - Parameter bytes: The datagram.
    /// - Throws: ``MalformedReason/transportTruncated`` if the 8-byte header does not fit.
    public init(_ bytes: UnsafeRawBufferPointer) throws(MalformedReason) {
        guard bytes.count >= Self.length else { throw .transportTruncated }
        datagram = bytes
    }

    /// The source port.
    public var sourcePort: UInt16 { datagram.bigEndianUInt16(at: 0) }
    /// The destination port.
    public var destinationPort: UInt16 { datagram.bigEndianUInt16(at: 2) }
    /// The length field: header and data in bytes, as the sender wrote it.
    public var lengthField: UInt16 { datagram.bigEndianUInt16(at: 4) }
    /// The checksum field (0 in IPv4 means "no checksum").
    public var checksum: UInt16 { datagram.bigEndianUInt16(at: 6) }
    /// The data after the header.
    public var payload: UnsafeRawBufferPointer { datagram.slice(Self.length..<datagram.count) }
}

/// An ICMP header for IPv4 (RFC 792): type, code, checksum and the 4 bytes whose meaning depends on the type.
public struct ICMPHeader {
    /// The size of the header every ICMP message has.
    public static let length = 8
    /// Echo reply.
    public static let echoReply: UInt8 = 0
    /// Destination unreachable.
    public static let destinationUnreachable: UInt8 = 3
    /// Echo request.
    public static let echoRequest: UInt8 = 8
    /// Time exceeded.
    public static let timeExceeded: UInt8 = 11

    /// The message: header and body.
    public let message: UnsafeRawBufferPointer

    /// Checks `bytes` and makes a view of the ICMP message at their start.
    ///
    /// - Parameter bytes: The message.
    /// - Throws: ``MalformedReason/transportTruncated`` if the 8-byte header does not fit.
    public init(_ bytes: UnsafeRawBufferPointer) throws(MalformedReason) {
        guard bytes.count >= Self.length else { throw .transportTruncated }
        message = bytes
    }

    /// The type.
    public var type: UInt8 { message.uint8(at: 0) }
    /// The code.
    public var code: UInt8 { message.uint8(at: 1) }
    /// The checksum field.
    public var checksum: UInt16 { message.bigEndianUInt16(at: 2) }
    /// Whether this is an echo request or reply, whose identifier names the ping session.
    public var isEcho: Bool { type == Self.echoRequest || type == Self.echoReply }
    /// The echo identifier, for echo requests and replies; `nil` for other types.
    public var identifier: UInt16? { isEcho ? message.bigEndianUInt16(at: 4) : nil }
    /// The echo sequence number, for echo requests and replies; `nil` for other types.
    public var sequenceNumber: UInt16? { isEcho ? message.bigEndianUInt16(at: 6) : nil }
    /// The body after the 8-byte header (for errors: the start of the packet that caused them).
    public var body: UnsafeRawBufferPointer { message.slice(Self.length..<message.count) }
}

/// An ICMPv6 header (RFC 4443): type, code, checksum and the 4 bytes whose meaning depends on the type.
public struct ICMPv6Header {
    /// The size of the header every ICMPv6 message has.
    public static let length = 8
    /// Destination unreachable.
    public static let destinationUnreachable: UInt8 = 1
    /// Packet too big.
    public static let packetTooBig: UInt8 = 2
    /// Time exceeded.
    public static let timeExceeded: UInt8 = 3
    /// Echo request.
    public static let echoRequest: UInt8 = 128
    /// Echo reply.
    public static let echoReply: UInt8 = 129

    /// The message: header and body.
    public let message: UnsafeRawBufferPointer

    /// Checks `bytes` and makes a view of the ICMPv6 message at their start.
    ///
    /// - Parameter bytes: The message.
    /// - Throws: ``MalformedReason/transportTruncated`` if the 8-byte header does not fit.
    public init(_ bytes: UnsafeRawBufferPointer) throws(MalformedReason) {
        guard bytes.count >= Self.length else { throw .transportTruncated }
        message = bytes
    }

    /// The type.
    public var type: UInt8 { message.uint8(at: 0) }
    /// The code.
    public var code: UInt8 { message.uint8(at: 1) }
    /// The checksum field.
    public var checksum: UInt16 { message.bigEndianUInt16(at: 2) }
    /// Whether this is an echo request or reply, whose identifier names the ping session.
    public var isEcho: Bool { type == Self.echoRequest || type == Self.echoReply }
    /// The echo identifier, for echo requests and replies; `nil` for other types.
    public var identifier: UInt16? { isEcho ? message.bigEndianUInt16(at: 4) : nil }
    /// The echo sequence number, for echo requests and replies; `nil` for other types.
    public var sequenceNumber: UInt16? { isEcho ? message.bigEndianUInt16(at: 6) : nil }
    /// The body after the 8-byte header (for errors: the start of the packet that caused them).
    public var body: UnsafeRawBufferPointer { message.slice(Self.length..<message.count) }
}
