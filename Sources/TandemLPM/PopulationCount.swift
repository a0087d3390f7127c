internal import CTandemBits

extension UInt64 {
    /// The number of bits set, with the POPCNT instruction on x86-64 whatever CPU the compiler targets: the rank of a
    /// slot in a node's bitmap, counted on every step of every lookup. `nonzeroBitCount` emulates the instruction
    /// unless the package is built for a newer CPU than x86-64's baseline, which takes an unsafe flag
    /// (`CTandemBits.h` says why that is worth avoiding; docs/benchmarks.md has the measurement).
    @inline(__always)
    var populationCount: Int { Int(truncatingIfNeeded: CTandemBits_populationCount(self)) }
}
