// Checked, read-only views of transport headers. Each view is made from the IP payload that starts with its
// header (`IPv4Header.payload`, or the IPv6 packet from `IPv6UpperLayer.offset`). Like the IP views they hold the
// caller's pointer and are valid only while that buffer is.
//
// A router reads little of the transport header: the 5-tuple needs only the ports (`FiveTuple` reads them itself,
// from 4 bytes). These views check the whole fixed header, for the code that needs more.

/// What ICMP (RFC 792) and ICMPv6 (RFC 4443) headers share: the 8-byte header layout and the echo
/// identifier, read the same way; only the type numbers differ.
public protocol ICMPMessageView {
    /// The echo request type of the family.
    static var echoRequest: UInt8 { get }
    /// The echo reply type of the family.
    static var echoReply: UInt8 { get }
    /// The message: header and body.
    var message: UnsafeRawBufferPointer { get }
    /// Checks `bytes` and makes a view of the message at their start.
    ///
    /// - Parameter bytes: The message.
    /// - Throws: ``MalformedReason/transportTruncated`` if the 8-byte header does not fit.
    init(_ bytes: UnsafeRawBufferPointer) throws(MalformedReason)
}

extension ICMPMessageView {
    /// The size of the header every ICMP and ICMPv6 message has.
    public static var length: Int { 8 }
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

    /// Checks that the 8-byte header fits; the initialisers of the conforming views call it.
    static func checkLength(_ bytes: UnsafeRawBufferPointer) throws(MalformedReason) {
        guard bytes.count >= length else { throw .transportTruncated }
    }
}

/// An ICMP header for IPv4 (RFC 792): type, code, checksum and the 4 bytes whose meaning depends on the type.
public struct ICMPHeader: ICMPMessageView {
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

    public init(_ bytes: UnsafeRawBufferPointer) throws(MalformedReason) {
        try Self.checkLength(bytes)
        message = bytes
    }
}

/// An ICMPv6 header (RFC 4443): type, code, checksum and the 4 bytes whose meaning depends on the type.
public struct ICMPv6Header: ICMPMessageView {
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

    public init(_ bytes: UnsafeRawBufferPointer) throws(MalformedReason) {
        try Self.checkLength(bytes)
        message = bytes
    }
}
