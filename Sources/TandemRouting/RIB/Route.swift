import TandemPacket

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

/// A destination route: traffic for `prefix` goes to `connection`.
///
/// Routes for the same prefix rank by source (specific > system > static > dynamic), then by metric (lower
/// wins). Routes that tie on both form one ECMP next-hop set, spread by weight; weight 0 marks a standby path,
/// used only while every weighted path of the set is down.
public struct Route: Hashable, Sendable, CustomStringConvertible {
    public var prefix: RoutePrefix
    public var source: RouteSource
    public var connection: ConnectionID
    /// 0...100.
    public var weight: UInt8
    public var metric: UInt32

    public init(
        prefix: RoutePrefix, source: RouteSource, connection: ConnectionID, weight: UInt8 = 100, metric: UInt32 = 0
    ) {
        self.prefix = prefix
        self.source = source
        self.connection = connection
        self.weight = min(weight, 100)
        self.metric = metric
    }

    public var description: String {
        "\(prefix) \(source) via \(connection) weight \(weight) metric \(metric)"
    }
}
