// Speed figures of TandemRouting (issue 3, "Figures"):
//
//   cd Benchmarks && swift package --disable-sandbox benchmark --target RoutingBenchmarks
//
// - Failover: the time to publish a tunnel switch with the full table loaded (target <= 10 us), and the same
//   with an empty table (it must not grow with the table). One iteration = one switch; times in nanoseconds.
// - The pipeline (issue 4): 1 M packets per iteration through validation, routing, TTL and checksum; ns per
//   packet and packets per second, IPv4, IPv6, IMIX, and with 100 policy routes.
// - Forwarding decisions: one iteration = 1 M packets (scalingFactor .mega), so the scaled figures are ns per
//   packet: flow hash, policy routes, LPM, chain, group buckets, tunnel. With no policy route and with 100.

import Benchmark

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = Benchmark.Configuration(
        metrics: [.wallClock, .mallocCountTotal],
        timeUnits: .nanoseconds,
        warmupIterations: 10,
        maxDuration: .seconds(5),
        maxIterations: 20_000
    ).forAllocationCheck
    registerFailoverBenchmarks()
    registerDecisionBenchmarks()
    registerPipelineBenchmarks()
}
