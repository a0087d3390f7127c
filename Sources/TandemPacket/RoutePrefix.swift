// Prefixes of either family: what a route, a policy match or a kernel route is for.

/// An IPv4 or IPv6 prefix: what a route is for. Ordered by family, then address, then length.
public enum RoutePrefix: Hashable, Sendable, Comparable, CustomStringConvertible {
    case v4(IPv4Prefix)
    case v6(IPv6Prefix)

    /// Parses `a.b.c.d/n` or an IPv6 prefix; host bits set is an error naming the right prefix.
    public init(_ text: some StringProtocol) throws(PrefixError) {
        if text.contains(":") { self = .v6(try IPv6Prefix(text)) } else { self = .v4(try IPv4Prefix(text)) }
    }

    /// The prefix's family.
    public var family: IPFamily {
        switch self {
        case .v4: .ipv4
        case .v6: .ipv6
        }
    }

    /// Whether `other` lies inside this prefix (same family, at least as long, same leading bits).
    public func contains(_ other: RoutePrefix) -> Bool {
        switch (self, other) {
        case (.v4(let a), .v4(let b)): a.contains(b)
        case (.v6(let a), .v6(let b)): a.contains(b)
        default: false
        }
    }

    public static func < (lhs: RoutePrefix, rhs: RoutePrefix) -> Bool {
        switch (lhs, rhs) {
        case (.v4(let a), .v4(let b)): (a.address, a.length) < (b.address, b.length)
        case (.v6(let a), .v6(let b)): (a.address, a.length) < (b.address, b.length)
        case (.v4, .v6): true
        case (.v6, .v4): false
        }
    }

    /// The prefix length.
    public var length: Int {
        switch self {
        case .v4(let prefix): prefix.length
        case .v6(let prefix): prefix.length
        }
    }

    /// True for 0.0.0.0/0 and ::/0.
    public var isDefault: Bool { length == 0 }

    public var description: String {
        switch self {
        case .v4(let prefix): prefix.description
        case .v6(let prefix): prefix.description
        }
    }
}
