/// What the forwarding plane decided for one packet.
public struct ForwardingDecision: Hashable, Sendable, CustomStringConvertible {
    /// Forward, or why not.
    public enum Outcome: UInt8, Hashable, Sendable {
        /// Send the packet through ``ForwardingDecision/tunnel``.
        case forward
        /// No policy route and no destination route matches (ICMP net unreachable).
        case noRoute
        /// A route matches, but every connection it could use is down (both tunnels of each).
        case connectionDown
    }

    /// Which kind of route decided.
    public enum Origin: Hashable, Sendable {
        /// A policy route (source and destination match), looked at before destination routes.
        case policy
        /// A destination route of this source.
        case destination(RouteSource)
        /// Nothing matched.
        case none
    }

    public var outcome: Outcome
    public var origin: Origin
    /// The next-hop group that was used (meaningless when nothing matched).
    public var group: GroupID
    /// The connection the flow hash chose in the group (meaningless unless forwarding or connection down).
    public var connection: ConnectionID
    /// The connection's selected tunnel (meaningless unless forwarding).
    public var tunnel: TunnelID

    @inlinable
    init(outcome: Outcome, origin: Origin, group: GroupID, connection: ConnectionID, tunnel: TunnelID) {
        self.outcome = outcome
        self.origin = origin
        self.group = group
        self.connection = connection
        self.tunnel = tunnel
    }

    /// The decision for a packet no route matches.
    @inlinable
    static var noRoute: ForwardingDecision {
        ForwardingDecision(
            outcome: .noRoute, origin: .none, group: GroupID(rawValue: 0), connection: ConnectionID(rawValue: 0),
            tunnel: TunnelID(rawValue: 0))
    }

    public var description: String {
        switch outcome {
        case .forward: "forward via \(tunnel) (\(connection), \(group), \(origin))"
        case .noRoute: "no route"
        case .connectionDown: "connection down (\(connection), \(group), \(origin))"
        }
    }
}
