// Checked, read-only views of transport headers. Each view is made from the IP payload that starts with its
// header (`IPv4Header.payload`, or the IPv6 packet from `IPv6UpperLayer.offset`). Like the IP views they hold the
// caller's pointer and are valid only while that buffer is.
//
// A router reads little of the transport header: the 5-tuple needs only the ports (`FiveTuple` reads them itself,
// from 4 bytes). These views check the whole fixed header, for the code that needs more.

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
