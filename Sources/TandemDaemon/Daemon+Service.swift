// The daemon's side of systemd (ServiceNotifications): READY=1 when the start is over and the configured state is in
// the kernel, the STATUS= line from the gateway's state, and the watchdog pings at the end of each control-loop turn.

import TandemConfig
import TandemRouting

extension Daemon {
    /// The gateway said "ready" (its log line) during the start or, after refused changes, later from a retry:
    /// READY=1 goes once the start is over too, so that systemd's "ready" also means the probes and the pipeline
    /// threads run and the privileges are dropped (a few milliseconds after the log line).
    func gatewayReady() {
        if startFinished { service.ready() }
    }

    /// The end of the start: READY=1 if the kernel is already as configured, and the first STATUS=.
    func startEnded() {
        startFinished = true
        if gateway.isReady { service.ready() }
        updateServiceStatus()
    }

    /// End of a control-loop turn: the watchdog ping if due, STATUS= if it changed.
    func serviceTurn() {
        service.keepAlive()
        updateServiceStatus()
    }

    /// Sends STATUS= if the status changed (a cheap comparison each turn; the text only on a change).
    func updateServiceStatus() {
        guard service.channel != nil else { return }
        let status = currentServiceStatus
        guard status != lastServiceStatus else { return }
        lastServiceStatus = status
        service.status(status.text)
    }

    var currentServiceStatus: ServiceStatus {
        let controller = gateway.controller
        var up = 0
        for index in config.tunnels.indices {
            // A tunnel without a connection or health check carries traffic as far as Tandem knows.
            guard let (connection, role) = controller.placement(of: TunnelID(index)) else {
                up += 1
                continue
            }
            if controller.monitor(of: connection).effectiveState(of: role) == .up { up += 1 }
        }
        return ServiceStatus(
            mode: config.gateway.mode.rawValue, tunnelsUp: up, tunnels: config.tunnels.count,
            routes: gateway.state.remotePrefixes.count, lastFailover: lastFailover)
    }

    /// A connection's traffic moved: the time (local, as `systemctl status` prints its own) for STATUS=.
    func recordFailover(connection: String, from: String, to: String) {
        lastFailover = ServiceStatus.Failover(
            time: WallClock.now().localTimeOfDay, connection: connection, from: from, to: to)
    }
}
