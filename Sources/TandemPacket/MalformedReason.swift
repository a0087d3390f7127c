/// Why the bytes of a packet were refused.
///
/// One case per check, without payloads, so that the dataplane can count drops in an array indexed by
/// `rawValue` (see ``allCases``) and a person can read the counter names. The views never trap on any
/// input; every refusal is one of these.
public enum MalformedReason: UInt8, Error, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// Shorter than the fixed header of its kind (20 bytes for IPv4, 40 for IPv6), or empty.
    case truncated
    /// The version nibble is not the expected one (4 or 6; either for ``FiveTuple/parse(_:)``).
    case badVersion
    /// IPv4: the header length field (IHL) is below 5, the size of a header without options.
    case badIHL
    /// IPv4: the header length field says the header, with its options, is longer than the buffer.
    case ihlBeyondBuffer
    /// IPv4: the total length is shorter than the header.
    case totalLengthBelowHeader
    /// IPv4: the total length is longer than the buffer.
    case totalLengthBeyondBuffer
    /// IPv6: the payload length reaches past the end of the buffer.
    case payloadLengthBeyondBuffer
    /// IPv6: payload length 0 with a hop-by-hop header, i.e. a jumbogram (RFC 2675), which Tandem does
    /// not forward (TUN devices never carry one).
    case jumbogramUnsupported
    /// IPv6: a hop-by-hop options header somewhere other than directly after the fixed header (RFC 8200 4.3).
    case hopByHopNotFirst
    /// IPv6: an extension header does not fit in the payload.
    case extensionHeaderTruncated
    /// IPv6: more extension headers than ``IPv6Header/maxExtensionHeaders``; the bound keeps a crafted chain
    /// from costing more than a few reads.
    case tooManyExtensionHeaders
    /// The transport header (or the part of it that is read: ports, or the 8-byte ICMP header) does not fit
    /// in the IP payload.
    case transportTruncated
    /// TCP: the data offset is below 5 or reaches past the end of the segment.
    case badTCPDataOffset

    public var description: String {
        switch self {
        case .truncated: "truncated: shorter than the fixed IP header"
        case .badVersion: "bad IP version"
        case .badIHL: "IPv4 header length (IHL) below 5"
        case .ihlBeyondBuffer: "IPv4 header length (IHL) beyond the end of the packet"
        case .totalLengthBelowHeader: "IPv4 total length shorter than the header"
        case .totalLengthBeyondBuffer: "IPv4 total length beyond the end of the packet"
        case .payloadLengthBeyondBuffer: "IPv6 payload length beyond the end of the packet"
        case .jumbogramUnsupported: "IPv6 jumbogram (payload length 0 with hop-by-hop options) not supported"
        case .hopByHopNotFirst: "IPv6 hop-by-hop options header not directly after the fixed header"
        case .extensionHeaderTruncated: "IPv6 extension header beyond the end of the payload"
        case .tooManyExtensionHeaders: "too many IPv6 extension headers"
        case .transportTruncated: "transport header beyond the end of the IP payload"
        case .badTCPDataOffset: "TCP data offset below 5 or beyond the end of the segment"
        }
    }
}
