// The allocation check (tools/lib/check-allocations) runs these benchmarks for their malloc counts only, which are
// exact: a few iterations give the same count as a hundred. It sets TANDEM_BENCHMARK_ALLOCATION_CHECK=1, and every
// configuration of this target goes through `forAllocationCheck` so that the check takes seconds per benchmark,
// not the ten a speed figure needs. Times from such a run mean nothing and are never asserted.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Benchmark

/// Whether this run is the allocation check (fewer, shorter iterations).
let isAllocationCheck = getenv("TANDEM_BENCHMARK_ALLOCATION_CHECK").map { String(cString: $0) == "1" } ?? false

extension Benchmark.Configuration {
    /// This configuration, cut to at most 2 s and 50 measured iterations during the allocation check. The warm-up
    /// iterations stay: a first iteration may allocate once (lazy buffers), which is not what the budget counts.
    var forAllocationCheck: Benchmark.Configuration {
        guard isAllocationCheck else { return self }
        var configuration = self
        configuration.maxDuration = min(configuration.maxDuration, .seconds(2))
        configuration.maxIterations = min(configuration.maxIterations, 50)
        configuration.warmupIterations = max(configuration.warmupIterations, 1)
        return configuration
    }
}
