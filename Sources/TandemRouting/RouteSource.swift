// Where a route came from, and how that ranks it against routes for the same prefix.

/// The origin of a destination route. For the same prefix, a route from a higher-priority source wins.
///
/// The order is the gateway's fixed priority: specific (P0) > system (P1) > static (P2) > dynamic (P3).
/// The longest prefix always wins first; the source only decides among routes for the same prefix.
public enum RouteSource: UInt8, CaseIterable, Comparable, Sendable, CustomStringConvertible {
    /// P0: routes an operator pins for one prefix, above everything else.
    case specific = 0
    /// P1: routes the gateway derives from its own configuration (tunnel inside addresses, peers).
    case system = 1
    /// P2: destination routes written in the configuration.
    case `static` = 2
    /// P3: routes learned from a routing daemon (BGP through BIRD or FRR) through the kernel.
    case dynamic = 3

    /// The priority as the product writes it: 0 is the highest.
    public var priority: Int { Int(rawValue) }

    /// The name used in the configuration and in `show` output.
    public var description: String {
        switch self {
        case .specific: "specific"
        case .system: "system"
        case .static: "static"
        case .dynamic: "dynamic"
        }
    }

    /// Reads a source from its configuration name.
    public init?(name: String) {
        guard let match = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = match
    }

    public static func < (lhs: RouteSource, rhs: RouteSource) -> Bool { lhs.rawValue < rhs.rawValue }
}
