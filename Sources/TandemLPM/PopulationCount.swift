internal import CTandemBits

extension UInt64 {
    /// The number of bits set, with the POPCNT instruction on x86-64 whatever CPU the compiler targets: the rank of a
    /// slot in a node's bitmap, counted on every step of every lookup. `nonzeroBitCount` emulates the instruction
    /// unless the package is built for a newer CPU than x86-64's baseline, which takes an unsafe flag
    /// (`CTandemBits.h` says why that is worth avoiding; docs/benchmarks.md has the measurement).
    @inline(__always)
    var populationCount: Int { Int(truncatingIfNeeded: CTandemBits_populationCount(self)) }
}

/// Stops with a message on an x86-64 CPU without POPCNT (older than Nehalem or K10, or an early Atom), where the
/// first lookup would die of an illegal instruction. Checked once per process, when the first table is made.
let populationCountIsAvailable: Void = {
    if CTandemBits_cpuHasPopulationCount() == 0 {
        fatalError("Tandem's lookup tables need the POPCNT instruction (x86-64-v2: Intel Nehalem, AMD K10 or later); this CPU has none")
    }
}()

/// Starts loading the cache line of `address` without waiting (a hint: never faults, whatever the address). The
/// batch lookups prefetch their next reads so that their cache misses overlap.
@inline(__always)
func prefetch(_ address: UnsafeRawPointer) { CTandemBits_prefetch(address) }
