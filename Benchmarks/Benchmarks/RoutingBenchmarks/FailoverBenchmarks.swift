// Failover: how long the control path takes to publish a tunnel state change.

import Benchmark
import TandemRouting

func registerFailoverBenchmarks() {
    for fullTable in [true, false] {
        let table = fullTable ? "full table" : "empty table"

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
