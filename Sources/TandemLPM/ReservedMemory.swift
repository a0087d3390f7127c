#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A fixed range of virtual address space that never moves and is never unmapped while
/// the table lives: the memory under the lock-free readers.
///
/// Why reserve instead of allocate: readers follow indices without taking locks, and a
/// reader that raced with the writer may follow a stale index into memory the writer has
/// since reused. That is harmless only if every index it can compute stays inside mapped
/// memory (indices are masked to the reservation, a power of two) and the memory is never
/// returned to the system. `MAP_NORESERVE` makes the reservation free: a page costs memory
/// only once the writer touches it, so `committedBytes` (the writer's high-water mark) is
/// what the table really uses. Untouched pages read as zeros.
///
/// The corresponding C calls are `mmap`, `madvise(MADV_HUGEPAGE)` and `munmap`.
package struct ReservedMemory: ~Copyable {
    package let base: UnsafeMutableRawPointer
    package let byteCount: Int

    /// Reserves `byteCount` bytes (rounded up to 2 MiB), zero-filled, asking for huge pages
    /// so that a large table costs few TLB entries.
    package init(byteCount requested: Int) {
        let hugePage = 2 << 20
        let byteCount = (max(requested, 1) + hugePage - 1) / hugePage * hugePage
        #if canImport(Darwin)
        let flags = MAP_PRIVATE | MAP_ANON
        #else
        let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE
        #endif
        let pointer = mmap(nil, byteCount, PROT_READ | PROT_WRITE, flags, -1, 0)
        guard let pointer, pointer != MAP_FAILED else {
            fatalError("TandemLPM: cannot reserve \(byteCount) bytes of address space: errno \(errno)")
        }
        #if os(Linux)
        // Advice only: without transparent huge pages the table still works, with more TLB misses.
        _ = madvise(pointer, byteCount, MADV_HUGEPAGE)
        #endif
        self.base = pointer
        self.byteCount = byteCount
    }

    deinit {
        munmap(base, byteCount)
    }
}
