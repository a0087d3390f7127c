/// Hands out runs of consecutive elements (nodes or leaves) inside a ``ReservedMemory``.
///
/// A poptrie node's children sit side by side, as do its leaves, so the writer asks for a run
/// of 1...66 elements at a time (a flat block is two bitmap words and up to 64 leaves). Freed runs go to a free list of their exact size and are
/// reused first; the high-water mark only grows. Only the writer uses this type.
struct BlockAllocator {
    /// Elements the reservation holds (a power of two).
    let capacity: Int
    /// Elements below this index have been handed out at least once (so their pages are committed).
    private(set) var highWater = 0
    /// Elements currently handed out.
    private(set) var inUse = 0
    private var freeRuns: [[UInt32]] = Array(repeating: [], count: 67)

    init(capacity: Int) {
        precondition(capacity > 0 && capacity & (capacity - 1) == 0, "capacity must be a power of two")
        self.capacity = capacity
    }

    /// Returns the index of the first of `count` consecutive free elements.
    mutating func allocate(_ count: Int) -> Int {
        precondition(count >= 1 && count <= 66)
        inUse += count
        if let index = freeRuns[count].popLast() { return Int(index) }
        let index = highWater
        highWater += count
        // The reservations hold over 200 full Internet tables: running out means a leak, not a big table.
        precondition(highWater <= capacity, "TandemLPM: node or leaf arena exhausted (\(capacity) elements)")
        return index
    }

    /// Gives back a run that `allocate(count)` returned.
    mutating func free(_ index: Int, count: Int) {
        inUse -= count
        freeRuns[count].append(UInt32(index))
    }
}
