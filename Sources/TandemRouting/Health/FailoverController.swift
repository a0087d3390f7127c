// Drives a router's tunnel selection from probe results: the glue between the health logic (pure, with the
// time passed in) and the router (which publishes the selection to the forwarding plane).

/// One ``ConnectionMonitor`` per connection of a ``Router``, applying every selection change to the router.
///
/// The probes (a later layer) call ``record(_:for:at:)``; the event loop calls ``advance(to:)`` at
/// ``nextDeadline()``. Both return the monitors' events, for the log. Single-threaded, like the router.
public struct FailoverController {
    /// A monitor event with the connection and tunnel it concerns.
    public struct Event: Hashable, Sendable, CustomStringConvertible {
        public var connection: ConnectionID
        public var tunnel: TunnelID
        public var event: MonitorEvent
        public var description: String { "\(connection) \(tunnel): \(event)" }
    }

    private var monitors: [ConnectionMonitor]
    /// Per tunnel: its connection and role.
    private let placement: [TunnelID: (connection: ConnectionID, role: TunnelRole)]
    private let connections: [RouterConfiguration.Connection]

    /// Makes the monitors. `tunnels(connection)` gives each connection's health settings; the router's
    /// selection is set to what the monitors start with.
    ///
    /// - Throws: ``RoutingError`` if a settings list does not match its connection's number of tunnels.
    public init(
        router: Router, preemptDelay: (ConnectionID) -> Duration?, tunnels: (ConnectionID) -> ConnectionTunnels,
        at instant: MonotonicInstant
    ) throws(RoutingError) {
        connections = router.configuration.connections
        var placement: [TunnelID: (ConnectionID, TunnelRole)] = [:]
        var monitors: [ConnectionMonitor] = []
        for (index, connection) in connections.enumerated() {
            let id = ConnectionID(index)
            let settings = tunnels(id)
            switch (settings, connection.tunnels.count) {
            case (.single, 1), (.dual, 2): break
            default:
                throw .badConnection(connection.name, reason: "health settings do not match its number of tunnels")
            }
            placement[connection.tunnels[0]] = (id, .active)
            if connection.tunnels.count == 2 { placement[connection.tunnels[1]] = (id, .standby) }
            monitors.append(ConnectionMonitor(tunnels: settings, preemptDelay: preemptDelay(id), at: instant))
        }
        self.monitors = monitors
        self.placement = placement
        for index in monitors.indices { try apply(monitors[index].selected, to: ConnectionID(index), router: router) }
    }

    /// Records a probe result for a tunnel and applies any selection change to `router`.
    public mutating func record(_ result: ProbeResult, for tunnel: TunnelID, at instant: MonotonicInstant, router: Router)
        throws(RoutingError) -> [Event]
    {
        guard let (connection, role) = placement[tunnel] else { throw .unknownTunnel(tunnel) }
        let events = monitors[connection.index].record(result, for: role, at: instant)
        return try finish(events, connection: connection, router: router)
    }

    /// Fires the timers due by `instant` (preempt delays, hold-down releases) and applies their changes.
    public mutating func advance(to instant: MonotonicInstant, router: Router) throws(RoutingError) -> [Event] {
        var all: [Event] = []
        for index in monitors.indices {
            let events = monitors[index].advance(to: instant)
            if !events.isEmpty { all += try finish(events, connection: ConnectionID(index), router: router) }
        }
        return all
    }

    /// When ``advance(to:router:)`` must be called next; nil if no timer is pending.
    public func nextDeadline() -> MonotonicInstant? { monitors.compactMap { $0.nextDeadline() }.min() }

    /// The monitor of a connection (for `show`).
    public func monitor(of connection: ConnectionID) -> ConnectionMonitor { monitors[connection.index] }

    /// The connection a tunnel belongs to, and its role there.
    public func placement(of tunnel: TunnelID) -> (connection: ConnectionID, role: TunnelRole)? { placement[tunnel] }

    /// Feeds a tunnel probe results until its health state is `state` (at most 256), as if its health checks
    /// had failed (or succeeded) that many times in a row at `instant`: what-if runs fail and restore tunnels so.
    public mutating func force(_ tunnel: TunnelID, to state: HealthState, at instant: MonotonicInstant, router: Router)
        throws(RoutingError) -> [Event]
    {
        guard let (connection, role) = placement[tunnel] else { throw .unknownTunnel(tunnel) }
        var events: [Event] = []
        var attempts = 0
        while monitors[connection.index].healthState(of: role) != state && attempts < 256 {
            events += try record(state == .up ? .success : .failure(.error), for: tunnel, at: instant, router: router)
            attempts += 1
        }
        return events
    }

    /// Records the state of a tunnel's interface (see ``ConnectionMonitor/setLink(up:for:at:)``) and applies any
    /// selection change to `router`.
    public mutating func setLink(up: Bool, for tunnel: TunnelID, at instant: MonotonicInstant, router: Router)
        throws(RoutingError) -> [Event]
    {
        guard let (connection, role) = placement[tunnel] else { throw .unknownTunnel(tunnel) }
        let events = monitors[connection.index].setLink(up: up, for: role, at: instant)
        return try finish(events, connection: connection, router: router)
    }

    /// Drains or undrains a tunnel (see ``ConnectionMonitor/setDrained(_:for:at:)``) and applies any selection
    /// change to `router`.
    public mutating func setDrained(_ drained: Bool, for tunnel: TunnelID, at instant: MonotonicInstant, router: Router)
        throws(RoutingError) -> [Event]
    {
        guard let (connection, role) = placement[tunnel] else { throw .unknownTunnel(tunnel) }
        let events = monitors[connection.index].setDrained(drained, for: role, at: instant)
        return try finish(events, connection: connection, router: router)
    }

    /// Whether the tunnel is drained.
    public func isDrained(_ tunnel: TunnelID) -> Bool {
        guard let (connection, role) = placement[tunnel] else { return false }
        return monitors[connection.index].isDrained(role)
    }

    /// Whether the tunnel's interface is down.
    public func isLinkDown(_ tunnel: TunnelID) -> Bool {
        guard let (connection, role) = placement[tunnel] else { return false }
        return monitors[connection.index].isLinkDown(role)
    }

    /// Whether draining the tunnel would leave its connection without a tunnel to carry traffic: it is the only one,
    /// or the other one is down or drained.
    public func drainLeavesNoTunnel(_ tunnel: TunnelID) -> Bool {
        guard let (connection, role) = placement[tunnel] else { return false }
        let monitor = monitors[connection.index]
        guard monitor.mode == .dual else { return true }
        return monitor.selectableState(of: role == .active ? .standby : .active) == .down
    }

    private func finish(_ events: [MonitorEvent], connection: ConnectionID, router: Router) throws(RoutingError)
        -> [Event]
    {
        guard !events.isEmpty else { return [] }
        if events.contains(where: { if case .selectionChanged = $0.kind { true } else { false } }) {
            try apply(monitors[connection.index].selected, to: connection, router: router)
        }
        let tunnels = connections[connection.index].tunnels
        return events.map { Event(connection: connection, tunnel: tunnels[$0.tunnel == .active ? 0 : 1], event: $0) }
    }

    private func apply(_ selection: TunnelSelection, to connection: ConnectionID, router: Router) throws(RoutingError) {
        let tunnels = connections[connection.index].tunnels
        let tunnel: TunnelID? =
            switch selection {
            case .active: tunnels[0]
            case .standby: tunnels.count == 2 ? tunnels[1] : nil
            case .none: nil
            }
        try router.selectTunnel(tunnel, for: connection)
    }
}
