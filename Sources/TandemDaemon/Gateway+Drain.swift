// An operator's drain: `tandem drain TUNNEL` moves a connection's traffic off a tunnel before maintenance, without a
// failure (the tunnel is down for selection, its probes go on, `show tunnels` says "drained"); `tandem undrain`
// makes it selectable again, and an undrained active tunnel that is up takes the traffic back at once (no preempt
// delay: an operator asked). A drain that would leave a connection without a tunnel is refused unless forced.
// Drains last across a reload (by tunnel name), not across a restart, unless the file says `drained: true`.

import TandemConfig
import TandemControl
import TandemJSON
import TandemRouting

extension Gateway {
    /// The answer to a request that changes the gateway (drain, undrain); nil for the others (GatewayView's).
    func answerChange(_ request: ControlRequest) -> ControlAnswer? {
        let result: Result<DrainOutcome, DaemonError>
        switch request.query {
        case .drain(let tunnel, let force): result = Result { () throws(DaemonError) in try drain(tunnel, force: force) }
        case .undrain(let tunnel): result = Result { () throws(DaemonError) in try undrain(tunnel) }
        default: return nil
        }
        switch result {
        case .success(let outcome): return ControlAnswer(text: request.json ? outcome.json + "\n" : outcome.text + "\n")
        case .failure(let error): return .error(error.description)
        }
    }

    /// What a drain or undrain did: the tunnel, its connection and the tunnel that carries the connection now.
    struct DrainOutcome: Hashable {
        var tunnel: String
        var drained: Bool
        /// False when the tunnel already was so.
        var changed: Bool
        var connection: String
        /// The tunnel carrying the connection's traffic now, or "none".
        var carrying: String

        /// "tunnel a1 drained: connection c1 now on a2".
        var text: String {
            let what = drained ? "drained" : "undrained"
            let on = carrying == "none" ? "carries no traffic" : "now on \(carrying)"
            return changed
                ? "tunnel \(tunnel) \(what): connection \(connection) \(on)"
                : "tunnel \(tunnel) is already \(what): connection \(connection) \(on)"
        }

        var json: String {
            var object = JSONObject()
            object.add("tunnel", tunnel)
            object.add("drained", drained)
            object.add("changed", changed)
            object.add("connection", connection)
            object.add("carrying", carrying == "none" ? nil : carrying)
            return object.rendered
        }
    }

    /// Drains the tunnel named.
    ///
    /// - Parameter force: Drain even when that leaves the connection without a tunnel.
    /// - Throws: ``DaemonError`` for an unknown tunnel, or a drain that leaves its connection without a tunnel.
    func drain(_ name: String, force: Bool = false) throws(DaemonError) -> DrainOutcome {
        let (tunnel, connection) = try placedTunnel(named: name)
        if !controller.isDrained(tunnel) && !force && controller.drainLeavesNoTunnel(tunnel) {
            let why: String
            if let standby = connection.standby {
                let other = standby == name ? connection.active : standby
                let otherDrained = config.tunnels.firstIndex { $0.name == other }.map {
                    controller.isDrained(TunnelID($0))
                } ?? false
                why = "the other tunnel of connection \(connection.name), \(other), is \(otherDrained ? "drained" : "down")"
            } else {
                why = "it is the only tunnel of connection \(connection.name)"
            }
            throw DaemonError(
                "tunnel \(name) not drained: \(why), so the connection would carry no traffic; "
                    + "add --force to drain it anyway")
        }
        return try setDrained(true, tunnel: tunnel, connection: connection)
    }

    /// Undrains the tunnel named.
    ///
    /// - Throws: ``DaemonError`` for an unknown tunnel.
    func undrain(_ name: String) throws(DaemonError) -> DrainOutcome {
        let (tunnel, connection) = try placedTunnel(named: name)
        return try setDrained(false, tunnel: tunnel, connection: connection)
    }

    private func setDrained(_ drained: Bool, tunnel: TunnelID, connection: GatewayConfig.Connection)
        throws(DaemonError) -> DrainOutcome
    {
        let changed = controller.isDrained(tunnel) != drained
        if changed {
            do {
                apply(
                    try state.controller.setDrained(
                        drained, for: tunnel, at: MonotonicInstant(nanoseconds: now), router: router))
            } catch {
                throw DaemonError("\(drained ? "draining" : "undraining") tunnel \(config.tunnels[tunnel.index].name): \(error)")
            }
        }
        let placement = controller.placement(of: tunnel)!
        let carrying = Self.tunnelName(controller.monitor(of: placement.connection).selected, of: connection)
        return DrainOutcome(
            tunnel: config.tunnels[tunnel.index].name, drained: drained, changed: changed, connection: connection.name,
            carrying: carrying)
    }

    /// The tunnel of this name and its connection.
    private func placedTunnel(named name: String) throws(DaemonError) -> (TunnelID, GatewayConfig.Connection) {
        guard let index = config.tunnels.firstIndex(where: { $0.name == name }) else {
            let names = config.tunnels.map(\.name).joined(separator: ", ")
            throw DaemonError("unknown tunnel '\(name)'; the tunnels are \(names)")
        }
        guard let (connection, _) = controller.placement(of: TunnelID(index)) else {
            throw DaemonError("tunnel \(name) is in no connection: it carries no traffic to drain")
        }
        return (TunnelID(index), config.connections[connection.index])
    }

    /// Drains, in `next` (a state being built at start or for a reload), the tunnels the file drains and those
    /// drained in `previous` (the state a reload replaces), by name. Logged, not refused: the file or the operator
    /// asked for it.
    func applyDrains(to next: inout GatewayState, keeping previous: GatewayState?) {
        for (index, tunnel) in next.config.tunnels.enumerated() {
            let kept = previous.map { old in
                old.config.tunnels.firstIndex { $0.name == tunnel.name }.map { old.controller.isDrained(TunnelID($0)) }
                    ?? false
            } ?? false
            guard tunnel.drained || kept else { continue }
            do {
                _ = try next.controller.setDrained(
                    true, for: TunnelID(index), at: MonotonicInstant(nanoseconds: now), router: next.router)
                log.info("tunnel \(tunnel.name) drained (\(tunnel.drained ? "drained: true in the file" : "still drained after the reload"))")
            } catch {
                log.error("draining tunnel \(tunnel.name): \(error)")
            }
        }
    }
}
