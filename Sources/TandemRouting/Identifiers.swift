// Small typed indices for the objects the router keeps in flat arrays. The read side stores them in
// 32-bit words; the types keep a tunnel index from being passed where a connection is meant.

/// A connection's index in the router's configuration (the order of `connections`).
public struct ConnectionID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ index: Int) { rawValue = UInt32(index) }
    public var index: Int { Int(rawValue) }
    public var description: String { "connection#\(rawValue)" }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A tunnel's index in the router's configuration (the order of `tunnels`).
public struct TunnelID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ index: Int) { rawValue = UInt32(index) }
    public var index: Int { Int(rawValue) }
    public var description: String { "tunnel#\(rawValue)" }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A next-hop group's slot on the read side. Groups are shared by every route with the same next-hop set.
public struct GroupID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public var index: Int { Int(rawValue) }
    public var description: String { "group#\(rawValue)" }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A route chain's slot: the ordered candidate groups of a prefix. LPM values are chain ids.
/// Package-visible for kernel mode, which makes one kernel nexthop group per chain.
package struct ChainID: RawRepresentable, Hashable, Sendable {
    package var rawValue: UInt32
    package init(rawValue: UInt32) { self.rawValue = rawValue }
    package var index: Int { Int(rawValue) }
}
