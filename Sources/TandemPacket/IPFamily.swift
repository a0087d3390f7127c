/// An IP address family. The raw value is the version number in the first nibble of a packet.
public enum IPFamily: UInt8, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// IPv4, version 4.
    case ipv4 = 4
    /// IPv6, version 6.
    case ipv6 = 6

    public var description: String { self == .ipv4 ? "IPv4" : "IPv6" }

    /// The bits in an address: 32 or 128, the longest prefix length.
    public var addressBits: Int { self == .ipv4 ? 32 : 128 }
}
