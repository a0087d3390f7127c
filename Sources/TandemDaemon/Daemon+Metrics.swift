// The daemon's side of the metrics: the endpoint of the `metrics` section, and the snapshot of what the daemon
// keeps, taken at each scrape (the pipeline counters are plain per-thread memory that the forwarder sums).

import Prometheus
import TandemConfig
import TandemDataplane
import TandemRouting

extension DaemonMetrics {
    /// The process's metrics, in swift-prometheus's default registry (the one `PrometheusMetricsFactory()`
    /// uses, so that metrics made through swift-metrics show up in the same exposition).
    public static let shared = DaemonMetrics(registry: PrometheusMetricsFactory.defaultRegistry)
}

extension Daemon {
    /// Opens the metrics endpoint if the configuration asks for one (at start, before capabilities are dropped).
    func startMetrics() throws(DaemonError) {
        guard let settings = config.metrics else { return }
        do {
            metricsServer = try MetricsServer(address: settings.address, port: settings.port) { [unowned self] in
                metricsExposition()
            }
        } catch {
            throw DaemonError(
                "\(error) (metrics.listen at \(settings.location(of: "listen"))); free the port or pick another")
        }
        log.info("metrics: serving http://\(settings.listen)/metrics")
    }

    /// The exposition of `GET /metrics`, with the values read at scrape time brought up to date.
    func metricsExposition() -> [UInt8] {
        metrics.update(metricsSnapshot())
        return metrics.exposition()
    }

    /// What the metrics read at scrape time: counters, health, routes, the kernel's refusals, dropped log lines.
    func metricsSnapshot() -> MetricsSnapshot {
        var snapshot = MetricsSnapshot()
        for (index, tunnel) in config.tunnels.enumerated() {
            var up = false
            if let (connection, role) = gateway.controller.placement(of: TunnelID(index)) {
                up = gateway.controller.monitor(of: connection).effectiveState(of: role) == .up
            }
            let id = TunnelID(index)
            snapshot.tunnels.append(
                .init(
                    name: tunnel.name, device: tunnel.device, up: up, linkUp: !gateway.controller.isLinkDown(id),
                    drained: gateway.controller.isDrained(id)))
        }
        for (index, connection) in config.connections.enumerated() {
            let selected: String? =
                switch gateway.controller.monitor(of: ConnectionID(index)).selected {
                case .active: connection.tunnels.first
                case .standby: connection.tunnels.count == 2 ? connection.tunnels[1] : nil
                case .none: nil
                }
            snapshot.connections.append(.init(name: connection.name, tunnels: connection.tunnels, selected: selected))
        }
        if let totals = forwarder?.summary {
            snapshot.pipeline = totals.pipeline
            snapshot.failedWrites = Int(truncatingIfNeeded: totals.failedWrites)
            snapshot.failedReplies = Int(truncatingIfNeeded: totals.failedReplies)
        }
        for source in RouteSource.allCases { snapshot.routes[source] = router.routeCount(source) }
        snapshot.refusedDefaults = router.counters.refusedDynamicDefaults
        snapshot.refusedOverQuota = router.counters.refusedDynamicOverQuota
        snapshot.waitingLearnedRoutes = gateway.state.overQuota.count
        snapshot.overlappingLearnedRoutes = gateway.state.overlaps.count
        snapshot.overlapsReported = gateway.overlapsReported
        snapshot.add(gateway.kernelStatus)
        snapshot.droppedLogLines = log.droppedLines
        snapshot.ingressQueueLength = ingressQueue?.length
        return snapshot
    }
}
