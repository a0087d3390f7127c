// Failover: how long the control path takes to publish a tunnel state change.

import Benchmark
import TandemRouting

func registerFailoverBenchmarks() {
    for fullTable in [true, false] {
        let table = fullTable ? "full table" : "empty table"

        // The same switch as the daemon makes it on a probe-triggered failover: a probe of the selected tunnel
        // fails, FailoverController's monitor takes the tunnel down and moves the connection to its other tunnel
        // (events for the log, Router.selectTunnel). With downCount 1 and no preemption the two tunnels take turns;
        // bringing the other tunnel back up (a successful probe) is done outside the measurement.
        let probeName = "Failover: probe failure through FailoverController switches the pair (\(table))"
        Benchmark(probeName) { benchmark, fixture in
            let connection = ConnectionID(0)
            let selected = fixture.router.selectedTunnel(of: connection) ?? TunnelID(0)
            let other = selected == TunnelID(0) ? TunnelID(1) : TunnelID(0)
            fixture.now = fixture.now + .milliseconds(10)
            blackHole(try! fixture.controller.record(.success, for: other, at: fixture.now, router: fixture.router))
            fixture.now = fixture.now + .milliseconds(10)
            benchmark.startMeasurement()
            let events = try! fixture.controller.record(
                .failure(.timeout), for: selected, at: fixture.now, router: fixture.router)
            benchmark.stopMeasurement()
            precondition(
                fixture.router.selectedTunnel(of: connection) == other, "the probe failure did not switch: \(events)")
            blackHole(events)
        } setup: {
            ProbeFailoverFixture(router: makeRouter(fullTable: fullTable))
        }

        // A dual-tunnel connection switches between its active and standby tunnel: one store.
        Benchmark("Failover: tunnel switch in a pair (\(table))") { benchmark, router in
            let connection = ConnectionID(0)
            let next = router.selectedTunnel(of: connection) == TunnelID(0) ? TunnelID(1) : TunnelID(0)
            benchmark.startMeasurement()
            try! router.selectTunnel(next, for: connection)
            benchmark.stopMeasurement()
        } setup: {
            makeRouter(fullTable: fullTable)
        }

        // Both tunnels of connection 2 go down: it leaves its ECMP group (the group's buckets are rewritten).
        // Its return is done outside the measurement.
        Benchmark("Failover: connection leaves its ECMP group (\(table))") { benchmark, router in
            let connection = ConnectionID(2)
            benchmark.startMeasurement()
            try! router.selectTunnel(nil, for: connection)
            benchmark.stopMeasurement()
            try! router.selectTunnel(TunnelID(4), for: connection)
        } setup: {
            makeRouter(fullTable: fullTable)
        }

        // ...and comes back: it takes its share of buckets back.
        Benchmark("Failover: connection rejoins its ECMP group (\(table))") { benchmark, router in
            let connection = ConnectionID(2)
            try! router.selectTunnel(nil, for: connection)
            benchmark.startMeasurement()
            try! router.selectTunnel(TunnelID(4), for: connection)
            benchmark.stopMeasurement()
        } setup: {
            makeRouter(fullTable: fullTable)
        }
    }
}

/// A router and the FailoverController that drives it, as the daemon holds them, with the time of the last probe.
final class ProbeFailoverFixture {
    let router: Router
    var controller: FailoverController
    var now = MonotonicInstant.zero

    init(router: Router) {
        self.router = router
        let settings = TunnelHealthSettings(health: HealthCheckPolicy(downCount: 1, upCount: 1))
        do {
            controller = try FailoverController(
                router: router, preemptDelay: { _ in nil },
                tunnels: { _ in .dual(active: settings, standby: settings) }, at: .zero)
        } catch {
            fatalError("RoutingBenchmarks: \(error)")
        }
    }
}
