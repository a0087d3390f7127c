import TandemPacket

/// A policy-based route: traffic from `source` to `destination` (optionally of one protocol and a range of
/// destination ports) goes to `connection`, before any destination route is looked at.
///
/// Policy routes are evaluated by priority (1...100, smaller first; among equal priorities, in the order given).
/// Policy routes with the same match and priority form one ECMP set over their connections, by weight. When no
/// connection of a matching policy route is up, the next matching policy route is tried, then the destination
/// routes.
public struct PolicyRoute: Hashable, Sendable, CustomStringConvertible {
    /// What a policy route matches.
    public struct Match: Hashable, Sendable {
        public var source: RoutePrefix
        public var destination: RoutePrefix
        /// nil = any protocol.
        public var `protocol`: UInt8?
        /// Destination ports (inclusive), for TCP and UDP; nil = any.
        public var destinationPorts: ClosedRange<UInt16>?

        public init(
            source: RoutePrefix, destination: RoutePrefix, protocol: UInt8? = nil,
            destinationPorts: ClosedRange<UInt16>? = nil
        ) {
            self.source = source
            self.destination = destination
            self.protocol = `protocol`
            self.destinationPorts = destinationPorts
        }
    }

    public var match: Match
    /// 1...100, smaller first.
    public var priority: UInt8
    /// 0...100; 0 = standby within the set.
    public var weight: UInt8
    public var connection: ConnectionID

    public init(match: Match, priority: UInt8, weight: UInt8 = 100, connection: ConnectionID) {
        self.match = match
        self.priority = priority
        self.weight = min(weight, 100)
        self.connection = connection
    }

    public var description: String {
        var text = "from \(match.source) to \(match.destination)"
        if let proto = match.protocol { text += " proto \(proto)" }
        if let ports = match.destinationPorts { text += " dport \(ports.lowerBound)-\(ports.upperBound)" }
        return text + " priority \(priority) via \(connection) weight \(weight)"
    }
}
