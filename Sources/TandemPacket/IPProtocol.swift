/// An IP protocol number (IPv4 protocol field, IPv6 next header), as assigned by IANA.
///
/// A struct rather than an enum because every value 0...255 can appear on the wire and must pass through.
public struct IPProtocol: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8

    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// IPv6 hop-by-hop options (0).
    public static let hopByHopOptions = IPProtocol(rawValue: 0)
    /// ICMP for IPv4 (1).
    public static let icmp = IPProtocol(rawValue: 1)
    /// IPv4 in IP (4).
    public static let ipip = IPProtocol(rawValue: 4)
    /// TCP (6).
    public static let tcp = IPProtocol(rawValue: 6)
    /// UDP (17).
    public static let udp = IPProtocol(rawValue: 17)
    /// DCCP (33).
    public static let dccp = IPProtocol(rawValue: 33)
    /// IPv6 in IP (41).
    public static let ipv6 = IPProtocol(rawValue: 41)
    /// IPv6 routing header (43).
    public static let routing = IPProtocol(rawValue: 43)
    /// IPv6 fragment header (44).
    public static let fragment = IPProtocol(rawValue: 44)
    /// GRE (47).
    public static let gre = IPProtocol(rawValue: 47)
    /// IPsec ESP (50).
    public static let esp = IPProtocol(rawValue: 50)
    /// IPsec authentication header (51).
    public static let authenticationHeader = IPProtocol(rawValue: 51)
    /// ICMP for IPv6 (58).
    public static let icmpv6 = IPProtocol(rawValue: 58)
    /// IPv6 "no next header" (59): nothing follows.
    public static let noNextHeader = IPProtocol(rawValue: 59)
    /// IPv6 destination options (60).
    public static let destinationOptions = IPProtocol(rawValue: 60)
    /// SCTP (132).
    public static let sctp = IPProtocol(rawValue: 132)
    /// UDP-Lite (136).
    public static let udpLite = IPProtocol(rawValue: 136)

    /// Whether the transport header starts with a 16-bit source and a 16-bit destination port
    /// (TCP, UDP, UDP-Lite, SCTP, DCCP), as Linux's flow dissector reads them.
    @inlinable public var hasPorts: Bool {
        switch rawValue {
        case 6, 17, 33, 132, 136: true
        default: false
        }
    }

    public var description: String {
        switch rawValue {
        case 0: "hop-by-hop"
        case 1: "icmp"
        case 4: "ipip"
        case 6: "tcp"
        case 17: "udp"
        case 33: "dccp"
        case 41: "ipv6"
        case 43: "routing"
        case 44: "fragment"
        case 47: "gre"
        case 50: "esp"
        case 51: "ah"
        case 58: "icmpv6"
        case 59: "no-next-header"
        case 60: "destination-options"
        case 132: "sctp"
        case 136: "udplite"
        default: "protocol \(rawValue)"
        }
    }
}
