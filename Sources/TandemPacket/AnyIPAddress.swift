// Addresses of either family: a tunnel's peer or probe address in the configuration, a route's gateway in the
// kernel (an IPv4 route may have an IPv6 gateway, RFC 5549). `IPAddress` is a protocol (one table per family), so
// the either-family value is an enum, named `Any...` to stay clear of the protocol's name. Prefixes of either
// family are ``RoutePrefix``.

/// An IPv4 or an IPv6 address.
public enum AnyIPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// An IPv4 address.
    case v4(IPv4Address)
    /// An IPv6 address.
    case v6(IPv6Address)

    /// Parses an address of either family: text with a `:` is read as IPv6, anything else as IPv4.
    ///
    /// - Parameter text: The address text, with nothing before or after it.
    /// - Throws: ``AddressParseError`` from the parser of the family, e.g. `'10.0.0.256': part 4 is larger than 255`.
    public init(_ text: some StringProtocol) throws(AddressParseError) {
        if text.contains(":") {
            self = .v6(try IPv6Address(text))
        } else {
            self = .v4(try IPv4Address(text))
        }
    }

    /// The address family.
    public var family: IPFamily {
        switch self {
        case .v4: .ipv4
        case .v6: .ipv6
        }
    }

    /// The dotted quad or the RFC 5952 text.
    public var description: String {
        switch self {
        case .v4(let address): address.description
        case .v6(let address): address.description
        }
    }

    /// IPv4 before IPv6, then by value.
    public static func < (lhs: AnyIPAddress, rhs: AnyIPAddress) -> Bool {
        switch (lhs, rhs) {
        case (.v4(let a), .v4(let b)): a < b
        case (.v6(let a), .v6(let b)): a < b
        case (.v4, .v6): true
        case (.v6, .v4): false
        }
    }
}
