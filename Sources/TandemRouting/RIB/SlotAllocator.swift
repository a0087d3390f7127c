/// Hands out slot indices of a read-side arena, reusing freed ones only after a quarantine.
///
/// A reader may have read a slot id (a chain from the LPM, a group from a chain word) just before the writer
/// freed it; if the slot were reused at once, that reader could follow the id into an unrelated object. Freed
/// slots therefore wait in a FIFO and are reused only when `quarantine` newer frees stand behind them (or the
/// arena is otherwise full), so a stale id keeps meaning what it meant for far longer than a lookup takes.
struct SlotAllocator {
    let capacity: Int
    let quarantine: Int
    private var next = 0
    private var freed: [Int] = []
    private var freedHead = 0

    init(capacity: Int, quarantine: Int) {
        self.capacity = capacity
        self.quarantine = quarantine
    }

    /// A free slot, or nil if the arena is full.
    mutating func allocate() -> Int? {
        let waiting = freed.count - freedHead
        if waiting > quarantine || (next == capacity && waiting > 0) {
            let slot = freed[freedHead]
            freedHead += 1
            if freedHead > 4096 && freedHead * 2 > freed.count {
                freed.removeFirst(freedHead)
                freedHead = 0
            }
            return slot
        }
        guard next < capacity else { return nil }
        defer { next += 1 }
        return next
    }

    /// Returns a slot.
    mutating func free(_ slot: Int) { freed.append(slot) }

    /// Slots in use.
    var used: Int { next - (freed.count - freedHead) }
}
