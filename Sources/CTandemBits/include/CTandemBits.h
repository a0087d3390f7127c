// Bit counts for the LPM tables' rank operations, with the x86-64 POPCNT instruction whatever the compiler's
// target CPU; and a prefetch hint for their batch lookups.
//
// Why a C header: Swift's default x86-64 target (the 2003 baseline) has no POPCNT, so `nonzeroBitCount` becomes a
// dozen shifts, masks and a multiply. Asking the compiler for a newer CPU needs `-target-cpu`, an unsafe flag, and a
// package with unsafe flags in its library targets cannot be depended upon by version. An inline-assembly POPCNT
// needs no target feature: the assembler accepts it, and a `static inline` function from a C module is compiled into
// the Swift caller's code and inlined there like a Swift function (no call; see the disassembly check in
// docs/benchmarks.md). Every x86-64 CPU since 2008 (Nehalem, AMD K10; x86-64-v2) has the instruction; Tandem
// requires one, as it did when it was built for Nehalem. Elsewhere the compiler's own count is used (AArch64 always
// has one).
#ifndef C_TANDEM_BITS_H
#define C_TANDEM_BITS_H

#include <stdint.h>

/// The number of bits set in `value`.
static inline __attribute__((always_inline)) uint64_t CTandemBits_populationCount(uint64_t value) {
#if defined(__x86_64__)
    uint64_t count;
    // Zeroing the output first breaks the false dependency that Intel cores from Sandy Bridge to Coffee Lake give
    // POPCNT on its destination register (what compilers tuned for those cores do); the xor is a zero idiom, free.
    __asm__("xorl %k0, %k0\n\tpopcntq %1, %0" : "=&r"(count) : "r"(value) : "cc");
    return count;
#else
    return (uint64_t)__builtin_popcountll(value);
#endif
}

/// Asks the CPU to start loading the cache line at `address` into every cache level, without waiting for it: the
/// batch lookups issue one for each of their next reads, so that their cache misses overlap (Swift has no prefetch
/// of its own). A hint only: it never faults, whatever the address, and changes no result.
static inline __attribute__((always_inline)) void CTandemBits_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

/// Whether this CPU executes POPCNT (always 1 off x86-64). Asked once, when a table is made: a CPU without the
/// instruction gets an error that says so, not an illegal-instruction signal in the middle of a lookup.
int CTandemBits_cpuHasPopulationCount(void);

#endif
