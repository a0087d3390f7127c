import Synchronization

/// The longest-prefix-match engine behind ``IPv4Table`` and ``IPv6Table``: a poptrie
/// (Asai and Ohara, SIGCOMM 2015) with direct pointing, written once for both key widths.
///
/// Layout, read side (see `TandemLPM.docc` for why this structure):
/// - `top`: 2^s slots, indexed by the first `s` bits of the key ("direct pointing"). A slot
///   is one 64-bit word: bit 63 says whether it points to a node; bits 32...62 are a sequence
///   number; bits 0...31 are either the value (no node) or the index of the slot's root node.
/// - Nodes: three 64-bit words each: `childBits` (bit v set: slot v of the next six key bits
///   continues in a child node), `leafBits` (bit v set: a new run of equal leaves starts at
///   slot v), and the two bases (child array index, leaf array index). Children of a node are
///   consecutive, so child v is `childBase + popcount(childBits & bits 0...v) - 1`; leaves
///   likewise. Values are pushed down to the leaves, so a lookup reads exactly one leaf.
///
/// Memory model (the reader never locks; one writer at a time):
/// - Every shared word is accessed through `Atomic` loads and stores, so no access is a data
///   race in the Swift/C++ memory model; on x86-64 and ARM64 relaxed accesses are plain moves.
/// - A top slot is a sequence lock over the subtree under it. The writer makes the slot's
///   sequence odd (relaxed store, then a release fence), edits the subtree in place, then
///   stores the new slot word with an even sequence (release). A reader loads the slot
///   (acquire), walks the subtree with relaxed loads, issues an acquire fence, reloads the
///   slot and accepts its answer only if the slot is unchanged and even; otherwise it retries.
///   So every answer is one the table gave at some instant: never torn.
/// - A slot without a node is answered from the single slot load: always consistent.
/// - Freed node and leaf runs are reused at once. A reader that still follows them is in a
///   slot whose sequence has moved, so its answer is thrown away; every index it computes is
///   masked into the reserved arena (``ReservedMemory``) so it can never leave mapped memory,
///   and the walk is bounded by the key width, so it always ends.
final class Poptrie<Key: LPMKey>: @unchecked Sendable {
    /// The value a leaf holds where no prefix matches.
    static var noValue: UInt32 { .max }

    /// Bits resolved by the top array.
    let directBits: Int
    /// The most nodes a lookup can visit below a top slot.
    let maxLevels: Int

    let top: UnsafeMutablePointer<Atomic<UInt64>>
    let nodeWords: UnsafeMutablePointer<Atomic<UInt64>>
    let leafWords: UnsafeMutablePointer<Atomic<UInt32>>
    let nodeMask: Int
    let leafMask: Int

    private let topMemory: ReservedMemory
    private let nodeMemory: ReservedMemory
    private let leafMemory: ReservedMemory
    var nodes: BlockAllocator
    var leaves: BlockAllocator

    static var hasNodeBit: UInt64 { 1 << 63 }
    static var sequenceUnit: UInt64 { 1 << 32 }
    static var sequenceMask: UInt64 { 0x7FFF_FFFF << 32 }

    init(directBits: Int, nodeCapacity: Int = 1 << 24, leafCapacity: Int = 1 << 26) {
        precondition(directBits >= 6 && directBits <= 24 && directBits < Key.bitWidth)
        self.directBits = directBits
        self.maxLevels = (Key.bitWidth - directBits + 5) / 6
        let slots = 1 << directBits
        topMemory = ReservedMemory(byteCount: slots * 8)
        nodeMemory = ReservedMemory(byteCount: nodeCapacity * 24)
        leafMemory = ReservedMemory(byteCount: leafCapacity * 4)
        top = topMemory.base.bindMemory(to: Atomic<UInt64>.self, capacity: slots)
        nodeWords = nodeMemory.base.bindMemory(to: Atomic<UInt64>.self, capacity: nodeCapacity * 3)
        leafWords = leafMemory.base.bindMemory(to: Atomic<UInt32>.self, capacity: leafCapacity)
        nodeMask = nodeCapacity - 1
        leafMask = leafCapacity - 1
        nodes = BlockAllocator(capacity: nodeCapacity)
        leaves = BlockAllocator(capacity: leafCapacity)
        for slot in 0..<slots { top[slot].store(UInt64(Self.noValue), ordering: .relaxed) }
    }

    // MARK: Read side

    /// The value of the longest prefix that matches `key`, or ``noValue``.
    @inline(__always)
    func lookup(_ key: Key) -> UInt32 {
        let slot = Int(truncatingIfNeeded: key &>> (Key.bitWidth - directBits))
        while true {
            let entry = top[slot].load(ordering: .acquiring)
            if entry & Self.hasNodeBit == 0 { return UInt32(truncatingIfNeeded: entry) }
            let value = walk(key, from: Int(truncatingIfNeeded: entry & 0xFFFF_FFFF))
            atomicMemoryFence(ordering: .acquiring)
            if top[slot].load(ordering: .relaxed) == entry && entry & Self.sequenceUnit == 0 { return value }
        }
    }

    /// Walks the nodes below a top slot. Never traps, whatever the words hold.
    @inline(__always)
    private func walk(_ key: Key, from root: Int) -> UInt32 {
        var node = root & nodeMask
        var depth = directBits
        for _ in 0..<maxLevels {
            let words = nodeWords + node &* 3
            let childBits = words[0].load(ordering: .relaxed)
            let slot = key.sixBits(at: depth)
            let bit: UInt64 = 1 &<< UInt64(slot)
            let upToSlot = (bit &<< 1) &- 1
            if childBits & bit != 0 {
                let childBase = Int(truncatingIfNeeded: words[2].load(ordering: .relaxed) & 0xFFFF_FFFF)
                node = (childBase &+ (childBits & upToSlot).nonzeroBitCount &- 1) & nodeMask
                depth &+= 6
            } else {
                let leafBits = words[1].load(ordering: .relaxed)
                let leafBase = Int(truncatingIfNeeded: words[2].load(ordering: .relaxed) &>> 32)
                let leaf = (leafBase &+ (leafBits & upToSlot).nonzeroBitCount &- 1) & leafMask
                return leafWords[leaf].load(ordering: .relaxed)
            }
        }
        return Self.noValue
    }

    /// Looks up `keys.count` keys into `values` (``noValue`` where nothing matches).
    @inline(__always)
    func lookup(_ keys: UnsafeBufferPointer<Key>, into values: UnsafeMutableBufferPointer<UInt32>) {
        precondition(values.count >= keys.count, "the result buffer is shorter than the key buffer")
        guard let keyBase = keys.baseAddress, let valueBase = values.baseAddress else { return }
        for index in 0..<keys.count {
            valueBase[index] = lookup(keyBase[index])
        }
    }

    // MARK: Write side: node words

    struct NodeWords {
        var childBits: UInt64 = 0
        var leafBits: UInt64 = 0
        var childBase: Int = 0
        var leafBase: Int = 0
    }

    func readNode(_ index: Int) -> NodeWords {
        let words = nodeWords + index * 3
        let bases = words[2].load(ordering: .relaxed)
        return NodeWords(
            childBits: words[0].load(ordering: .relaxed), leafBits: words[1].load(ordering: .relaxed),
            childBase: Int(bases & 0xFFFF_FFFF), leafBase: Int(bases >> 32))
    }

    func writeNode(_ index: Int, _ node: NodeWords) {
        let words = nodeWords + index * 3
        words[0].store(node.childBits, ordering: .relaxed)
        words[1].store(node.leafBits, ordering: .relaxed)
        words[2].store(UInt64(node.childBase) | UInt64(node.leafBase) << 32, ordering: .relaxed)
    }

    /// Returns the child arrays and leaf arrays below `node` to the allocators (not `node` itself).
    func freeBelow(_ node: NodeWords) {
        let childCount = node.childBits.nonzeroBitCount
        for child in 0..<childCount { freeBelow(readNode(node.childBase + child)) }
        if childCount > 0 { nodes.free(node.childBase, count: childCount) }
        let leafCount = node.leafBits.nonzeroBitCount
        if leafCount > 0 { leaves.free(node.leafBase, count: leafCount) }
    }

    // MARK: Write side: top slots and the sequence lock

    func topEntry(_ slot: Int) -> UInt64 { top[slot].load(ordering: .relaxed) }

    /// Marks the subtree under `slot` as being edited: readers of that slot retry until ``endWrite``.
    func beginWrite(_ slot: Int) {
        let entry = top[slot].load(ordering: .relaxed)
        let sequence = ((entry & Self.sequenceMask) &+ Self.sequenceUnit) & Self.sequenceMask
        top[slot].store(entry & ~Self.sequenceMask | sequence, ordering: .relaxed)
        atomicMemoryFence(ordering: .releasing)
    }

    /// Orders everything published so far before the writes that follow, for a subtree built in
    /// memory that no slot points to yet. That memory may have been freed by another slot's
    /// edit a moment ago; the fence guarantees that a reader who still walks it there and sees
    /// the new contents also sees that slot's new sequence, and retries.
    func beginFreshWrite() {
        atomicMemoryFence(ordering: .releasing)
    }

    /// Publishes the slot: a plain value, or a root node. Bumps the sequence to the next even number.
    func publish(_ slot: Int, value: UInt32? = nil, root: Int? = nil) {
        let entry = top[slot].load(ordering: .relaxed)
        // The next even sequence number: one step after beginWrite, two steps otherwise.
        var sequence = (entry & Self.sequenceMask) &+ Self.sequenceUnit
        if sequence & Self.sequenceUnit != 0 { sequence &+= Self.sequenceUnit }
        sequence &= Self.sequenceMask
        let payload: UInt64 = root.map { Self.hasNodeBit | UInt64($0) } ?? UInt64(value ?? Self.noValue)
        top[slot].store(sequence | payload, ordering: .releasing)
    }

    /// The root node index of `slot`, if it has one.
    func root(of slot: Int) -> Int? {
        let entry = topEntry(slot)
        return entry & Self.hasNodeBit != 0 ? Int(entry & 0xFFFF_FFFF) : nil
    }

    /// Bytes of memory the read side uses: the top array plus every node and leaf page the
    /// writer has touched.
    var readSideBytes: Int {
        (1 << directBits) * 8 + nodes.highWater * 24 + leaves.highWater * 4
    }
}
