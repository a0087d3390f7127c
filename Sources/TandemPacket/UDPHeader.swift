// Checked, read-only views of transport headers. Each view is made from the IP payload that starts with its
// header (`IPv4Header.payload`, or the IPv6 packet from `IPv6UpperLayer.offset`). Like the IP views they hold the
// caller's pointer and are valid only while that buffer is.
//
// A router reads little of the transport header: the 5-tuple needs only the ports (`FiveTuple` reads them itself,
// from 4 bytes). These views check the whole fixed header, for the code that needs more.

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
